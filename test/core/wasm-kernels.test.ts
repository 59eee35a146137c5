/**
 * The wasm kernels (src/core/wasm): the matMul replacement against tfjs's own kernel on every
 * shape class it takes or declines, autodiff through it, and the CSR / residual kernels against
 * their JS paths. Both engine variants (relaxed SIMD where available, plain SIMD) are checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { selectBackend } from '../../src/core/backend';
import { enableWasmMatMul, disableWasmMatMul, matMulStatus, resetMatMulCounters, MAX_B_BYTES } from '../../src/core/wasm/matmul';
import { wasmKernels, setKernelRequest, offsetOf } from '../../src/core/wasm/module';
import type { WasmBackendLike } from '../../src/core/wasm/module';
import { ELEMENTWISE } from '../../src/core/wasm/kernels-wat.mjs';
import type { Expr } from '../../src/core/wasm/kernels-wat.mjs';
import { csrGraph, csrRowSum, squaredResidual } from '../../src/core/kernels';
import { gemm, gemmScratchBytes, inPlacePanels } from '../../src/core/wasm/gemm';
import type { GemmOperands } from '../../src/core/wasm/gemm';
import { Rng } from '../../src/core/random';

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let scale = 1e-30;
  let d = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d / scale;
}

/** Run `f` with tfjs's kernels and with ours; return both results as arrays. */
function both(f: () => tf.Tensor | tf.Tensor[], variant: 'auto' | 'simd' = 'auto'): { tfjs: Float32Array[]; ours: Float32Array[]; calls: number; fallbacks: number } {
  const run = () => {
    const r = f();
    const list = Array.isArray(r) ? r : [r];
    const data = list.map((t) => t.dataSync() as Float32Array);
    tf.dispose(list);
    return data;
  };
  disableWasmMatMul();
  const tfjs = run();
  enableWasmMatMul(variant);
  resetMatMulCounters();
  const ours = run();
  const s = matMulStatus();
  return { tfjs, ours, calls: s.calls, fallbacks: s.fallbacks };
}

const rng = new Rng(2024);
const rand = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);

test('wasm matMul: matches tfjs on ragged shapes, transposes, bias, batches (both variants)', async () => {
  await selectBackend('wasm');
  assert.ok(matMulStatus().active, 'selectBackend(wasm) enables the kernel');
  for (const variant of ['auto', 'simd'] as const) {
    const cases: { M: number; K: number; N: number }[] = [
      { M: 1, K: 1, N: 1 }, { M: 3, K: 5, N: 7 }, { M: 4, K: 8, N: 8 }, { M: 5, K: 3, N: 9 }, { M: 9, K: 17, N: 13 },
      { M: 37, K: 64, N: 64 }, { M: 30, K: 78, N: 50 }, { M: 7, K: 50, N: 10 }, { M: 8, K: 2, N: 65 }, { M: 2, K: 0, N: 3 }, { M: 6, K: 1100, N: 9 },
      // B read in place (row-major, N a multiple of 8) over reduction blocks of 64, 64 and 22
      { M: 6, K: 150, N: 16 }, { M: 13, K: 150, N: 24 },
    ];
    for (const { M, K, N } of cases) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          const a = rand(tA ? [K, M] : [M, K]);
          const b = rand(tB ? [N, K] : [K, N]);
          const bias = rand([N]);
          // tfjs's reference for the fused product is matMul + add: its own wasm _FusedMatMul
          // gets transposeB with a bias wrong (rows after the first are off; found by this test).
          const r = both(() => [tf.matMul(a, b, tA, tB), tf.add(tf.matMul(a, b, tA, tB), bias)], variant);
          const fused = both(() => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeA: tA, transposeB: tB, bias }), variant);
          const what = `${variant} M=${M} K=${K} N=${N} tA=${tA} tB=${tB}`;
          if (K === 0) {
            // an empty sum: tfjs's XNNPACK call fails on K = 0 and leaves its output unwritten
            assert.ok(r.ours[0].every((v) => v === 0), `${what}: zeros`);
            assert.deepEqual(fused.ours[0], Float32Array.from({ length: M * N }, (_, i) => bias.dataSync()[i % N]), `${what}: the bias`);
          } else {
            assert.ok(maxRelDiff(r.ours[0], r.tfjs[0]) <= 1e-5, `${what}: matMul`);
            assert.ok(maxRelDiff(fused.ours[0], r.tfjs[1]) <= 1e-5, `${what}: fused with bias`);
          }
          assert.equal(r.calls + fused.calls, 3, `${what}: the products ran on the wasm gemm`);
          tf.dispose([a, b, bias]);
        }
      }
    }
    // fused activations it applies after the product, against tfjs's unfused ops
    {
      const a = rand([13, 9]);
      const b = rand([9, 11]);
      const bias = rand([11]);
      const acts = ['sigmoid', 'relu', 'relu6', 'elu'] as const;
      const ref = both(() => [tf.sigmoid(tf.add(tf.matMul(a, b), bias)), tf.relu(tf.add(tf.matMul(a, b), bias)), tf.relu6(tf.add(tf.matMul(a, b), bias)), tf.elu(tf.add(tf.matMul(a, b), bias))], variant);
      const fused = both(() => acts.map((activation) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation })), variant);
      acts.forEach((act, i) => assert.ok(maxRelDiff(fused.ours[i], ref.tfjs[i]) <= 1e-5, `${variant} fused ${act}`));
      assert.equal(fused.calls, 4);
      tf.dispose([a, b, bias]);
    }
    // batched: equal batches, a broadcast batch of one on either side, rank 4
    const a3 = rand([3, 6, 5]);
    const b3 = rand([3, 5, 9]);
    const b1 = rand([1, 5, 9]);
    const a1 = rand([1, 6, 5]);
    const a4 = rand([2, 3, 6, 5]);
    const b4 = rand([2, 3, 5, 4]);
    const rand3x6x9 = rand([3, 6, 9]);
    const r = both(() => [tf.matMul(a3, b3), tf.matMul(a3, b1), tf.matMul(a1, b3), tf.matMul(a4, b4), tf.matMul(a3, rand3x6x9, true, false)], variant);
    r.ours.forEach((o, i) => assert.ok(maxRelDiff(o, r.tfjs[i]) <= 1e-5, `${variant} batched product ${i}`));
    assert.equal(r.calls, 5);
    // batched with a transposed B, and a batched fused product with bias and activation
    const bt = rand([3, 9, 5]);
    const bias9 = rand([9]);
    const ref = both(() => [tf.matMul(a3, bt, false, true), tf.sigmoid(tf.add(tf.matMul(a3, b3), bias9))], variant);
    const fusedB = both(() => [tf.matMul(a3, bt, false, true), tf.fused.matMul({ a: a3 as tf.Tensor3D, b: b3 as tf.Tensor3D, bias: bias9, activation: 'sigmoid' })], variant);
    assert.ok(maxRelDiff(fusedB.ours[0], ref.tfjs[0]) <= 1e-5, `${variant} batched A·Bᵀ`);
    assert.ok(maxRelDiff(fusedB.ours[1], ref.tfjs[1]) <= 1e-5, `${variant} batched fused bias + sigmoid`);
    assert.equal(fusedB.calls, 2);
    assert.equal(wasmKernels(tf.backend())?.variant, variant === 'simd' ? 'simd' : matMulStatus().variant, 'the requested variant is the one that runs');
    tf.dispose([a3, b3, b1, a1, a4, b4, rand3x6x9, bt, bias9]);
  }
});

test('wasm matMul: declines what it does not do (large B, leaky ReLU) and tfjs computes those', async () => {
  await selectBackend('wasm');
  enableWasmMatMul();
  const K = 600;
  const N = Math.ceil(MAX_B_BYTES / 4 / K) + 1; // just over the size limit
  const a = rand([3, K]);
  const b = rand([K, N]);
  const small = rand([K, 4]);
  const r = both(() => [tf.matMul(a, b), tf.fused.matMul({ a: a as tf.Tensor2D, b: small as tf.Tensor2D, activation: 'leakyrelu', leakyreluAlpha: 0.1 })]);
  assert.equal(r.calls, 0);
  assert.equal(r.fallbacks, 2);
  assert.ok(maxRelDiff(r.ours[0], r.tfjs[0]) === 0 && maxRelDiff(r.ours[1], r.tfjs[1]) === 0, 'declined products are tfjs’s own');
  // mismatched inner sizes still get tfjs's error
  assert.throws(() => tf.matMul(rand([2, 3]), rand([4, 2])), /inner shapes|must match/);
  tf.dispose([a, b, small]);
});

test('wasm matMul: gradients (first and second order) agree with tfjs’s kernels, and nothing leaks', async () => {
  await selectBackend('wasm');
  const x = rand([40, 30]);
  const w1 = rand([30, 20]);
  const w2 = rand([20, 7]);
  const v = rand([30, 20]);
  const loss = (w: tf.Tensor) => tf.sum(tf.square(tf.matMul(tf.sigmoid(tf.matMul(x, w)), w2)));
  const f = () => {
    const g = tf.grad(loss)(w1);
    // Hessian-vector product: d/dw ⟨∇L(w), v⟩
    const hv = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.grad(loss)(w), v)))(w1);
    return [g, hv];
  };
  const r = both(f);
  assert.ok(r.calls > 4, `the gradient products ran on the wasm gemm (${r.calls})`);
  assert.ok(maxRelDiff(r.ours[0], r.tfjs[0]) <= 1e-5, 'gradient');
  assert.ok(maxRelDiff(r.ours[1], r.tfjs[1]) <= 1e-4, 'Hessian-vector product');
  const backend = tf.backend() as unknown as { numDataIds(): number };
  // also the paths with an activation after the product, and an empty inner dimension
  const e0 = tf.zeros([4, 0]);
  const e1 = tf.zeros([0, 3]);
  const extra = () => [tf.fused.matMul({ a: x as tf.Tensor2D, b: w1 as tf.Tensor2D, activation: 'relu' }), tf.matMul(e0, e1)];
  tf.dispose(extra());
  const before = { tensors: tf.memory().numTensors, ids: backend.numDataIds() };
  for (let i = 0; i < 5; i++) tf.dispose([...f(), ...extra()]);
  assert.deepEqual({ tensors: tf.memory().numTensors, ids: backend.numDataIds() }, before, 'no tensors or scratch buffers left behind');
  tf.dispose([x, w1, w2, v, e0, e1]);
});

test('wasm CSR row sum is bit-identical to the JS kernel; the residual agrees to float32', async () => {
  await selectBackend('wasm');
  assert.ok(wasmKernels(tf.backend()), 'kernels load on the wasm backend');
  const n = 300;
  const E = 2000;
  const src = Int32Array.from({ length: E }, () => rng.int(n));
  const dst = Int32Array.from({ length: E }, () => rng.int(n - 10)); // the last rows get no edges
  const g = csrGraph(src, dst, n);
  for (const D of [64, 7, 1]) {
    const x = rand([n, D]);
    const y = rand([n, D]);
    const run = () => {
      const a = csrRowSum(x, g);
      const b = csrRowSum(x, g, true);
      const out = [a.dataSync().slice(), b.dataSync().slice(), Float32Array.from(squaredResidual(x, y))];
      tf.dispose([a, b]);
      return out;
    };
    setKernelRequest('off');
    const js = run();
    setKernelRequest('auto');
    const wasm = run();
    assert.deepEqual(wasm[0], js[0], `A x, D=${D}`);
    assert.deepEqual(wasm[1], js[1], `Aᵀ x, D=${D}`);
    assert.ok(maxRelDiff(wasm[2], js[2]) <= 1e-6, `residual, D=${D}: ${wasm[2]} vs ${js[2]}`);
    tf.dispose([x, y]);
  }
  const big = tf.fill([5], 3e38);
  assert.equal(squaredResidual(big, tf.zerosLike(big))[0], Infinity);
  big.dispose();
});

test('the kernels module is loaded once per variant and reused (no rebuild per call)', async () => {
  await selectBackend('wasm');
  enableWasmMatMul('simd');
  const a = wasmKernels(tf.backend());
  assert.equal(a?.variant, 'simd');
  assert.equal(wasmKernels(tf.backend()), a, 'same instance on the next call');
  enableWasmMatMul('auto');
  const b = wasmKernels(tf.backend());
  assert.equal(wasmKernels(tf.backend()), b);
  assert.equal(matMulStatus().variant, b?.variant);
});

/** An `ELEMENTWISE` expression in float32 arithmetic, one rounding per operation. */
function evalF32(x: Expr, env: Record<string, number>): number {
  if (typeof x === 'number') return Math.fround(x);
  if (typeof x === 'string') return env[x];
  const [op, a, b] = x;
  const u = evalF32(a, env);
  const v = evalF32(b, env);
  return Math.fround(op === 'add' ? u + v : op === 'sub' ? u - v : u * v);
}

/** The wasm backend with this project's kernels loaded, and the heap offset of a tensor's data. */
async function wasmHeap() {
  await selectBackend('wasm');
  const k = wasmKernels(tf.backend());
  assert.ok(k, 'kernels loaded');
  const backend = tf.backend() as unknown as WasmBackendLike;
  const at = (t: tf.Tensor) => offsetOf(backend, { dataId: t.dataId, shape: t.shape, dtype: t.dtype } as tf.TensorInfo);
  return { k, at };
}

test('the elementwise, column-sum and softmax R-op kernels equal float32 arithmetic in JS (SIMD blocks and the scalar tail)', async () => {
  const { k, at } = await wasmHeap();
  const rng = new Rng(17);
  for (const n of [1, 7, 33]) {
    for (const def of ELEMENTWISE) {
      const ins = def.ins.map(() => tf.tensor1d(rng.normalArray(n)));
      const outs = def.outs.map(() => tf.zeros([n]));
      const scalars = (def.scalars ?? []).map(() => Math.fround(rng.normalArray(1)[0]));
      const fn = (k.fns as unknown as Record<string, (...a: number[]) => void>)[def.name];
      fn(...ins.map(at), ...outs.map(at), n, ...scalars);
      const inVals = ins.map((t) => t.dataSync());
      const got = outs.map((t) => t.dataSync());
      for (let i = 0; i < n; i++) {
        const env: Record<string, number> = {};
        def.ins.forEach((name, j) => (env[name] = inVals[j][i]));
        (def.scalars ?? []).forEach((name, j) => (env[name] = scalars[j]));
        for (const [name, x] of def.body) env[name] = evalF32(x, env);
        def.outs.forEach((name, j) => assert.equal(got[j][i], env[name], `${def.name} n=${n} [${i}] ${name}`));
      }
      tf.dispose([...ins, ...outs]);
    }
  }
  // an output may alias an input
  const a = tf.tensor1d([1, 2, 3, 4, 5]);
  k.fns.ew_scale(at(a), at(a), 5, 2);
  assert.deepEqual(Array.from(a.dataSync()), [2, 4, 6, 8, 10]);
  a.dispose();
  for (const [rows, cols] of [
    [3, 1],
    [5, 10],
    [4, 50],
  ]) {
    const x = tf.tensor2d(rng.normalArray(rows * cols), [rows, cols]);
    const p = tf.softmax(x);
    const pn = tf.mul(p, 0.25);
    const rz = tf.tensor2d(rng.normalArray(rows * cols), [rows, cols]);
    const sum = tf.zeros([cols]);
    const rop = tf.zeros([rows, cols]);
    k.fns.colsum(at(x), at(sum), rows, cols);
    k.fns.softmax_rop(at(p), at(pn), at(rz), at(rop), rows, cols);
    const [X, P, PN, RZ] = [x, p, pn, rz].map((t) => t.dataSync());
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let i = 0; i < rows; i++) s = Math.fround(s + X[i * cols + j]);
      assert.equal(sum.dataSync()[j], s, `colsum ${rows}×${cols} [${j}]`);
    }
    for (let i = 0; i < rows; i++) {
      let c = 0;
      for (let j = 0; j < cols; j++) c = Math.fround(c + Math.fround(P[i * cols + j] * RZ[i * cols + j]));
      for (let j = 0; j < cols; j++) assert.equal(rop.dataSync()[i * cols + j], Math.fround(PN[i * cols + j] * Math.fround(RZ[i * cols + j] - c)), `softmax_rop ${rows}×${cols} [${i},${j}]`);
    }
    tf.dispose([x, p, pn, rz, sum, rop]);
  }
});

test('read_sum (the bench\'s streaming read) sums every float of its bytes and nothing past them', async () => {
  const { k, at } = await wasmHeap();
  for (const n of [16, 64, 1024]) {
    // small integers: the sum is exact in float32 whatever the order; a sentinel after n floats
    const x = tf.tensor1d([...Array.from({ length: n }, (_, i) => (i % 7) - 3), 1000, 0]);
    k.fns.read_sum(at(x), n * 4, at(x) + (n + 1) * 4);
    const want = Array.from({ length: n }, (_, i) => (i % 7) - 3).reduce((s, v) => s + v, 0);
    assert.equal(x.dataSync()[n + 1], want, `n = ${n}`);
    x.dispose();
  }
});

// gemm() called directly, as the fused model kernels call it, with B read in place (row-major, N a
// multiple of 8: `inPlacePanels`) and its bias read in place too (matmul.ts always packs its bias,
// so only this test and citation-gnn's fused-vs-op checks reach that path). B and the bias are
// column blocks of wider arrays (row stride > 4·N, bias at an offset), A is read straight and
// transposed, C has its own row stride, K crosses the in-place reduction blocks (64), M is ragged;
// one ragged N (B and bias packed) runs the same checks on the packed path.
// Mutants tried (each failed this test, then reverted): gemmJob's in-place branch dropping the
// bias (`biasP: 0` with `bias` left out of its operands), and reading it one column on
// (`(g.bias ?? 0) + 4`): "B and bias in place M=1 K=1 N=8 … differs"; the bias added in every
// reduction block, not the first only: "… M=13 K=150 N=24 … differs".
test('gemm(): B and its bias read in place (ragged M, K over reduction blocks, strided A and C, accumulate) against float64', async () => {
  const { k, at } = await wasmHeap();
  const rng = new Rng(29);
  const cases = [
    { M: 1, K: 1, N: 8 },
    { M: 7, K: 63, N: 16 },
    { M: 13, K: 150, N: 24 },
    { M: 37, K: 64, N: 8 },
    { M: 6, K: 200, N: 11 }, // packed: N ragged
  ];
  for (const { M, K, N } of cases) {
    for (const tA of [false, true]) {
      for (const accumulate of [false, true]) {
        // B is columns [3, 3 + N) of a K × (N + 11) array; the bias floats [3, 3 + N) of N + 9
        const col0 = 3;
        const row = N + 11;
        const Bw = rng.normalArray(K * row);
        const biasW = rng.normalArray(N + 9);
        const A = rng.normalArray(M * K);
        const ldcF = N + 5; // C's rows 5 floats longer than N
        const C0 = rng.normalArray(M * ldcF);
        const tAt = tf.tensor1d(A);
        const tB = tf.tensor1d(Bw);
        const tBias = tf.tensor1d(biasW);
        const tC = tf.tensor1d(C0);
        const scratch = tf.zeros([gemmScratchBytes(K, N) / 4]);
        const sbk = row * 4;
        const g: GemmOperands = {
          a: at(tAt), sai: tA ? 4 : K * 4, sak: tA ? M * 4 : 4,
          b: at(tB) + col0 * 4, sbk, sbn: 4,
          c: at(tC), ldc: ldcF * 4, M, K, N,
          bias: at(tBias) + 3 * 4, accumulate,
        };
        const inPlace = inPlacePanels(g.b, g.sbk, g.sbn, N) !== undefined;
        assert.equal(inPlace, N % 8 === 0, `M=${M} K=${K} N=${N}: the path under test`);
        gemm(k, at(scratch), g);
        const got = tC.dataSync();
        for (let i = 0; i < M; i++) {
          for (let n = 0; n < ldcF; n++) {
            const what = `${inPlace ? 'B and bias in place' : 'packed'} M=${M} K=${K} N=${N} tA=${tA} accumulate=${accumulate} C[${i},${n}]`;
            if (n >= N) {
              assert.equal(got[i * ldcF + n], Math.fround(C0[i * ldcF + n]), `${what}: past N, untouched`);
              continue;
            }
            let want = biasW[3 + n] + (accumulate ? C0[i * ldcF + n] : 0);
            let mag = Math.abs(want);
            for (let q = 0; q < K; q++) {
              const a = Math.fround(A[tA ? q * M + i : i * K + q]);
              const b = Math.fround(Bw[q * row + col0 + n]);
              want += a * b;
              mag += Math.abs(a * b);
            }
            // float32 accumulation over K terms (and the bias and C): well inside (K + 2)·2⁻²³ of the magnitude
            assert.ok(Math.abs(got[i * ldcF + n] - want) <= (K + 2) * 2 ** -23 * mag + 1e-30, `${what} differs: ${got[i * ldcF + n]} vs ${want}`);
          }
        }
        tf.dispose([tAt, tB, tBias, tC, scratch]);
      }
    }
  }
});
