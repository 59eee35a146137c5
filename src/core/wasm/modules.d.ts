/** The wasm kernels' bytes, base64, assembled at build time by scripts/wasm-plugin.mjs from ./kernels-wat.mjs. */
declare module 'rbp-wasm:kernels' {
  /** WebAssembly SIMD (f32x4.mul + f32x4.add). */
  export const simd: string;
  /** WebAssembly relaxed SIMD (f32x4.relaxed_madd). */
  export const relaxed: string;
  /** The same two with the memory import declared shared (tfjs's threaded build, the kernel pool). */
  export const simdShared: string;
  export const relaxedShared: string;
}
