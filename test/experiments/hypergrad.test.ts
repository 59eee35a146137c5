/**
 * The hyperparameter-optimisation experiment at a small size (synthetic 20-d data, MLP 20-12-12-5,
 * T = 8 SGD steps of batch 20): the BPTT hypergradient against finite differences, TBPTT(K = T) =
 * BPTT, the analytic fast path against generic autodiff, every method finite, and meta-iterations
 * that lower the meta-loss.
 */
import { test, before } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { tf, Tensor } from '../../src/core/tf';
import { selectBackend } from '../../src/core/backend';
import { getMethod, methodNames } from '../../src/core/gradients';
import { genericLinearization, lossGradients } from '../../src/core/system';
import { compareGrads } from '../../src/core/metrics';
import { NaiveSolver } from '../../src/core/solvers/naive';
import { dispose } from '../../src/core/state';
import { Rng } from '../../src/core/random';
import { HypergradSystem, HYPERGRAD_DEFAULTS, HypergradOptions } from '../../src/experiments/hypergrad/model';
import { FusedMlpPoint, MlpPoint, mlpPass } from '../../src/experiments/hypergrad/mlp';
import { packTheta } from '../../src/experiments/hypergrad/layout';
import { fusedAvailable, fusedMomentum, fusedPoint } from '../../src/experiments/hypergrad/fused';
import { syntheticDataset, loadHypergradMnist, BatchSchedule } from '../../src/experiments/hypergrad/data';
import { createHypergradSession } from '../../src/experiments/hypergrad/experiment';
import { loadExperiment } from '../../src/experiments';
import type { RbpConfig } from '../../src/config/load';
import { assertMethodsAgree, assertNoLeaks, assertSameLinearization } from '../helpers/checks';

before(async () => {
  await selectBackend('wasm');
});

const data = syntheticDataset(100, 20, 5, 7);
const T = 8;
const small: Partial<HypergradOptions> = { sizes: [20, 12, 12, 5], batchSize: 20, seed: 3 };

function makeSystem(extra: Partial<HypergradOptions> = {}): HypergradSystem {
  return new HypergradSystem({ ...HYPERGRAD_DEFAULTS, ...small, ...extra }, data);
}

/** The meta-loss L(θ_T) of a plain T-step unroll at the current hyperparameters. */
function metaLoss(sys: HypergradSystem, steps = T): number {
  const h0 = sys.initialState();
  const r = new NaiveSolver().solve(sys, h0, { maxSteps: steps });
  const l = sys.loss(r.h, []);
  const v = l.dataSync()[0];
  dispose(h0, r.h, [l]);
  return v;
}

function randomLike(xs: Tensor[], rng: Rng): Tensor[] {
  return xs.map((x) => tf.tensor(rng.normalArray(x.size), x.shape));
}

function relDiff(a: Tensor[], b: Tensor[]): number {
  return compareGrads(a, b).relErr;
}

/** Skip a test of the fused kernels where they do not load (another backend, RBP_LAB_WASM_KERNELS=off). */
function skipWithoutFused(t: TestContext): boolean {
  if (fusedAvailable()) return false;
  t.skip('the wasm kernels are not loaded on this backend');
  return true;
}

/** The analytic fast path's three implementations: fused wasm kernels, ops with the JS kernels, ops alone. */
const FAST_PATHS: { name: string; opts: Partial<HypergradOptions>; fused: boolean }[] = [
  { name: 'fused kernels', opts: {}, fused: true },
  { name: 'ops + JS kernels', opts: { fusedKernels: false }, fused: false },
  { name: 'ops only', opts: { jsKernels: false }, fused: false },
];

test('the MNIST data: 10,000 digits of 784 pixels, mean-centred, all ten classes', () => {
  const ds = loadHypergradMnist();
  assert.equal(ds.n, 10000);
  assert.equal(ds.d, 784);
  assert.equal(ds.x.length, 10000 * 784);
  const counts = new Array(10).fill(0);
  ds.labels.forEach((l) => counts[l]++);
  assert.ok(counts.every((c) => c > 800), `class counts ${counts}`);
  let maxMean = 0;
  let maxAbs = 0;
  for (let j = 0; j < ds.d; j++) {
    let s = 0;
    for (let i = 0; i < ds.n; i++) s += ds.x[i * ds.d + j];
    maxMean = Math.max(maxMean, Math.abs(s / ds.n));
  }
  for (let i = 0; i < ds.x.length; i++) maxAbs = Math.max(maxAbs, Math.abs(ds.x[i]));
  assert.ok(maxMean < 1e-5, `per-pixel mean ${maxMean}`);
  assert.ok(maxAbs <= 1 && maxAbs > 0.5, `values in [-1, 1] after centring (max |x| ${maxAbs})`);
});

test('the batch schedule: a fixed seeded permutation per epoch, every image once per epoch', () => {
  const s1 = new BatchSchedule(100, 20, new Rng(5));
  const s2 = new BatchSchedule(100, 20, new Rng(5));
  const seen = new Set<number>();
  for (let t = 0; t < 5; t++) s1.indices(t).forEach((i) => seen.add(i));
  assert.equal(seen.size, 100);
  assert.deepEqual(Array.from(s2.indices(7)), Array.from(s1.indices(7)));
  assert.notDeepEqual(Array.from(s1.indices(5)), Array.from(s1.indices(0)), 'a new permutation each epoch');
  // Indices of later epochs do not depend on the order they are asked for.
  const s3 = new BatchSchedule(100, 20, new Rng(5));
  assert.deepEqual(Array.from(s3.indices(12)), Array.from(s1.indices(12)));
});

test('the hand-written Hessian-vector product equals double-backward autodiff (fused kernels, ops with and without JS kernels)', () => {
  for (const path of FAST_PATHS) {
    const sys = makeSystem({ initScale: 0.5, ...path.opts });
    assert.equal(sys.fastContext.fused, path.fused && fusedAvailable(), `${path.name}: fused`);
    const rng = new Rng(21);
    const h0 = sys.initialState();
    const theta = h0[0];
    const batch = sys.batchFor(3, 'unroll');
    const pt = mlpPass(theta, batch, sys.fastContext);
    const [u] = randomLike([theta], rng);
    const fast = pt.hvp(u);
    // Reference: H u = ∇_θ ⟨∇_θ L(θ), u⟩ by generic autodiff through the safe activations.
    // With α = 1, β = 0 a step is θ' = θ − ∇L(θ), m' = −∇L(θ): Jᵀ(0, z_m) gives −H z_m in its θ part.
    const sysGeneric = makeSystem({ initScale: 0.5, analytic: false, lr0: 0, mom0: -30 });
    const lin = genericLinearization(sysGeneric, h0, sysGeneric.params, 3, 'unroll');
    const zero = tf.zerosLike(theta);
    const r = lin.vjp([zero, u]);
    const ref = tf.neg(r[0]);
    const e = relDiff([fast], [ref]);
    assert.ok(e < 1e-4, `${path.name}: HVP rel err ${e}`);
    // A second product at the same point (cached intermediates) is right too.
    const [u2] = randomLike([theta], rng);
    const fast2 = pt.hvp(u2);
    const r2 = lin.vjp([zero, u2]);
    const ref2 = tf.neg(r2[0]);
    const e2 = relDiff([fast2], [ref2]);
    assert.ok(e2 < 1e-4, `${path.name}: second HVP rel err ${e2}`);
    // And the gradient the point keeps is the autodiff gradient.
    const g = tf.tidy(() => packTheta(tf.grads((...th: Tensor[]) => sysGeneric.batchLoss(th, batch))(sysGeneric.thetaOf(h0))));
    assert.ok(relDiff([pt.grad], [g]) < 1e-5, `${path.name}: gradient`);
    pt.dispose();
    dispose(h0, [u, u2, fast, fast2, zero, ref, ref2, g], r, r2);
    lin.dispose();
    sys.dispose();
    sysGeneric.dispose();
  }
});

test('the fused kernels equal the op path on the real MLP (784-50-50-50-10): gradient, loss, HVPs, update, adjoint', (t) => {
  if (skipWithoutFused(t)) return;
  const data = loadHypergradMnist(); // read only by the systems
  // the dense x in both (the sparse inputs are held to this fused dense path in hypergrad-sparse.test.ts)
  const sys = new HypergradSystem({ ...HYPERGRAD_DEFAULTS, sparseInputs: 'off' }, data);
  const ops = new HypergradSystem({ ...HYPERGRAD_DEFAULTS, fusedKernels: false }, data);
  const rng = new Rng(8);
  const theta = tf.tensor1d(rng.normalArray(sys.layout.N, 0.3));
  // minibatch (K = 200 in Xᵀδ) and the full set (K = 10,000: the reduction is blocked differently)
  for (const [batch, opBatch, tol] of [
    [sys.batchFor(5, 'unroll'), ops.batchFor(5, 'unroll'), 1e-6],
    [sys.fullBatch, ops.fullBatch, 2e-5],
  ] as const) {
    const f = new FusedMlpPoint(theta, batch, sys.fastContext, true);
    const o = new MlpPoint(theta, opBatch, ops.fastContext, true);
    const eg = relDiff([f.grad], [o.grad]);
    assert.ok(eg <= tol, `n=${batch.n}: gradient rel err ${eg}`);
    assert.ok(Math.abs(f.lossValue!.dataSync()[0] - o.lossValue!.dataSync()[0]) <= 1e-6 * Math.abs(o.lossValue!.dataSync()[0]), `n=${batch.n}: loss`);
    for (let i = 0; i < 2; i++) {
      const u = tf.tensor1d(rng.normalArray(sys.layout.N));
      const hf = f.hvp(u);
      const ho = o.hvp(u);
      const e = relDiff([hf], [ho]);
      t.diagnostic(`n=${batch.n}: gradient rel err ${eg}, HVP ${i + 1} rel err ${e}`);
      assert.ok(e <= tol, `n=${batch.n}: HVP ${i + 1} rel err ${e}`);
      dispose([u, hf, ho]);
    }
    f.dispose();
    o.dispose();
  }
  // The momentum update and the adjoint: one step and one VJP on each path, states equal.
  const h0 = sys.initialState();
  const h = new NaiveSolver().solve(sys, h0, { maxSteps: 3 }).h;
  dispose(h0);
  const a = ops.step(h, ops.params, 3, 'unroll');
  const b = sys.step(h, sys.params, 3, 'unroll');
  const stepErr = relDiff(b, a);
  assert.ok(stepErr <= 1e-6, `step rel err ${stepErr}`);
  const z = randomLike(h, rng);
  const lf = sys.linearize(h, sys.params, 3, 'unroll');
  const lo = ops.linearize(h, ops.params, 3, 'unroll');
  const vf = lf.vjp(z);
  const vo = lo.vjp(z);
  const vjpErr = relDiff(vf, vo);
  assert.ok(vjpErr <= 1e-6, `vjp rel err ${vjpErr}`);
  // The fused path never builds the op path's transposed batches.
  assert.equal(sys.fullBatch.op, undefined, 'fused path: no [Xᵀ; 1ᵀ] of the full set');
  assert.equal(sys.batchFor(3, 'unroll').op, undefined, 'fused path: no [Xᵀ; 1ᵀ] of a minibatch');
  assert.ok(ops.fullBatch.op && ops.batchFor(3, 'unroll').op, 'op path: made on first use');
  lf.dispose();
  lo.dispose();
  dispose(h, a, b, z, vf, vo, [theta]);
  sys.dispose();
  ops.dispose();
});

// Mutants tried (each failed here, then reverted): the panels packed as [cols, rows] ("… bits");
// deltaP named one layer off (the kernel's shape check throws); the panels made a HVP late (hvps === 3
// for 2: "the panels of δ_2 and δ_3 after HVP 2"); the panels not kept (disposed by the caller's tidy).
test("a point's HVPs after the first read δ_l from panels made once (fusedPanels): bit-identical to packing them per product, freed with the point", (t) => {
  if (skipWithoutFused(t)) return;
  const sys = makeSystem();
  const rng = new Rng(12);
  const theta = tf.tensor1d(rng.normalArray(sys.layout.N, 0.3));
  const us = [0, 1].map(() => tf.tensor1d(rng.normalArray(sys.layout.N)));
  // each point's first HVP packs δ_l in its products, as a point with one HVP (BPTT's) always does
  const want = us.map((u) => {
    const p = new FusedMlpPoint(theta, sys.fullBatch, sys.fastContext);
    const h = tf.tidy(() => p.hvp(u));
    p.dispose();
    return h;
  });
  const n0 = tf.memory().numTensors;
  const f = new FusedMlpPoint(theta, sys.fullBatch, sys.fastContext);
  const made = tf.memory().numTensors - n0;
  const first = tf.tidy(() => f.hvp(us[0]));
  assert.equal(tf.memory().numTensors - n0, made + 1, 'no panels after the first HVP');
  const got = [1, 0].map((i) => {
    const h = tf.tidy(() => f.hvp(us[i]));
    assert.equal(tf.memory().numTensors - n0, made + 3 - i + 2, `the panels of δ_2 and δ_3 after HVP ${3 - i}`);
    return h;
  });
  assert.deepEqual(first.dataSync(), want[0].dataSync(), 'the first HVP bits');
  got.forEach((g, j) => assert.deepEqual(g.dataSync(), want[1 - j].dataSync(), `HVP ${j + 2} (with the panels) bits`));
  f.dispose();
  dispose([...want, first, ...got]);
  assert.equal(tf.memory().numTensors, n0 - 2, 'the panels go with the point');
  dispose([theta, ...us]);
  sys.dispose();
});

test('the fused kernels refuse shapes that do not match the MLP (they read raw heap) and leave nothing behind', (t) => {
  if (skipWithoutFused(t)) return;
  const sys = makeSystem();
  const batch = sys.batchFor(0, 'unroll');
  const layout = { sizes: small.sizes!, offsets: sys.layout.offsets };
  const theta = tf.zeros([sys.layout.N]);
  const short = tf.zeros([sys.layout.N - 1]);
  const perTensor = tf.zeros([sys.P]);
  const before = tf.memory().numTensors;
  assert.throws(() => fusedPoint(short, batch.x, batch.yN, layout, 1 / batch.n), /θ has shape \[472\], expected \[473\]/);
  assert.throws(() => fusedPoint(theta, batch.x, batch.yN, { ...layout, sizes: [19, 12, 12, 5] }, 1 / batch.n), /θ has shape|the batch has shape/);
  // α, β per tensor ([P]) instead of per element ([N]): refused, not read past their end
  assert.throws(() => fusedMomentum(theta, theta, theta, perTensor, theta, theta), new RegExp(`input 3 has shape \\[${sys.P}\\], expected \\[${sys.layout.N}\\]`));
  assert.equal(tf.memory().numTensors, before, 'no outputs left behind');
  // and the right shapes still work after a refusal
  const pt = fusedPoint(theta, batch.x, batch.yN, layout, 1 / batch.n);
  assert.equal(pt.grad.size, sys.layout.N);
  tf.dispose([theta, short, perTensor, pt.grad, pt.z, pt.p, pt.pN, ...pt.X, ...pt.D, ...pt.e, ...pt.delta]);
  sys.dispose();
});

test('the analytic linearisation agrees with the generic one (vjp, jvp, vjpParams) in both phases, on each fast path', () => {
  for (const [lastStep, path] of [
    ['full', FAST_PATHS[0]],
    ['full', FAST_PATHS[1]],
    ['minibatch', FAST_PATHS[0]],
    ['minibatch', FAST_PATHS[1]],
    ['minibatch', FAST_PATHS[2]],
  ] as const) {
    const fast = makeSystem({ initScale: 0.5, lastStep, ...path.opts });
    const slow = makeSystem({ initScale: 0.5, lastStep, analytic: false });
    const rng = new Rng(4);
    // Non-trivial hyperparameters, the same in both systems.
    const a = rng.normalArray(fast.P, 0.5).map((v) => v - 1.5);
    const b = rng.normalArray(fast.P, 1);
    for (const s of [fast, slow]) {
      s.logLr.assign(tf.tensor1d(a));
      s.logitMom.assign(tf.tensor1d(b));
    }
    // A point along the trajectory (non-zero momentum); the fast unroll's states are the generic one's.
    const h0 = fast.initialState();
    const r = new NaiveSolver().solve(fast, h0, { maxSteps: 3 });
    const rs = new NaiveSolver().solve(slow, h0, { maxSteps: 3 });
    assert.ok(relDiff(r.h, rs.h) < 1e-6, `${lastStep}/${path.name}: forward states, rel err ${relDiff(r.h, rs.h)}`);
    // The meta-loss and its gradient: one analytic pass vs autodiff through the MLP.
    const gf = lossGradients(fast, r.h);
    const gs = lossGradients(slow, r.h);
    assert.ok(Math.abs(gf.loss - gs.loss) < 1e-6 * Math.abs(gs.loss), `loss ${gf.loss} vs ${gs.loss}`);
    assert.ok(relDiff(gf.dh, gs.dh) < 1e-5, `loss gradient rel err ${relDiff(gf.dh, gs.dh)}`);
    dispose(rs.h, gf.dh, gs.dh);
    for (const phase of ['unroll', 'linearize'] as const) {
      const lf = fast.linearize(r.h, fast.params, 3, phase);
      const ls = genericLinearization(slow, r.h, slow.params, 3, phase);
      assertSameLinearization(lf, ls, r.h, `${lastStep}/${path.name}/${phase}`, 2e-5);
      // The step itself: untaped fast path = taped generic path.
      const s1 = fast.step(r.h, fast.params, 3, phase);
      const s2 = slow.step(r.h, slow.params, 3, phase);
      assert.ok(relDiff(s1, s2) < 1e-5, `${phase} step`);
      dispose(s1, s2);
      lf.dispose();
      ls.dispose();
    }
    // The two phases differ only when the last step uses the full set.
    const full = fast.batchFor(3, 'linearize');
    assert.equal(full.n, lastStep === 'full' ? data.n : small.batchSize);
    dispose(h0, r.h);
    fast.dispose();
    slow.dispose();
  }
});

test('BPTT hypergradient matches central finite differences along a random direction (float32)', (t) => {
  for (const analytic of [true, false]) {
    const sys = makeSystem({ initScale: 0.3, analytic, lr0: -1.5, mom0: 0.5 });
    const g = getMethod('BPTT').compute(sys, { T, K: T });
    const rng = new Rng(99);
    const d = randomLike(sys.params, rng);
    const dot = d.reduce((s, x, i) => s + tf.tidy(() => tf.sum(tf.mul(x, g.grads[i])).dataSync()[0]), 0);
    const base = sys.params.map((p) => tf.clone(p));
    const at = (eps: number) => {
      sys.params.forEach((p, i) => p.assign(tf.tidy(() => tf.add(base[i], tf.mul(d[i], eps)))));
      return metaLoss(sys);
    };
    const eps = 1e-2;
    const fd = (at(eps) - at(-eps)) / (2 * eps);
    sys.params.forEach((p, i) => p.assign(base[i]));
    t.diagnostic(`analytic=${analytic}: FD ${fd}, BPTT ${dot}, rel ${Math.abs(fd - dot) / Math.abs(dot)}`);
    assert.ok(Math.abs(dot) > 1e-3, `directional derivative not tiny (${dot})`);
    assert.ok(Math.abs(fd - dot) <= 1e-3 * Math.abs(dot) + 1e-6, `analytic=${analytic}: finite difference ${fd} vs BPTT ${dot}`);
    dispose(g.grads, g.lossGrads, d, base);
    sys.dispose();
  }
});

test('TBPTT with K = T equals BPTT; TBPTT with K < T does not', () => {
  const sys = makeSystem({ initScale: 0.3 });
  const b = getMethod('BPTT').compute(sys, { T, K: T });
  const t = getMethod('TBPTT').compute(sys, { T, K: T });
  const t2 = getMethod('TBPTT').compute(sys, { T, K: 2 });
  assert.ok(relDiff(t.grads, b.grads) < 1e-6, `TBPTT(T) vs BPTT ${relDiff(t.grads, b.grads)}`);
  assert.ok(relDiff(t2.grads, b.grads) > 1e-3, 'TBPTT(2) is a different gradient');
  assert.equal(t.loss, b.loss);
  dispose(b.grads, t.grads, t2.grads, b.lossGrads, t.lossGrads, t2.lossGrads);
  sys.dispose();
});

test('every method runs and returns finite gradients; fast path = generic path for each', (t) => {
  const fast = makeSystem({ initScale: 0.3 });
  const slow = makeSystem({ initScale: 0.3, analytic: false });
  const opts = { T, K: 4, exactMaxIter: 30 };
  // CG-based methods amplify float32 round-off a little more; 'exact' (30 CG iterations on the
  // normal equations, far from converged at T = 8) amplifies it by ~10⁴: its tolerance is the
  // generic path's own change when the learning rates move by a few float32 ulps.
  const b = getMethod('exact').compute(slow, opts);
  const a0 = slow.logLr.clone();
  slow.logLr.assign(tf.mul(a0, 1 + 3e-7));
  const c = getMethod('exact').compute(slow, opts);
  slow.logLr.assign(a0);
  const noise = relDiff(c.grads, b.grads);
  t.diagnostic(`exact: generic vs generic with α·(1 + 3e-7): rel ${noise}`);
  dispose(b.grads, b.lossGrads, c.grads, c.lossGrads, [a0]);
  const tol = (m: string) => (m === 'exact' ? Math.max(1e-3, 3 * noise) : m === 'CG_RBP' ? 1e-3 : 1e-4);
  assertMethodsAgree(fast, [{ sys: slow, tol, label: 'generic' }], opts, methodNames(), {
    each: (m, a) => {
      assert.ok(Number.isFinite(a.loss), `${m} loss`);
      const v = a.grads.flatMap((x) => Array.from(x.dataSync()));
      assert.equal(v.length, 2 * fast.P);
      assert.ok(v.every(Number.isFinite), `${m} gradient finite`);
      assert.ok(v.some((x) => x !== 0), `${m} gradient non-zero`);
    },
  });
  fast.dispose();
  slow.dispose();
});

function smallConfig(method: string, lastStep?: 'full' | 'minibatch'): RbpConfig {
  return {
    exp_name: 'hypergrad-test',
    runner: 'HypergradRunner',
    seed: 3,
    dataset: { name: 'MNIST' },
    model: { name: 'HypergradNet', grad_method: method, truncate_iter: 4, lr: -1, momentum: 0, num_sgd_step: T, batch_size: 20, mlp_hidden: [20, 12, 12, 5], ...(lastStep ? { last_step: lastStep } : {}) },
    train: { meta_optimizer: 'Adam', meta_lr: 0.05, max_meta_iter: 3 },
  };
}

test('meta-iterations of the experiment lower the meta-loss (BPTT and Neumann-RBP)', () => {
  for (const method of ['BPTT', 'Neumann_RBP'] as const) {
    const logs: string[] = [];
    const session = createHypergradSession(smallConfig(method), method, 4, { log: (t) => logs.push(t) }, data);
    assert.equal(session.numSteps, 3);
    assert.equal(session.stepLabel, 'meta-iteration');
    assert.equal(session.T, T);
    assert.ok(logs.some((l) => l.includes('last_step: full')), 'the last-step data is logged');
    assert.equal(session.summary().last_step, 'full');
    const sys = session.system as HypergradSystem;
    const before = metaLoss(sys);
    for (let i = 0; i < 3; i++) {
      session.beforeStep(i);
      const r = getMethod(method).compute(sys, { T: session.T, K: 4, ...session.gradientOptions });
      const extra = session.stepMetrics!(i, r);
      assert.ok(Math.abs(extra.alpha_0 - Math.exp(-1)) < 0.2 && extra.beta_5 > 0 && extra.beta_5 < 1 && !('alpha_6' in extra), `hyperparameter metrics ${JSON.stringify(extra)}`);
      session.optimizer.apply([...sys.params, ...sys.lossParams], [...r.grads, ...r.lossGrads]);
      dispose(r.grads, r.lossGrads);
    }
    const after = metaLoss(sys);
    assert.ok(after < before - 1e-4, `${method}: meta-loss ${before} → ${after}`);
    const ev = session.evaluate(2);
    assert.ok(Number.isFinite(ev.eval_meta_loss) && Math.abs(ev.eval_meta_loss - after) < 1e-5);
    assert.ok(ev.grad_cos_bptt > (method === 'BPTT' ? 0.999999 : 0), `cosine vs BPTT ${ev.grad_cos_bptt}`);
    assert.ok(ev.train_acc >= 0 && ev.train_acc <= 1);
    session.dispose();
  }
});

// train_acc was held only to [0, 1] (above) and the sparse test compares accuracy with itself.
// Mutants that passed those and fail here: tf.equal → tf.notEqual (1 − acc); the labels compared with themselves (acc 1).
test('accuracy: the share of the training set whose largest output is its label', () => {
  const data = syntheticDataset(90, 12, 4, 5);
  const sys = new HypergradSystem({ ...HYPERGRAD_DEFAULTS, sizes: [12, 7, 4], batchSize: 30, seed: 2 }, data);
  const N = sys.initialState()[0].size;
  // Θ = 0 but b_L (its last 4 entries) = e_c: every output is e_c, every prediction class c
  for (let c = 0; c < 4; c++) {
    const theta = new Float32Array(N);
    theta[N - 4 + c] = 1;
    const h = [tf.tensor1d(theta), tf.zeros([N])];
    const share = data.labels.filter((y) => y === c).length / data.n;
    assert.ok(Math.abs(sys.accuracy(h) - share) < 1e-7, `class ${c}: accuracy ${sys.accuracy(h)}, share of the labels ${share}`);
    dispose(h);
  }
  sys.dispose();
});

test('model.last_step: minibatch makes the RBP-family last step use its own minibatch', () => {
  const logs: string[] = [];
  const session = createHypergradSession(smallConfig('Neumann_RBP', 'minibatch'), 'Neumann_RBP', 4, { log: (t) => logs.push(t) }, data);
  assert.ok(logs.some((l) => l.includes('last_step: minibatch')));
  assert.equal(session.summary().last_step, 'minibatch');
  const sys = session.system as HypergradSystem;
  // With the minibatch last step the RBP-family forward loss equals the plain unroll's.
  const n = getMethod('Neumann_RBP').compute(sys, { T, K: 4 });
  assert.ok(Math.abs(n.loss - metaLoss(sys)) < 1e-6);
  dispose(n.grads, n.lossGrads);
  session.dispose();
});

test('the experiment is registered for HypergradRunner and rejects a mismatched MLP', async () => {
  const e = await loadExperiment('HypergradRunner');
  assert.ok(e);
  assert.deepEqual(e.names, ['hypergrad']);
  const bad = smallConfig('BPTT');
  (bad.model as Record<string, unknown>).mlp_hidden = [784, 10];
  assert.throws(() => createHypergradSession(bad, 'BPTT', 4, { log: () => undefined }, data), /mlp_hidden/);
});

test('no tensors leak from a gradient computation, and no cached forward pass outlives it', () => {
  const sys = makeSystem({ initScale: 0.3 });
  assertNoLeaks(sys, { T, K: 4 }, ['BPTT', 'TBPTT', 'Neumann_RBP', 'CG_RBP'], (m) => assert.equal(sys.cachedPoints, 0, `${m}: cached forward passes left`));
  sys.dispose();
});
