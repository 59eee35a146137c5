/** The gradient check's diagnostics: ρ(J) comes from exact's own linearisation, not a second forward pass. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { useBackend } from '../helpers/setup';
import { builtinConfig } from '../../src/config/load';
import { loadExperiment } from '../../src/experiments';
import { gradcheck } from '../../src/run/gradcheck';
import { diagnose } from '../../src/run/runner';

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
