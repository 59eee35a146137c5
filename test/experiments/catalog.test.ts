/**
 * The experiment catalog (one entry per experiment) and what reads it: the built-in configs, the
 * steps field `--steps` sets, the defaults a config's typed sections are filled from, the lazily
 * loaded implementations; and the shared optimiser / schedule / gradient-options helper.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPERIMENTS, experimentInfo, planetoidFiles } from '../../src/experiments/catalog';
import { loadExperiment } from '../../src/experiments';
import { optimizerWithSchedule, gradientOptionsOf } from '../../src/experiments/training';
import { BUILTIN_CONFIGS } from '../../src/config/builtin';
import { SCHEMA, RUNNERS } from '../../src/config/schema';
import { configSections, type RbpConfig } from '../../src/config/load';
import { resolveRun } from '../../src/run/resolve';
import { AndersonSolver, ANDERSON_DEFAULTS } from '../../src/core/solvers/anderson';
import { Adam, SgdMomentum } from '../../src/core/optim';

test('every runner has one entry; its built-in names are exactly the built-in configs of that runner', () => {
  assert.deepEqual(Object.keys(EXPERIMENTS).sort(), [...RUNNERS].sort());
  for (const runner of RUNNERS) {
    const info = EXPERIMENTS[runner];
    assert.equal(info.runner, runner);
    assert.deepEqual([...info.names].sort(), Object.keys(BUILTIN_CONFIGS).filter((n) => BUILTIN_CONFIGS[n].runner === runner).sort());
    assert.ok(Object.hasOwn(SCHEMA[runner].train, info.stepsField), `${runner}: train.${info.stepsField} is in the schema`);
    assert.ok(Object.hasOwn(SCHEMA[runner].model, info.tField), `${runner}: model.${info.tField} is in the schema`);
  }
  for (const bad of ['toString', '__proto__', 'constructor', 'GnnRunner', 7]) assert.equal(experimentInfo(bad), undefined);
});

test('--steps sets each experiment’s own step counter (max_steps, or max_meta_iter for hypergrad)', () => {
  for (const [name, field] of [['hopfield', 'max_steps'], ['cora', 'max_steps'], ['hypergrad', 'max_meta_iter']] as const) {
    const r = resolveRun({ experiment: name, steps: 7 });
    assert.equal((r.config.train as Record<string, unknown>)[field], 7, `${name}: train.${field}`);
  }
});

test('a config’s typed sections are filled from its runner’s built-in config (by dataset name for the citation graphs)', () => {
  const partial: RbpConfig = { exp_name: 'x', runner: 'CitationRunner', seed: 3, dataset: { name: 'Pubmed' }, model: { num_prop: 7 }, train: {} };
  const s = configSections('CitationRunner', partial);
  assert.equal(s.seed, 3);
  assert.equal(s.model.num_prop, 7, 'what the config gives wins');
  assert.equal(s.model.feat_dim, 16, 'pubmed’s feature size, not cora’s 64');
  assert.equal(s.train.optimizer, 'SGD');
  assert.deepEqual(s.train.lr_decay_steps, [10000]);
  assert.equal(s.model.forward_solver, undefined, 'a field of ours no built-in sets stays unset');
  assert.deepEqual(partial.model, { num_prop: 7 }, 'the config itself is left as it was');
  assert.throws(() => configSections('HopfieldRunner', partial), /a HopfieldRunner experiment was given a CitationRunner config/);
});

test('each implementation is loaded on demand and carries its catalog entry', async () => {
  for (const runner of RUNNERS) {
    const e = await loadExperiment(runner);
    assert.ok(e, runner);
    assert.equal(e.runner, runner);
    assert.deepEqual(e.names, EXPERIMENTS[runner].names);
    assert.equal(typeof e.create, 'function');
  }
  assert.equal(await loadExperiment('toString'), undefined);
  assert.equal(await loadExperiment('NoSuchRunner'), undefined);
});

test('the citation experiment needs the Planetoid files of its data set; the others need no data folder', () => {
  const cfg = structuredClone(BUILTIN_CONFIGS.citeseer);
  assert.deepEqual(EXPERIMENTS.CitationRunner.dataFiles!(cfg)?.files, planetoidFiles('citeseer'));
  assert.deepEqual(planetoidFiles('cora'), ['x', 'y', 'tx', 'ty', 'allx', 'ally', 'graph', 'test.index'].map((s) => `ind.cora.${s}`));
  (cfg.dataset as Record<string, unknown>).name = 'Reddit';
  assert.equal(EXPERIMENTS.CitationRunner.dataFiles!(cfg), undefined, 'an unknown data set is the schema’s error');
  assert.equal(EXPERIMENTS.HopfieldRunner.dataFiles, undefined);
  assert.equal(EXPERIMENTS.HypergradRunner.dataFiles, undefined);
});

test('the optimiser helper: SGD or Adam with their settings, and step decay of the learning rate', () => {
  const rec = (s: ReturnType<typeof optimizerWithSchedule>, steps: number[]) => {
    const lrs: number[] = [];
    s.optimizer.setLearningRate = (lr) => lrs.push(lr);
    for (const i of steps) s.atStep(i);
    return lrs;
  };
  const sgd = optimizerWithSchedule({ kind: 'SGD', lr: 0.5, momentum: 0.8, wd: 1e-3, decay: 0.1, decaySteps: [10, 20] });
  assert.ok(sgd.optimizer instanceof SgdMomentum);
  assert.deepEqual(rec(sgd, [0, 9, 10, 19, 20, 100]), [0.5, 0.5, 0.5 * 0.1, 0.5 * 0.1, 0.5 * 0.1 ** 2, 0.5 * 0.1 ** 2]);
  // Hypergrad's meta schedule: meta_lr, then meta_lr × 0.1 from lr_decay_iter on (as it was: i ≥ decayAt ? lr · 0.1 : lr).
  const meta = optimizerWithSchedule({ kind: 'Adam', lr: 0.05, decay: 0.1, decaySteps: [50] });
  assert.ok(meta.optimizer instanceof Adam);
  assert.deepEqual(rec(meta, [0, 49, 50, 99]), [0.05, 0.05, 0.05 * 0.1, 0.05 * 0.1]);
  const none = optimizerWithSchedule({ kind: 'Adam', lr: 1e-3 });
  assert.deepEqual(rec(none, [0, 1e6]), [1e-3, 1e-3]);
  for (const s of [sgd, meta, none]) s.optimizer.dispose();
});

test('gradient options from the model section: the named solver (Anderson with its one set of defaults), tolerance, RBP start, CG stopping test, seed', () => {
  const o = gradientOptionsOf({ forward_solver: 'anderson', forward_tol: 1e-6, rbp_init: 'uniform', cg_stop: 'absolute' }, 9);
  assert.ok(o.solver instanceof AndersonSolver);
  assert.deepEqual((o.solver as AndersonSolver).options, ANDERSON_DEFAULTS);
  assert.deepEqual(new AndersonSolver().options, ANDERSON_DEFAULTS);
  assert.deepEqual({ ...o, solver: undefined }, { solver: undefined, forwardTol: 1e-6, rbpInit: 'uniform', cgStop: 'absolute', seed: 9, cancelled: undefined });
  assert.equal(gradientOptionsOf({}, 1).solver, undefined, 'no solver named: the methods’ own default (naive)');
  // The run's cancellation check reaches the methods' loops.
  const cancelled = () => false;
  assert.equal(gradientOptionsOf({}, 1, cancelled).cancelled, cancelled);
});
