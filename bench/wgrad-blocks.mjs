// The GNN weight-gradient product Rᵀ·P (64×2708 · 2708×64, R and P row-major [2708, 64], C written
// 3·64 floats apart as into ∂W) on this project's wasm `gemm` (relaxed SIMD), B read in place, fed in
// reduction blocks of KC rows as src/core/wasm/gemm.ts does: GFLOP/s of CPU time, best of 7 rounds of
// 60 products, with the operands warm in cache or (COLD=1) after a 64 MiB write that evicts them.
// Standalone (no build): node --experimental-wasm-relaxed-simd bench/wgrad-blocks.mjs
//   env: KCS=32,64,128 (the blocks to try), COLD=1, SETS=n (operand pairs taken in turn)
import * as path from 'path';
import { fileURLToPath } from 'url';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { default: wabtInit } = await import(path.join(root, 'node_modules/wabt/index.js'));
const { kernelsWat } = await import(path.join(root, 'src/core/wasm/kernels-wat.mjs'));
const wabt = await wabtInit();
const features = { simd: true, relaxed_simd: true, bulk_memory: true, threads: true };
const mod = wabt.parseWat('k.wat', kernelsWat({ relaxed: true }), features);
mod.validate(features);
const bin = mod.toBinary({}).buffer;
const memory = new WebAssembly.Memory({ initial: 2000 });
const { instance } = await WebAssembly.instantiate(bin, { env: { memory } });
const f = instance.exports;
const N = 2708, D = 64;
const SETS = Number(process.env.SETS ?? 1);
const bytes = N * D * 4;
const f32 = new Float32Array(memory.buffer);
let at = 1 << 16;
const sets = [];
for (let s = 0; s < SETS; s++) {
  const R = at; at += bytes; const P = at; at += bytes;
  for (let i = 0; i < N * D; i++) { f32[R / 4 + i] = Math.random() - 0.5; f32[P / 4 + i] = Math.random() - 0.5; }
  sets.push({ R, P });
}
const C = at; at += D * 3 * D * 4;
const flush = at; at += 64 << 20; // 64 MiB to evict caches
const variants = {
  gemm: (kc) => (R, P) => {
    for (let k0 = 0; k0 < N; k0 += kc) f.gemm(R + k0 * D * 4, P + k0 * D * 4, C, 0, D, Math.min(kc, N - k0), D, 4, D * 4, k0 > 0 ? 2 : 0, 32, D * 4, 3 * D * 4);
  },
};
const ref = new Float64Array(D * D);
{ const { R, P } = sets[0]; for (let k = 0; k < N; k++) for (let i = 0; i < D; i++) { const r = f32[R / 4 + k * D + i]; for (let j = 0; j < D; j++) ref[i * D + j] += r * f32[P / 4 + k * D + j]; } }
const kcs = (process.env.KCS ?? '32,64,128').split(',').map(Number);
const cold = process.env.COLD === '1';
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };
const res = {};
for (let round = 0; round < 7; round++) {
  for (const [name, mk] of Object.entries(variants)) for (const kc of kcs) {
    const run = mk(kc);
    const key = `${name} kc ${kc}`;
    // check
    run(sets[0].R, sets[0].P);
    let err = 0; for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) err = Math.max(err, Math.abs(f32[C / 4 + i * 3 * D + j] - ref[i * D + j]));
    if (err > 1e-3) throw new Error(`${key}: err ${err}`);
    let ms = 0; const reps = 60;
    for (let r = 0; r < reps; r++) {
      if (cold) new Uint8Array(memory.buffer, flush, 64 << 20).fill(r);
      const { R, P } = sets[r % SETS];
      const t0 = cpu(); run(R, P); ms += cpu() - t0;
    }
    const g = (2 * D * N * D) / (ms / reps) / 1e6;
    res[key] = Math.max(res[key] ?? 0, g);
  }
}
const os = await import('os');
console.log(`load ${os.loadavg()[0].toFixed(1)}, operands ${cold ? 'evicted before each product' : 'warm'}, ${SETS} pair(s)`);
for (const [k, v] of Object.entries(res)) console.log(k, v.toFixed(1), 'GFLOP/s (best of 7 rounds of 60)');
