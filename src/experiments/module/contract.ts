/**
 * The contract between RBP Lab and a model module of the user's (`runner: ModuleRunner`,
 * `model.module: ./models/my_model.mjs`). src/model.ts exports it for model authors (`rbp-lab/model`,
 * the template's rbp-model.d.ts: one declaration file generated from it by the build).
 */
import type { tf } from '../../core/tf';
import type { DynamicSystem } from '../../core/system';
import type { Rng } from '../../core/random';
import type * as activations from '../../core/activations';

/** The seeded generator's methods (the class `Rng` of core/random, without its private state). */
export type RngLike = Pick<Rng, 'next' | 'normal' | 'int' | 'permutation' | 'normalArray'>;

export interface ModelContext {
  /** Folder of the config file (relative paths of yours are relative to it). */
  configDir: string;
  /** `dataset.path` resolved against the config's folder; else the run's data folder (`--data`, rbpLab.dataDir); else undefined. */
  dataDir?: string;
  /** The config's seed. */
  seed: number;
  /** Seeded with the config's seed: the same initial weights and data every run. */
  rng: RngLike;
  /** A line in the run's log (the dashboard, the CLI's stderr). */
  log(text: string): void;
}

/** What the module's factory receives. */
export interface ModelFactoryArgs {
  /** The TensorFlow.js RBP Lab runs on (never import a second copy). */
  tf: typeof tf;
  rbp: {
    /** tanh, sigmoid, exp, softmax, logSumExp with correct second derivatives (tfjs's own are wrong at second order), and two losses. */
    activations: typeof activations;
    /** The seeded random generator's class (mulberry32): normal(), next(), int(n), permutation(n), normalArray(n, scale). */
    Rng: new (seed: number) => RngLike;
  };
  /** The config's `model:` section (your own keys under `model.params`). */
  model: Record<string, unknown> & { params: Record<string, unknown> };
  /** The config's `dataset:` section (your own keys under `dataset.params`). */
  dataset: Record<string, unknown> & { params: Record<string, unknown> };
  /** The config's `train:` section (batch_size, …; the optimiser is RBP Lab's). */
  train: Record<string, unknown>;
  context: ModelContext;
}

/** What the factory returns. */
export interface UserModel {
  /** h_{t+1} = F(h_t, w) and its loss; `step` must be a pure function of the h and w passed in. */
  system: DynamicSystem;
  /** Prepare optimisation step `step` (0-based): select its batch. */
  batch?(step: number): void;
  /** Steps per epoch (train.max_epoch and train.valid_epoch count epochs); default 1. */
  stepsPerEpoch?: number;
  /** Evaluation metrics (e.g. accuracy on held-out data), every train.valid_epoch epochs and at the end. */
  evaluate?(step: number): Record<string, number>;
  /** The metric names `evaluate` returns (checked on each call when given). */
  metrics?: readonly string[];
  /** Final summary numbers merged into the run's record. */
  summary?(): Record<string, number | string | boolean>;
  /** Free what the model holds (its variables are freed by RBP Lab if this does not). */
  dispose?(): void;
}

export type ModelFactory = (args: ModelFactoryArgs) => UserModel | Promise<UserModel>;
