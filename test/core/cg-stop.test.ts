/**
 * CG-RBP's two stopping tests: ours, ||r|| / ||b|| < tol (the default), and the authors',
 * ||r|| < tol (`cgStop: 'absolute'`, config `model.cg_stop: absolute`). The absolute test at tol
 * stops exactly where the relative one does at tol / ||b||, with b = (I − J) ∂L/∂h*.
 *
 * Mutants these tests catch (each tried; the rest of the suite passed with it):
 * - `cgStop: 'absolute'` ignored (always relative): the iteration counts of the sweep differ.
 * - the absolute test comparing ||r||² with tol: the counts differ.
 * - an experiment dropping `model.cg_stop`: the session's options lose it.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { getMethod } from '../../src/core/gradients';
import { rbpSetup } from '../../src/core/gradients/common';
import { compareGrads } from '../../src/core/metrics';
import { dispose, dot } from '../../src/core/state';
import { applyOverride, builtinConfig, validateConfigObject } from '../../src/config/load';
import { hopfieldExperiment } from '../../src/experiments/hopfield/experiment';
import { ToySystem } from '../helpers/toy';
import { useBackend } from '../helpers/setup';

before(useBackend);

test('CG-RBP with the absolute test at tol stops where the relative test does at tol / ||b|| (and not where it does at tol)', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7, batch: 40 });
  const T = 120;
  const K = 200;
  const s = rbpSetup(sys, { T, K });
  const Jg = s.lin.jvp(s.g);
  const b = tf.tidy(() => s.g.map((gi, i) => tf.sub(gi, Jg[i])));
  const bNorm = Math.sqrt(dot(b, b));
  dispose(Jg, b);
  s.dispose();
  dispose(s.lossGrads);
  assert.ok(bNorm > 3, `the sweep needs ||b|| well away from 1 to tell the tests apart (${bNorm})`);
  let differs = 0;
  for (const tol of [1e-1, 1e-2, 1e-3, 1e-4]) {
    const abs = getMethod('CG_RBP').compute(sys, { T, K, cgStop: 'absolute', cgTol: tol });
    const rel = getMethod('CG_RBP').compute(sys, { T, K, cgTol: tol / bNorm });
    const relSame = getMethod('CG_RBP').compute(sys, { T, K, cgTol: tol });
    const n = (r: typeof abs) => r.backward.iterations.length;
    assert.equal(n(abs), n(rel), `tol ${tol}: absolute ${n(abs)} iterations, relative at tol/||b|| ${n(rel)}`);
    assert.ok(abs.backward.converged && n(abs) < K, `tol ${tol}: converged before K`);
    assert.ok(compareGrads(abs.grads, rel.grads).relErr === 0, `tol ${tol}: the same iterate`);
    if (n(relSame) !== n(abs)) differs++;
    dispose(...[abs, rel, relSame].flatMap((r) => [r.grads, r.lossGrads]));
  }
  assert.ok(differs >= 2, `with ||b|| = ${bNorm.toFixed(1)} the relative test at the same tol stops elsewhere (${differs} of 4 tolerances)`);
  sys.dispose();
});

test('model.cg_stop is in the schema (relative | absolute) and reaches the gradient options of a session', () => {
  const cfg = applyOverride(builtinConfig('hopfield')!, 'model.cg_stop=absolute');
  Object.assign(cfg.dataset, { num_imgs: 1 });
  Object.assign(cfg.model, { num_update: 5 });
  assert.deepEqual(validateConfigObject(cfg), []);
  const s = hopfieldExperiment.create(cfg, 'CG_RBP', 5, { log: () => undefined });
  assert.equal(s.gradientOptions.cgStop, 'absolute');
  s.dispose();
  assert.throws(() => applyOverride(builtinConfig('hopfield')!, 'model.cg_stop=abs'), /cg_stop must be one of relative, absolute/);
});
