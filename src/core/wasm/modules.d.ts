/** The wasm kernels' bytes, base64, assembled at build time by scripts/wasm-plugin.mjs from ./kernels-wat.mjs. */
declare module 'rbp-wasm:kernels' {
  /** WebAssembly SIMD (f32x4.mul + f32x4.add). */
  export const simd: string;
  /** WebAssembly relaxed SIMD (f32x4.relaxed_madd). */
  export const relaxed: string;
}
