/**
 * RBP's K convention and start. From z_0 = 0, K iterations of z ← Jᵀz + g give
 * z_K = Σ_{k<K} (Jᵀ)ᵏ g: at a fixed point that is TBPTT over K updates (and Neumann-RBP with K − 1).
 * The authors' start, z_0 ~ U(0,1) (`model.rbp_init: uniform`), is seeded and still converges to
 * the implicit gradient, because the iteration forgets its start at rate ρ(J).
 *
 * Mutants these tests catch (each tried; the rest of the suite passed with it):
 * - RBP looping K + 1 times (`k <= K`): equals TBPTT(K + 1), not TBPTT(K).
 * - RBP looping K − 1 times (`k < K - 1`): equals TBPTT(K − 1).
 * - `rbpInit: 'uniform'` ignored (always zero): the two seeds give the same gradient.
 * - the uniform start drawn from Math.random (unseeded): the same seed gives two gradients.
 * - an experiment dropping `model.rbp_init`: the session's options lose it.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { getMethod } from '../../src/core/gradients';
import { compareGrads } from '../../src/core/metrics';
import { dispose } from '../../src/core/state';
import { builtinConfig } from '../../src/config/load';
import { hopfieldExperiment } from '../../src/experiments/hopfield/experiment';
import { ToySystem } from '../helpers/toy';
import { useBackend } from '../helpers/setup';

before(useBackend);

test('at a fixed point RBP from zero with K iterations equals TBPTT(K) — not TBPTT(K − 1) or TBPTT(K + 1)', () => {
  const sys = new ToySystem({ scale: 1.2, seed: 5 });
  const T = 150;
  for (const K of [2, 5, 9]) {
    const r = getMethod('RBP').compute(sys, { T, K });
    assert.ok(r.forward.finalRel < 1e-6, `forward converged (${r.forward.finalRel})`);
    const [tK, tLess, tMore] = [K, K - 1, K + 1].map((k) => getMethod('TBPTT').compute(sys, { T, K: k }));
    const same = compareGrads(r.grads, tK.grads).relErr;
    assert.ok(same < 2e-6, `K=${K}: RBP vs TBPTT(K) rel err ${same}`);
    // Negative controls: one term of the series more or less is far above float32 round-off.
    for (const [label, t] of [['K − 1', tLess], ['K + 1', tMore]] as const) {
      const off = compareGrads(r.grads, t.grads).relErr;
      assert.ok(off > 100 * same && off > 1e-4, `K=${K}: RBP vs TBPTT(${label}) should differ: ${off} vs ${same}`);
    }
    // The same K as Neumann-RBP's K − 1 (K terms of the series).
    const n = getMethod('Neumann_RBP').compute(sys, { T, K: K - 1 });
    assert.ok(compareGrads(r.grads, n.grads).relErr < 2e-6, `K=${K}: RBP vs Neumann-RBP(K − 1)`);
    assert.equal(r.vjps, K + 1, 'K adjoint VJPs plus the parameter VJP');
    dispose(r.grads, r.lossGrads, n.grads, n.lossGrads, ...[tK, tLess, tMore].flatMap((t) => [t.grads, t.lossGrads]));
  }
  sys.dispose();
});

test('RBP with the uniform start is seeded: the same seed gives the same gradient, another seed another one', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const opts = { T: 100, K: 3, rbpInit: 'uniform' as const };
  const a = getMethod('RBP').compute(sys, { ...opts, seed: 11 });
  const b = getMethod('RBP').compute(sys, { ...opts, seed: 11 });
  const c = getMethod('RBP').compute(sys, { ...opts, seed: 12 });
  const zero = getMethod('RBP').compute(sys, { T: 100, K: 3 });
  assert.deepEqual(a.grads.map((g) => Array.from(g.dataSync())), b.grads.map((g) => Array.from(g.dataSync())), 'same seed, same gradient');
  const other = compareGrads(a.grads, c.grads).relErr;
  assert.ok(other > 1e-3, `another seed changes the gradient before convergence (rel diff ${other})`);
  const fromZero = compareGrads(a.grads, zero.grads).relErr;
  assert.ok(fromZero > 1e-3, `the uniform start is not the zero start (rel diff ${fromZero})`);
  dispose(...[a, b, c, zero].flatMap((r) => [r.grads, r.lossGrads]));
  sys.dispose();
});

test('RBP with the uniform start converges to exact as K grows on a contractive system', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const T = 200;
  const ex = getMethod('exact').compute(sys, { T, K: 1 });
  assert.ok(ex.backward.converged, 'exact converged');
  const errs = [2, 5, 10, 30].map((K) => {
    const r = getMethod('RBP').compute(sys, { T, K, rbpInit: 'uniform', seed: 3 });
    const e = compareGrads(r.grads, ex.grads).relErr;
    dispose(r.grads, r.lossGrads);
    return e;
  });
  for (let i = 1; i < errs.length; i++) assert.ok(errs[i] < errs[i - 1], `error should shrink with K: ${errs.join(', ')}`);
  assert.ok(errs[errs.length - 1] < 1e-4, `error at K=30 is ${errs[errs.length - 1]}`);
  assert.ok(errs[0] > 1e-2, `K=2 is still far from exact (the start matters): ${errs[0]}`);
  dispose(ex.grads, ex.lossGrads);
  sys.dispose();
});

test('the config’s model.rbp_init and seed reach the gradient options of an experiment session', () => {
  const cfg = builtinConfig('hopfield')!;
  Object.assign(cfg.dataset, { num_imgs: 1 });
  Object.assign(cfg.model, { num_update: 5, rbp_init: 'uniform' });
  cfg.seed = 42;
  const s = hopfieldExperiment.create(cfg, 'RBP', 5, { log: () => undefined });
  assert.equal(s.gradientOptions.rbpInit, 'uniform');
  assert.equal(s.gradientOptions.seed, 42);
  s.dispose();
});
