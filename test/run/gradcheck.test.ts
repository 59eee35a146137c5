/** The gradient check's diagnostics: ρ(J) comes from exact's own linearisation, not a second forward pass. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { useBackend } from '../helpers/setup';
import { builtinConfig } from '../../src/config/load';
import { loadExperiment } from '../../src/experiments';
import { gradcheck } from '../../src/run/gradcheck';
import { diagnose, finalCheck } from '../../src/run/runner';
import { tf } from '../../src/core/tf';
import { getMethod } from '../../src/core/gradients';
import { compareGrads } from '../../src/core/metrics';
import { dispose } from '../../src/core/state';

before(useBackend);

test('gradcheck’s ρ(J) and verdict equal a separate diagnosis at the same weights', async () => {
  const config = builtinConfig('hopfield');
  assert.ok(config);
  (config.model as Record<string, unknown>).num_update = 20;
  const experiment = await loadExperiment(config.runner);
  assert.ok(experiment);
  const session = await experiment.create(config, 'Neumann_RBP', 5, { log: () => undefined });
  const report = gradcheck('hopfield', session, { Ks: [5], methods: ['Neumann_RBP'] });
  const d = diagnose(session);
  assert.ok(Number.isFinite(report.rho) && report.rho > 0, `ρ = ${report.rho}`);
  assert.ok(Math.abs(report.rho - d.rho) <= 1e-5 * Math.max(1, d.rho), `gradcheck ρ ${report.rho} vs diagnose ρ ${d.rho}`);
  assert.equal(report.verdict.level, d.verdict.level);
  assert.equal(report.verdict.message, d.verdict.message);
  session.dispose?.();
});

// Mutants: the check reporting exact's own row (error 0) or BPTT's, or its error and cosine against BPTT instead of exact: each fails here.
test('the final check of a run reports the trained-with method against exact at the current weights', async () => {
  const config = builtinConfig('hopfield')!;
  Object.assign(config.model, { num_update: 5 }); // not converged: BPTT differs from exact, so vs-BPTT ≠ vs-exact
  Object.assign(config.dataset, { num_imgs: 2 });
  Object.assign(config.train, { shuffle: false }); // so that beforeStep(0) picks the same image again below
  const session = await (await loadExperiment('HopfieldRunner'))!.create(config, 'RBP', 1, { log: () => undefined });
  // weights far from the tiny initial ones, so that ρ(J) is not ≈ 0 and RBP with one iteration is visibly off
  const W = session.system.params[0];
  W.assign(tf.tidy(() => tf.mul(tf.randomNormal(W.shape, 0, 1, 'float32', 3), 0.03)));
  const c = finalCheck('hopfield', session, 'RBP', 1);
  session.beforeStep(0);
  const opts = { T: session.T, K: 1, ...session.gradientOptions };
  const rbp = getMethod('RBP').compute(session.system, opts);
  const ex = getMethod('exact').compute(session.system, opts);
  const want = compareGrads([...rbp.grads, ...rbp.lossGrads], [...ex.grads, ...ex.lossGrads]);
  const bptt = getMethod('BPTT').compute(session.system, opts);
  const vsBptt = compareGrads([...rbp.grads, ...rbp.lossGrads], [...bptt.grads, ...bptt.lossGrads]);
  assert.ok(Math.abs(vsBptt.relErr - want.relErr) > 0.01 * want.relErr, `against BPTT ${vsBptt.relErr}, against exact ${want.relErr}: distinguishable`);
  assert.ok(Math.abs(Number(c.check_cos_vs_bptt) - vsBptt.cosine) <= 1e-6);
  assert.equal(c.check_method, 'RBP K=1');
  assert.ok(want.relErr > 1e-3, `RBP(1) is visibly off here: ${want.relErr}`);
  assert.ok(Math.abs(Number(c.check_rel_err_vs_exact) - want.relErr) <= 1e-3 * want.relErr, `${c.check_rel_err_vs_exact} vs ${want.relErr}`);
  assert.ok(Math.abs(Number(c.check_cos_vs_exact) - want.cosine) <= 1e-6, `${c.check_cos_vs_exact} vs ${want.cosine}`);
  assert.equal(c.check_exact_converged, true);
  assert.ok(Number(c.check_rho) > 0.01 && Number(c.check_rho) < 1, `ρ = ${c.check_rho}`);
  assert.match(String(c.check_verdict), /^ρ\(J\) = [0-9.]+ < 1 but the forward pass has not converged/);
  dispose(rbp.grads, rbp.lossGrads, ex.grads, ex.lossGrads, bptt.grads, bptt.lossGrads);
  session.dispose();
});
