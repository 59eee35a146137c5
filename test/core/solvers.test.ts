/** Forward solvers (naive, Anderson), and optimisers and models releasing their tensors. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { NaiveSolver, AndersonSolver } from '../../src/core/solvers';
import { getMethod } from '../../src/core/gradients';
import { compareGrads } from '../../src/core/metrics';
import { dispose } from '../../src/core/state';
import { ToySystem } from '../helpers/toy';
import { tf } from '../../src/core/tf';
import { Adam } from '../../src/core/optim';
import { HopfieldSystem, HOPFIELD_DEFAULTS } from '../../src/experiments/hopfield/model';
import { useBackend } from '../helpers/setup';

before(useBackend);

test('the naive solver records absolute and relative residuals and stops at the tolerance', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const h0 = sys.initialState();
  const r = new NaiveSolver().solve(sys, h0, { maxSteps: 500, tol: 1e-5, keep: 3 });
  assert.ok(r.stats.converged);
  assert.ok(r.stats.steps < 500);
  assert.equal(r.stats.absResidual.length, r.stats.steps);
  assert.ok(r.stats.finalRel < 1e-5);
  assert.ok(r.stats.relResidual.every((x, i) => Math.abs(x - r.stats.absResidual[i]) >= 0));
  assert.equal(r.history.length, 3);
  assert.deepEqual(r.history.map((e) => e.t), [r.stats.steps - 3, r.stats.steps - 2, r.stats.steps - 1]);
  dispose(h0, r.h, ...r.history.map((e) => e.h));
  sys.dispose();
});

test('Anderson acceleration reaches the same fixed point in fewer steps, and RBP-family gradients agree', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const h0 = sys.initialState();
  const naive = new NaiveSolver().solve(sys, h0, { maxSteps: 500, tol: 1e-6 });
  const aa = new AndersonSolver({ window: 5, beta: 1, lambda: 1e-6 }).solve(sys, h0, { maxSteps: 500, tol: 1e-6 });
  assert.ok(naive.stats.converged && aa.stats.converged);
  assert.ok(aa.stats.steps < naive.stats.steps, `Anderson ${aa.stats.steps} vs naive ${naive.stats.steps} steps`);
  const d = compareGrads(aa.h, naive.h);
  assert.ok(d.relErr < 1e-4, `fixed points differ: ${d.relErr}`);
  const g1 = getMethod('Neumann_RBP').compute(sys, { T: 500, K: 30, forwardTol: 1e-6 });
  const g2 = getMethod('Neumann_RBP').compute(sys, { T: 500, K: 30, forwardTol: 1e-6, solver: new AndersonSolver() });
  assert.ok(compareGrads(g2.grads, g1.grads).relErr < 1e-3);
  assert.ok(g2.forward.steps < g1.forward.steps);
  dispose(h0, naive.h, aa.h, g1.grads, g1.lossGrads, g2.grads, g2.lossGrads);
  sys.dispose();
});

test('a diverging forward pass is flagged, not hidden', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 4, bDecay: 40 });
  const h0 = sys.initialState();
  const r = new NaiveSolver().solve(sys, h0, { maxSteps: 200 });
  assert.ok(r.stats.diverged, `final residual ${r.stats.finalAbs}`);
  assert.ok(r.stats.steps < 200);
  dispose(h0, r.h);
  sys.dispose();
});

test('optimisers and models release their initial tensors', () => {
  const before = tf.memory().numTensors;
  const sys = new ToySystem();
  const opt = new Adam(1e-3);
  const g = sys.params.map((p) => tf.onesLike(p));
  opt.apply(sys.params, g);
  dispose(g);
  opt.dispose();
  sys.dispose();
  assert.equal(tf.memory().numTensors, before);
  const h = new HopfieldSystem({ ...HOPFIELD_DEFAULTS, nIn: 4, nHid: 4 }, [new Float32Array(4)]);
  const bytes = tf.memory().numBytes;
  const z = tf.zerosLike(h.W);
  h.W.assign(z);
  z.dispose();
  assert.equal(tf.memory().numBytes, bytes, 'assigning W frees the old value (no lingering initial tensor)');
  h.dispose();
});
