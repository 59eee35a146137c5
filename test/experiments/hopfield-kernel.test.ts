/**
 * The Hopfield step's streaming kernel (`stream_dot`, src/experiments/hopfield/kernel.ts) against
 * float64 sums and against the op path it replaces. Mutants this file caught (tried by hand):
 * the tail adding clamp before the mask product (first test, exact tail); the vector loop's end
 * rounded to 8 floats instead of 16, so K mod 16 in 8..15 read past the row (first test, K = 9);
 * the next row of X taken K bytes on instead of K·4 (first test, M = 2); the model passing
 * c = a instead of 1 − a (fourth test, a = 0.25: at a = 0.5 the two are equal); each row's products
 * up to its first 64-byte boundary taken apart from the vector loop, to align its loads (second
 * test: the sums changed with W's address; bench/README.md, "Bandwidth").
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { setKernelRequest, wasmKernels, offsetOf, type WasmBackendLike } from '../../src/core/wasm/module';
import { HopfieldSystem, HOPFIELD_DEFAULTS } from '../../src/experiments/hopfield/model';
import { hopfieldPatterns } from '../../src/experiments/hopfield/data';
import { STREAM_DOT, streamDot, streamDotAvailable } from '../../src/experiments/hopfield/kernel';
import { NaiveSolver } from '../../src/core/solvers/naive';
import { dispose } from '../../src/core/state';
import { Rng } from '../../src/core/random';
import { useBackend } from '../helpers/setup';

before(useBackend);
const wasm = () => tf.getBackend() === 'wasm';

const rng = new Rng(77);
const rand = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);

/** The kernel itself for any M (the op takes it only at M ≤ STREAM_MAX_ROWS). */
function kernel(x: tf.Tensor, w: tf.Tensor, tail: { sigmoidOf?: number; h?: tf.Tensor; c?: number; mask?: tf.Tensor; clamp?: tf.Tensor } = {}): Float32Array {
  const inputs: Record<string, tf.Tensor> = { x, w };
  for (const k of ['h', 'mask', 'clamp'] as const) if (tail[k]) inputs[k] = tail[k]!;
  const r = tf.engine().runKernel(STREAM_DOT, inputs as never, { c: tail.c ?? 1, sigmoidOf: tail.sigmoidOf } as never) as tf.Tensor;
  const v = r.dataSync() as Float32Array;
  r.dispose();
  return v;
}

/** got [M, N] = x [M, K] · wᵀ ([N, K]) within a float32 sum's error in any order: |error| ≤ K·ε·Σ|terms| (ε = 2⁻²⁴) of a float64 sum. */
function assertDotsWithin(got: Float32Array, xv: Float32Array, wv: Float32Array, [M, K, N]: number[], what: string): void {
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < N; j++) {
      let ref = 0;
      let mag = 0;
      for (let k = 0; k < K; k++) {
        ref += xv[m * K + k] * wv[j * K + k];
        mag += Math.abs(xv[m * K + k] * wv[j * K + k]);
      }
      assert.ok(Math.abs(got[m * N + j] - ref) <= K * 2 ** -24 * mag + 1e-30, `${what} [${m},${j}]: ${got[m * N + j]} vs ${ref}`);
    }
  }
}

test('stream_dot: x·wᵀ within float32 reduction error of a float64 sum, ragged K and N, several rows; σ(b·x) and the tail round as the tf ops', { skip: !wasm() && 'wasm only' }, () => {
  assert.ok(streamDotAvailable(1), 'the kernel runs on wasm');
  for (const M of [1, 2, 3]) {
    for (const K of [1, 3, 4, 9, 15, 16, 17, 24, 31, 64, 100]) {
      for (const N of [1, 5, 8]) {
        const x = rand([M, K]);
        const w = rand([N, K]);
        const h = rand([M, N]);
        const mask = rand([1, N]);
        const clamp = rand([M, N]);
        const [xv, wv, hv, mv, cv] = [x, w, h, mask, clamp].map((t) => t.dataSync() as Float32Array);
        const plain = kernel(x, w);
        const what = `M=${M} K=${K} N=${N}`;
        assertDotsWithin(plain, xv, wv, [M, K, N], what);
        // the tail: + c·h, then ⊙ mask + clamp, each a float32 operation on the kernel's own sum
        const c = 0.375;
        const tailed = kernel(x, w, { h, c, mask, clamp });
        const onlyH = kernel(x, w, { h, c });
        const onlyMask = kernel(x, w, { mask, clamp });
        const f = Math.fround;
        for (let i = 0; i < M * N; i++) {
          const j = i % N;
          const withH = f(plain[i] + f(hv[i] * c));
          assert.equal(onlyH[i], withH, `${what} + c·h [${i}]`);
          assert.equal(onlyMask[i], f(f(plain[i] * mv[j]) + cv[i]), `${what} ⊙ mask + clamp [${i}]`);
          assert.equal(tailed[i], f(f(withH * mv[j]) + cv[i]), `${what} full tail [${i}]`);
        }
        // σ(b·x) first: the same numbers as the product of tfjs's own σ(b·x)
        const s = tf.tidy(() => tf.sigmoid(tf.mul(x, 0.75)));
        assert.deepEqual(kernel(x, w, { sigmoidOf: 0.75, h, c, mask, clamp }), kernel(s, w, { h, c, mask, clamp }), `${what} σ(b·x)`);
        tf.dispose([x, w, h, mask, clamp, s]);
      }
    }
  }
});

test('stream_dot: the same sums bit for bit wherever W and x lie mod 64 (tfjs places tensors at 8-byte boundaries), within float32 reduction error of a float64 sum', { skip: !wasm() && 'wasm only' }, () => {
  const backend = tf.backend() as unknown as WasmBackendLike;
  const wk = wasmKernels(backend)!;
  // K = 18, 34, 50, 130 (K ≡ 2 mod 4) put the rows of W alternately at 0 and 8 mod 16, odd K at every
  // 4 bytes; K = 2592 is the Hopfield row (a kernel that aligned its loads by shifting them two floats
  // back and rotating its sums into place was tried with this test: bench/README.md, "Bandwidth")
  const N = 3;
  for (const [M, K] of [1, 3, 9, 15, 16, 17, 18, 31, 34, 47, 50, 64, 100, 130].flatMap((K) => [[1, K], [2, K]]).concat([[1, 2592]])) {
    const xv = Float32Array.from({ length: M * K }, () => rng.normal());
    const wv = Float32Array.from({ length: N * K }, () => rng.normal());
    const space = tf.zeros([N * K + M * K + M * N + 64]);
    const base = Math.ceil(offsetOf(backend, space as unknown as tf.TensorInfo) / 64) * 64;
    let first: Float32Array | undefined;
    for (let r = 0; r < 16; r++) {
      // W at base + 4r (r floats past a boundary), x right after it at another offset mod 64, out after x
      const w = base + 4 * r;
      const x = w + 4 * (N * K + ((r * 7) % 16));
      const out = x + 4 * M * K;
      const heap = new Float32Array(wk.memory.buffer);
      heap.set(wv, w / 4);
      heap.set(xv, x / 4);
      wk.fns.stream_dot(x, w, out, M, K, N, 0, 0, 0, 0, 0);
      const got = new Float32Array(wk.memory.buffer, out, M * N).slice();
      // a sum order that followed the address (say, a row's products up to its first 64-byte
      // boundary taken apart to align the vector loads) would change a resumed run's numbers
      // with where W_s landed: run/checkpoint.test's step-for-step resume caught that one
      first ??= got;
      assert.deepEqual(got, first, `M=${M} K=${K}: W at ${w % 64} mod 64 and at 0 give different sums`);
      assertDotsWithin(got, xv, wv, [M, K, N], `M=${M} K=${K}, W at ${w % 64} mod 64`);
    }
    space.dispose();
  }
});

test('streamDot: bad shapes get one clear error; off the kernel (kernels off) it is the tf ops', () => {
  const x = rand([1, 6]);
  const w = rand([4, 6]);
  assert.throws(() => streamDot(x, rand([4, 5])), /x \[M, K\] and w \[N, K\]/);
  assert.throws(() => streamDot(x, w, { mask: rand([1, 4]) }), /mask and clamp come together/);
  assert.throws(() => streamDot(x, w, { h: rand([2, 4]) }), /h and clamp must be \[M, N\]/);
  const mask = rand([1, 4]);
  const clamp = rand([1, 4]);
  setKernelRequest('off');
  try {
    assert.equal(streamDotAvailable(1), false);
    const got = streamDot(x, w, { mask, clamp });
    const want = tf.tidy(() => tf.add(tf.mul(tf.matMul(x, w, false, true), mask), clamp));
    assert.deepEqual(got.dataSync(), want.dataSync());
    tf.dispose([got, want]);
  } finally {
    setKernelRequest('auto');
  }
  tf.dispose([x, w, mask, clamp]);
});

/** Run `f` on the op path (wasm kernels off) and on the kernel path. */
function bothPaths<T>(f: () => T): { op: T; fast: T } {
  setKernelRequest('off');
  let op: T;
  try {
    op = f();
  } finally {
    setKernelRequest('auto');
  }
  return { op, fast: f() };
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let s = 1e-30;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

test('the Hopfield forward pass, step, J v and Jᵀz on the kernel equal the op path to float32 reduction order (full size; a = 1 and a = 0.25)', { skip: !wasm() && 'wasm only' }, () => {
  const images = hopfieldPatterns(2);
  for (const a of [1, 0.25]) {
    const sys = new HopfieldSystem({ ...HOPFIELD_DEFAULTS, a, initScale: 0.02 }, [images[1]]);
    const h0 = sys.initialState();
    const solver = new NaiveSolver();
    const run = () => {
      const r = solver.solve(sys, h0, { maxSteps: 5 });
      const lin = sys.linearize(r.h, sys.params as tf.Tensor[], 0, 'unroll');
      const v = tf.tidy(() => tf.sin(r.h[0]));
      const out = [r.h[0], lin.jvp([v])[0], lin.vjp([v])[0]].map((t) => t.dataSync() as Float32Array);
      lin.dispose();
      dispose(r.h, [v]);
      return out;
    };
    const { op, fast } = bothPaths(run);
    ['forward', 'J v', 'Jᵀz'].forEach((what, i) => assert.ok(relDiff(fast[i], op[i]) <= 1e-5, `a=${a} ${what}: ${relDiff(fast[i], op[i])}`));
    dispose(h0);
    sys.dispose();
  }
});

test('the step takes the kernel (no matMul) at one image, and the op path under a gradient tape and for a batch', { skip: !wasm() && 'wasm only' }, async () => {
  const images = hopfieldPatterns(3);
  const one = new HopfieldSystem({ ...HOPFIELD_DEFAULTS, nIn: 784, nHid: 64 }, [images[0]]);
  const three = new HopfieldSystem({ ...HOPFIELD_DEFAULTS, nIn: 784, nHid: 64 }, images);
  const kernelsOf = async (f: () => tf.Tensor | tf.Tensor[]) => (await tf.profile(() => f())).kernelNames;
  const stepOf = (sys: HopfieldSystem) => () => {
    const h = sys.initialState();
    const r = sys.step(h, sys.params as tf.Tensor[], 0, 'unroll');
    dispose(h);
    return r;
  };
  const k1 = await kernelsOf(stepOf(one));
  assert.ok(k1.includes(STREAM_DOT) && !k1.some((k) => /MatMul/.test(k)), `one image: ${k1.join(' ')}`);
  const k3 = await kernelsOf(stepOf(three));
  assert.ok(!k3.includes(STREAM_DOT) && k3.some((k) => /MatMul/.test(k)), `three images: ${k3.join(' ')}`);
  const taped = await kernelsOf(() => {
    const h = one.initialState();
    const g = tf.grad((w: tf.Tensor) => tf.sum(one.step(h, [w], 0, 'unroll')[0]))(one.W);
    dispose(h);
    return g;
  });
  assert.ok(!taped.includes(STREAM_DOT), `under a tape: ${taped.join(' ')}`);
  one.dispose();
  three.dispose();
});
