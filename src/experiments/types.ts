/**
 * What an experiment provides to the runner: its catalog entry (`./catalog.ts`) and `create`, which
 * makes a training session from a config. How to add one: `./catalog.ts`.
 */
import type { DynamicSystem } from '../core/system';
import type { Optimizer } from '../core/optim';
import type { MethodName, GradientOptions, GradientResult } from '../core/gradients/types';
import type { RbpConfig } from '../config/load';
import type { RunnerName } from '../config/schema';
import type { ExperimentInfo } from './catalog';
import type { FailureKind } from '../protocol/messages';

export interface ExperimentContext {
  /** Folder with data files (Planetoid) when the experiment needs one. */
  dataDir?: string;
  /** Folder of the config file the run came from: relative paths in it are tried from there first. */
  configDir?: string;
  log(text: string): void;
  /** The run's cancellation check: sessions pass it to the loops of their evaluation and gradient options. */
  cancelled?: () => boolean;
}

export interface ExperimentSession {
  readonly system: DynamicSystem;
  /** Forward steps T. */
  readonly T: number;
  /** Optimisation steps the run takes (training steps, epochs or meta-iterations). */
  readonly numSteps: number;
  readonly stepLabel: 'step' | 'epoch' | 'meta-iteration';
  readonly optimizer: Optimizer;
  /** Evaluate every this many steps (and at the end). */
  readonly evalEvery: number;
  /** Write a checkpoint every this many steps (train.snapshot_epoch in steps; default evalEvery), and at the end. */
  readonly snapshotEvery?: number;
  /** Method-specific extras for `GradientOptions` (e.g. the solver and tolerances from the config). */
  readonly gradientOptions: Partial<GradientOptions>;
  /** Prepare step i (pick the batch, set the learning rate). */
  beforeStep(i: number): void;
  /** Extra per-step metrics from a finished gradient computation (e.g. accuracy on the batch). */
  stepMetrics?(i: number, result: GradientResult): Record<string, number>;
  /** Evaluation metrics (validation/test accuracy, retrieval error...). */
  evaluate(i: number): Record<string, number>;
  /** Final summary numbers (best validation accuracy...), merged into run/finished. */
  summary(): Record<string, number | string | boolean>;
  /**
   * The session's training state beyond the system's parameters and the optimiser (which
   * `./state.ts` saves for every session): random generators, shuffle order, best-so-far numbers,
   * as JSON. A session whose state is only those two needs neither method.
   */
  extraState?(): Record<string, unknown>;
  /** Restore what `extraState` returned; throws (changing nothing) on a value it cannot take. */
  restoreExtraState?(s: Record<string, unknown>): void;
  dispose(): void;
}

/** What `create` returns: a session, or its promise for ModuleRunner (which imports the user's module first). */
export type SessionOf<R extends RunnerName> = R extends 'ModuleRunner' ? Promise<ExperimentSession> : ExperimentSession;

export interface Experiment<R extends RunnerName> extends ExperimentInfo<R> {
  create(config: RbpConfig, method: MethodName, K: number, ctx: ExperimentContext): SessionOf<R>;
}

export type AnyExperiment = { [R in RunnerName]: Experiment<R> }[RunnerName];

/** A failure with a kind the UI can show (bad data, bad config...). */
export class RunError extends Error {
  constructor(
    readonly kind: Extract<FailureKind, 'bad-config' | 'bad-data' | 'diverged' | 'out-of-memory' | 'error'>,
    message: string,
  ) {
    super(message);
    this.name = 'RunError';
  }
}
