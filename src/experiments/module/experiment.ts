/**
 * ModuleRunner: the user's own model, from a module in the workspace (`model.module`). The module's
 * factory gets RBP Lab's tfjs, the second-order-safe activations, the config's sections and a
 * context; it returns a DynamicSystem and its data (`./contract.ts`). Everything else is RBP Lab's:
 * the optimiser from `train.*`, the methods, solvers, traces, ρ(J), recording, gradient check.
 */
import * as path from 'path';
import { tf } from '../../core/tf';
import * as activations from '../../core/activations';
import { Rng } from '../../core/random';
import { configSections, type RbpConfig } from '../../config/load';
import { EXPERIMENTS } from '../catalog';
import { gradientOptionsOf, optimizerWithSchedule } from '../training';
import type { Experiment, ExperimentSession } from '../types';
import type { ModelFactoryArgs, UserModel } from './contract';
import { importFactory, resolveModulePath, userError } from './loader';
import { guardSystem, validateModel } from './validate';
import { RunError } from '../types';

/** A metrics record of finite numbers (and only the declared names, when the module declares them). */
function checkMetrics(file: string, what: string, values: unknown, names?: readonly string[]): Record<string, number> {
  if (!values || typeof values !== 'object' || Array.isArray(values)) throw new RunError('bad-config', `${file}: ${what} must return an object of numbers, got ${JSON.stringify(values)}`);
  for (const [k, v] of Object.entries(values)) if (typeof v !== 'number') throw new RunError('bad-config', `${file}: ${what} returned ${k} = ${JSON.stringify(v)}; metrics must be numbers`);
  if (names) {
    const missing = names.filter((n) => !(n in values));
    if (missing.length) throw new RunError('bad-config', `${file}: ${what} returned no ${missing.join(', ')} (metrics declares ${names.join(', ')})`);
  }
  return values as Record<string, number>;
}

export const moduleExperiment: Experiment<'ModuleRunner'> = {
  ...EXPERIMENTS.ModuleRunner,
  async create(config: RbpConfig, _method, _K, ctx): Promise<ExperimentSession> {
    const { dataset: ds, model: md, train: tr, seed } = configSections('ModuleRunner', config);
    const file = resolveModulePath(md.module, ctx.configDir);
    const factory = await importFactory(file);
    const configDir = ctx.configDir ?? process.cwd();
    const args: ModelFactoryArgs = {
      tf,
      rbp: { activations, Rng },
      model: { ...structuredClone(md), params: structuredClone(md.params ?? {}) },
      dataset: { ...structuredClone(ds), params: structuredClone(ds.params ?? {}) },
      train: structuredClone(tr),
      context: { configDir, dataDir: ds.path ? path.resolve(configDir, ds.path) : ctx.dataDir, seed, rng: new Rng(seed), log: ctx.log },
    };
    const before = tf.memory().numTensors;
    let model: UserModel;
    try {
      model = await factory(args);
    } catch (err) {
      throw userError(err, file, 'the model factory threw');
    }
    const freeModel = () => {
      try {
        model?.dispose?.();
      } catch (err) {
        ctx.log(userError(err, file, 'dispose').message);
      }
      const sys = (model as Partial<UserModel> | undefined)?.system;
      const held: unknown[] = [...(Array.isArray(sys?.params) ? sys.params : []), ...(Array.isArray(sys?.lossParams) ? sys.lossParams : [])];
      for (const v of held) if (v instanceof tf.Tensor && !v.isDisposed) v.dispose();
    };
    try {
      if (model?.batch) model.batch(0);
      validateModel(file, model, seed);
    } catch (err) {
      freeModel();
      throw userError(err, file, 'batch(0)');
    }
    ctx.log(`model module ${file}: ${model.system.params.length} parameter tensors (${model.system.params.reduce((s, p) => s + p.size, 0)} numbers), ${tf.memory().numTensors - before} tensors held`);
    const system = guardSystem(model.system, file);
    const stepsPerEpoch = model.stepsPerEpoch ?? 1;
    const { optimizer, atStep } = optimizerWithSchedule({ kind: tr.optimizer, lr: tr.lr, momentum: tr.momentum, wd: tr.wd, decay: tr.lr_decay, decaySteps: tr.lr_decay_steps });
    const call = <T>(what: string, fn: () => T): T => {
      try {
        return fn();
      } catch (err) {
        throw userError(err, file, what);
      }
    };
    return {
      system,
      T: md.num_update,
      numSteps: tr.max_steps ?? tr.max_epoch * stepsPerEpoch,
      stepLabel: EXPERIMENTS.ModuleRunner.stepLabel,
      optimizer,
      evalEvery: Math.max(1, tr.valid_epoch * stepsPerEpoch),
      gradientOptions: gradientOptionsOf(md, seed),
      beforeStep(i) {
        if (model.batch) call(`batch(${i})`, () => model.batch!(i));
        atStep(i);
      },
      evaluate(i) {
        if (!model.evaluate) return {};
        return checkMetrics(file, 'evaluate', call('evaluate', () => model.evaluate!(i)), model.metrics);
      },
      summary: () => ({ module: path.relative(configDir, file) || file, ...(model.summary ? call('summary', () => model.summary!()) : {}) }),
      dispose() {
        optimizer.dispose();
        freeModel();
      },
    };
  },
};
