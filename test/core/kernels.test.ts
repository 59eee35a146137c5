import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { selectBackend } from '../../src/core/backend';
import { registerGraphKernels, restoreOriginalKernels, graphKernelsActive, gatherRows, segmentSumRows, csrGraph, csrRowSum, squaredResidual, registerFusedKernels, CSR_KERNEL, RESIDUAL_KERNEL, stateNorm } from '../../src/core/kernels';
import { norm } from '../../src/core/state';
import { residualNorms } from '../../src/core/solvers/naive';
import { Rng } from '../../src/core/random';

function randInts(rng: Rng, n: number, lo: number, hi: number): Int32Array {
  return Int32Array.from({ length: n }, () => lo + rng.int(hi - lo));
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 1e-12;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol * scale)) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tol ${tol} × ${scale})`);
    }
  }
}

/** Plain-JS gather of rows: out[i] = x[idx[i]]. */
function refGatherRows(x: Float32Array, D: number, idx: Int32Array): Float32Array {
  const out = new Float32Array(idx.length * D);
  idx.forEach((r, i) => out.set(x.subarray(r * D, (r + 1) * D), i * D));
  return out;
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`graph kernels on ${backend}: forward and gradients match a one-hot matMul reference`, async () => {
    await selectBackend(backend);
    registerGraphKernels();
    registerGraphKernels(); // idempotent
    assert.ok(graphKernelsActive(backend), 'the JS kernels are registered');
    const rng = new Rng(7);
    const N = 37;
    const D = 5;
    const E = 150;
    const S = 23;
    const xv = rng.normalArray(N * D);
    const idx = randInts(rng, E, 0, N);
    const seg = randInts(rng, E, -1, S); // includes -1: dropped, as in TensorFlow
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.tensor2d(xv, [N, D]);
      const idxT = tf.tensor1d(idx, 'int32');
      const segT = tf.tensor1d(seg, 'int32');
      const gatherHot = tf.cast(tf.oneHot(idxT, N), 'float32'); // E×N
      const segHot = tf.cast(tf.oneHot(segT, S), 'float32'); // E×S, a zero row for -1

      // gather forward
      const g = tf.gather(x, idxT);
      assert.deepEqual(g.shape, [E, D]);
      assertClose(g.dataSync(), tf.matMul(gatherHot, x).dataSync(), 1e-6, 'gather forward');
      assertClose(g.dataSync(), refGatherRows(xv, D, idx), 0, 'gather forward vs JS');
      assertClose(gatherRows(x, idx).dataSync(), refGatherRows(xv, D, idx), 0, 'gatherRows');

      // gather gradient
      const W = tf.tensor2d(rng.normalArray(E * D), [E, D]);
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.gather(a, idxT), W)))(x);
      const dxRef = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.matMul(gatherHot, a), W)))(x);
      assertClose(dx.dataSync(), dxRef.dataSync(), 1e-5, 'gather gradient');

      // unsortedSegmentSum forward
      const m = tf.tensor2d(rng.normalArray(E * D), [E, D]);
      const s = tf.unsortedSegmentSum(m, segT, S);
      assert.deepEqual(s.shape, [S, D]);
      const sRef = tf.matMul(segHot, m, true, false);
      assertClose(s.dataSync(), sRef.dataSync(), 1e-5, 'segment sum forward');
      assertClose(segmentSumRows(m, seg, S).dataSync(), sRef.dataSync(), 1e-5, 'segmentSumRows');

      // unsortedSegmentSum gradient
      const V = tf.tensor2d(rng.normalArray(S * D), [S, D]);
      const dm = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.unsortedSegmentSum(a, segT, S), V)))(m);
      const dmRef = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.matMul(segHot, a, true, false), V)))(m);
      assertClose(dm.dataSync(), dmRef.dataSync(), 1e-5, 'segment sum gradient');

      // A message-passing step end to end: h → gather(src) → segment sum(dst), gradient w.r.t. h.
      const src = randInts(rng, E, 0, N);
      const dst = randInts(rng, E, 0, N);
      const srcHot = tf.cast(tf.oneHot(tf.tensor1d(src, 'int32'), N), 'float32');
      const dstHot = tf.cast(tf.oneHot(tf.tensor1d(dst, 'int32'), N), 'float32');
      const U = tf.tensor2d(rng.normalArray(N * D), [N, D]);
      const f = (h: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.tanh(segmentSumRows(gatherRows(h, src), dst, N)), U));
      const fRef = (h: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.tanh(tf.matMul(dstHot, tf.matMul(srcHot, h), true, false)), U));
      assertClose(tf.grad(f)(x).dataSync(), tf.grad(fRef)(x).dataSync(), 1e-5, 'message passing gradient');

      // Second order (Hessian-vector product, as the double-VJP JVP trick needs), with a cubic model.
      const segX = tf.tensor1d(seg.subarray(0, E), 'int32'); // has -1 entries: exercises the masked path
      const segXHot = tf.cast(tf.oneHot(segX, N), 'float32');
      const q = (h: tf.Tensor): tf.Tensor => {
        const z = segmentSumRows(gatherRows(h, src), segX, N);
        return tf.sum(tf.mul(tf.mul(tf.mul(z, z), z), U));
      };
      const qRef = (h: tf.Tensor): tf.Tensor => {
        const z = tf.matMul(segXHot, tf.matMul(srcHot, h), true, false);
        return tf.sum(tf.mul(tf.mul(tf.mul(z, z), z), U));
      };
      const v = tf.tensor2d(rng.normalArray(N * D), [N, D]);
      const hvp = (fn: (h: tf.Tensor) => tf.Tensor): Float32Array =>
        tf.grad((h: tf.Tensor) => tf.sum(tf.mul(tf.grad(fn)(h), v)))(x).dataSync() as Float32Array;
      assertClose(hvp(q), hvp(qRef), 1e-4, 'Hessian-vector product');
    });
    assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
  });

  test(`graph kernels on ${backend}: general shapes, dtypes and errors`, async () => {
    await selectBackend(backend);
    registerGraphKernels();
    const rng = new Rng(11);
    tf.tidy(() => {
      // rank 3, axis 1
      const xv = rng.normalArray(2 * 4 * 3);
      const x = tf.tensor3d(xv, [2, 4, 3]);
      const g = tf.gather(x, tf.tensor1d([3, 0, 3], 'int32'), 1);
      assert.deepEqual(g.shape, [2, 3, 3]);
      const exp: number[] = [];
      for (const b of [0, 1]) for (const i of [3, 0, 3]) for (let k = 0; k < 3; k++) exp.push(xv[b * 12 + i * 3 + k]);
      assertClose(g.dataSync(), exp, 0, 'gather axis 1');

      // batchDims = 1: out[b, j] = x[b, idx[b, j]]
      const xb = tf.tensor2d([10, 11, 12, 20, 21, 22], [2, 3]);
      const gb = tf.gather(xb, tf.tensor2d([2, 0, 1, 1], [2, 2], 'int32'), 1, 1);
      assert.deepEqual(gb.shape, [2, 2]);
      assert.deepEqual(Array.from(gb.dataSync()), [12, 10, 21, 21]);

      // 2-D indices on axis 0, int32 and bool data
      const xi = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32');
      const gi = tf.gather(xi, tf.tensor2d([2, 0, 1, 2], [2, 2], 'int32'));
      assert.equal(gi.dtype, 'int32');
      assert.deepEqual(gi.shape, [2, 2, 2]);
      assert.deepEqual(Array.from(gi.dataSync()), [5, 6, 1, 2, 3, 4, 5, 6]);
      const gbool = tf.gather(tf.tensor1d([true, false, true], 'bool'), tf.tensor1d([1, 2], 'int32'));
      assert.equal(gbool.dtype, 'bool');
      assert.deepEqual(Array.from(gbool.dataSync()), [0, 1]);
      // an empty gather
      assert.deepEqual(tf.gather(xi, tf.tensor1d([], 'int32')).shape, [0, 2]);

      // out-of-range index: a clear error, not garbage
      assert.throws(() => tf.gather(xi, tf.tensor1d([3], 'int32')), /index value 3 is not in \[0, 2\]/);
      assert.throws(() => tf.gather(xi, tf.tensor1d([-1], 'int32')), /index value -1/);

      // segment sum with rank-2 segment ids over a rank-3 x, int32 data
      const xs = tf.tensor3d(Int32Array.from({ length: 2 * 3 * 2 }, (_, i) => i), [2, 3, 2], 'int32');
      const ss = tf.unsortedSegmentSum(xs, tf.tensor2d([0, 2, 0, 2, 5, -1], [2, 3], 'int32') as unknown as tf.Tensor1D, 3);
      assert.deepEqual(ss.shape, [3, 2]);
      // rows: 0:[0,1] 1:[2,3] 2:[4,5] 3:[6,7] 4:[8,9] 5:[10,11]; ids 0,2,0,2,(5 dropped),(-1 dropped)
      assert.deepEqual(Array.from(ss.dataSync()), [0 + 4, 1 + 5, 0, 0, 2 + 6, 3 + 7]);
      // 1-D x
      assert.deepEqual(Array.from(tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4]), tf.tensor1d([1, 1, 0, 3], 'int32'), 4).dataSync()), [3, 3, 0, 4]);
      assert.throws(() => tf.unsortedSegmentSum(xs, tf.tensor1d([0, 1, 0], 'int32'), 3), /must be a prefix/);
    });
  });
}

test('graph kernels agree with the original cpu kernels (axis, batchDims, segment sum)', async () => {
  await selectBackend('cpu');
  const cases = (): { shape: number[]; data: number[] }[] =>
    tf.tidy(() => {
      const r = new Rng(5);
      const x = tf.tensor3d(r.normalArray(3 * 5 * 4), [3, 5, 4]);
      return [
        tf.gather(x, tf.tensor1d(randInts(r, 7, 0, 3), 'int32'), 0),
        tf.gather(x, tf.tensor2d(randInts(r, 6, 0, 5), [2, 3], 'int32'), 1),
        tf.gather(x, tf.tensor1d(randInts(r, 3, 0, 4), 'int32'), -1),
        tf.gather(x, tf.tensor2d(randInts(r, 9, 0, 5), [3, 3], 'int32'), 1, 1),
        tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, 2], 'int32'), 4),
        tf.unsortedSegmentSum(tf.reshape(x, [15, 4]), tf.tensor1d(randInts(r, 15, 0, 6), 'int32'), 6),
      ].map((t) => ({ shape: t.shape, data: Array.from(t.dataSync()) }));
    });
  registerGraphKernels(['cpu']);
  restoreOriginalKernels(['cpu']);
  assert.ok(!graphKernelsActive('cpu'));
  const orig = cases();
  registerGraphKernels(['cpu']);
  assert.ok(graphKernelsActive('cpu'));
  const ours = cases();
  assert.equal(ours.length, orig.length);
  ours.forEach((o, i) => {
    assert.deepEqual(o.shape, orig[i].shape, `case ${i} shape`);
    assertClose(o.data, orig[i].data, 1e-6, `case ${i}`);
  });
});

test('graph kernel timing, N=2708, E=10858, D=64 (printed, not asserted)', async () => {
  const N = 2708;
  const E = 10858;
  const D = 64;
  const rng = new Rng(1);
  const src = randInts(rng, E, 0, N);
  const dst = randInts(rng, E, 0, N);
  const hv = rng.normalArray(N * D);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const time = (f: () => tf.Tensor, reps = 7): number => {
    // (tidy must not return the typed array: it would walk all its elements looking for tensors)
    tf.tidy(() => {
      f().dataSync();
    }); // warm-up
    const ts: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      tf.tidy(() => {
        f().dataSync();
      });
      ts.push(performance.now() - t0);
    }
    return median(ts);
  };
  for (const backend of ['cpu', 'wasm'] as const) {
    await selectBackend(backend);
    registerGraphKernels();
    const h = tf.tensor2d(hv, [N, D]);
    const s = tf.tensor1d(src, 'int32');
    const d = tf.tensor1d(dst, 'int32');
    const m = tf.gather(h, s);
    const step = (x: tf.Tensor): tf.Tensor => tf.unsortedSegmentSum(tf.gather(x, s), d, N);
    const gather = time(() => tf.gather(h, s));
    const segsum = time(() => tf.unsortedSegmentSum(m, d, N));
    const fwd = time(() => step(h));
    const grad = time(() => tf.grad((x: tf.Tensor) => tf.sum(tf.square(step(x))))(h));
    restoreOriginalKernels([backend]);
    const gatherOrig = time(() => tf.gather(h, s), 3);
    registerGraphKernels([backend]);
    console.log(
      `[kernels ${backend}] gather ${gather.toFixed(2)} ms (tfjs's own: ${gatherOrig.toFixed(2)} ms), ` +
        `segment sum ${segsum.toFixed(2)} ms, gather+segsum ${fwd.toFixed(2)} ms, its gradient ${grad.toFixed(2)} ms`,
    );
    tf.dispose([h, s, d, m]);
  }
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`fused CSR row-sum kernel on ${backend}: equals gather + segment sum bit for bit, gradient and second order`, async () => {
    await selectBackend(backend);
    registerGraphKernels();
    registerFusedKernels();
    const rng = new Rng(21);
    const N = 41;
    const D = 13; // not a multiple of the 8-lane unroll
    const E = 170;
    const src = randInts(rng, E, 0, N);
    const dst = randInts(rng, E, 0, N - 3); // the last nodes have no in-edges
    src[1] = src[0]; // a duplicate edge
    dst[1] = dst[0];
    const g = csrGraph(src, dst, N);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.tensor2d(rng.normalArray(N * D), [N, D]);
      const U = tf.tensor2d(rng.normalArray(N * D), [N, D]);
      const v = tf.tensor2d(rng.normalArray(N * D), [N, D]);
      const s = tf.tensor1d(src, 'int32');
      const d = tf.tensor1d(dst, 'int32');
      const ref = (h: tf.Tensor, t = false) => (t ? tf.unsortedSegmentSum(tf.gather(h, d), s, N) : tf.unsortedSegmentSum(tf.gather(h, s), d, N));
      for (const t of [false, true]) {
        const got = csrRowSum(x, g, t);
        assert.deepEqual(got.shape, [N, D]);
        assert.deepEqual(Array.from(got.dataSync()), Array.from(ref(x, t).dataSync()), `${t ? 'Aᵀ' : 'A'} x, bit for bit`);
        const f = (fn: (h: tf.Tensor) => tf.Tensor) => (h: tf.Tensor) => tf.sum(tf.mul(tf.mul(tf.square(fn(h)), fn(h)), U));
        const fast = f((h) => csrRowSum(h, g, t));
        const slow = f((h) => ref(h, t));
        assertClose(tf.grad(fast)(x).dataSync(), tf.grad(slow)(x).dataSync(), 1e-5, `${t ? 'Aᵀ' : 'A'}: gradient`);
        const hvp = (fn: (h: tf.Tensor) => tf.Tensor) => tf.grad((h: tf.Tensor) => tf.sum(tf.mul(tf.grad(fn)(h), v)))(x).dataSync();
        assertClose(hvp(fast), hvp(slow), 1e-5, `${t ? 'Aᵀ' : 'A'}: Hessian-vector product`);
      }
      // rank 3 rows, and the fallback through gather + segment sum when the kernel is not registered
      const x3 = tf.tensor3d(rng.normalArray(N * 2 * 3), [N, 2, 3]);
      const want = tf.unsortedSegmentSum(tf.gather(x3, s), d, N).dataSync();
      assert.deepEqual(Array.from(csrRowSum(x3, g).dataSync()), Array.from(want), 'rank 3');
      const config = tf.getKernel(CSR_KERNEL, backend)!;
      tf.unregisterKernel(CSR_KERNEL, backend);
      try {
        assert.deepEqual(Array.from(csrRowSum(x3, g).dataSync()), Array.from(want), 'fallback');
      } finally {
        tf.registerKernel(config);
      }
      assert.throws(() => csrRowSum(tf.zeros([N - 1, D]), g), /rows/);
    });
    assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
    assert.throws(() => csrGraph(Int32Array.from([0, 5]), Int32Array.from([1, 2]), 5), /not in \[0, 5\)/);
  });

  test(`fused squared residual on ${backend} equals the tf-op norms (and overflow still reads as Infinity)`, async () => {
    await selectBackend(backend);
    const rng = new Rng(4);
    const a = [tf.tensor2d(rng.normalArray(300), [20, 15]), tf.tensor1d(rng.normalArray(7))];
    const b = [tf.tensor2d(rng.normalArray(300), [20, 15]), tf.tensor1d(rng.normalArray(7))];
    const [d2, n2] = squaredResidual(a[0], b[0]);
    const ref = tf.tidy(() => [tf.sum(tf.square(tf.sub(a[0], b[0]))).dataSync()[0], tf.sum(tf.square(a[0])).dataSync()[0]]);
    assert.ok(Math.abs(d2 - ref[0]) <= 1e-5 * ref[0] && Math.abs(n2 - ref[1]) <= 1e-5 * ref[1], `${d2}, ${n2} vs ${ref}`);
    const r = residualNorms(a, b);
    const abs = Math.sqrt(a.reduce((s, x, i) => s + tf.tidy(() => tf.sum(tf.square(tf.sub(x, b[i]))).dataSync()[0]), 0));
    const nrm = Math.sqrt(a.reduce((s, x) => s + tf.tidy(() => tf.sum(tf.square(x)).dataSync()[0]), 0));
    assert.ok(Math.abs(r.abs - abs) <= 1e-5 * abs && Math.abs(r.rel - abs / nrm) <= 1e-5 * (abs / nrm), `residualNorms ${JSON.stringify(r)} vs ${abs}, ${abs / nrm}`);
    // stateNorm (BPTT's term norms): the fused pass where the kernel is, tf ops without it; both the norm over every tensor
    // (mutant: only the first tensor's sum of squares)
    const want = norm(a);
    assert.ok(Math.abs(stateNorm(a) - want) <= 1e-6 * want, `stateNorm ${stateNorm(a)} vs ${want}`);
    const configs = [RESIDUAL_KERNEL, CSR_KERNEL].map((k) => tf.getKernel(k, backend)!); // fusedKernelsAvailable() asks for the CSR kernel
    for (const c of configs) tf.unregisterKernel(c.kernelName, backend);
    try {
      assert.equal(stateNorm(a), want, 'without the fused kernels: norm itself');
    } finally {
      for (const c of configs) tf.registerKernel(c);
    }
    const big = tf.fill([4], 1e25);
    assert.equal(squaredResidual(big, tf.zerosLike(big))[0], Infinity);
    tf.dispose([...a, ...b, big]);
  });
}
