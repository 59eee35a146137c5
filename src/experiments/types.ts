/**
 * What an experiment provides to the runner. A fourth experiment: a folder under
 * `src/experiments/<name>/` with a model (a `DynamicSystem`) and an `Experiment`, registered in
 * `src/experiments/index.ts`, plus its schema in `src/config/schema.ts`.
 */
import type { DynamicSystem } from '../core/system';
import type { Optimizer } from '../core/optim';
import type { MethodName, GradientOptions, GradientResult } from '../core/gradients/types';
import type { RbpConfig } from '../config/load';
import type { RunnerName } from '../config/schema';

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
  dispose(): void;
}

export interface Experiment {
  readonly runner: RunnerName;
  /** Built-in names that use this experiment (hopfield; cora, pubmed, citeseer; hypergrad). */
  readonly names: string[];
  title(config: RbpConfig): string;
  /**
   * A lower estimate of the tensor memory a run needs, from its config alone (before anything is
   * allocated), and what drives it (naming the config fields): a request this machine cannot hold
   * is refused up front with the estimate.
   */
  estimateBytes(config: RbpConfig, method: MethodName, K: number): MemoryEstimate;
  create(config: RbpConfig, method: MethodName, K: number, ctx: ExperimentContext): ExperimentSession;
}

export interface MemoryEstimate {
  bytes: number;
  /** What the bytes are, naming the config fields that set them. */
  what: string;
}

/** States back-propagation keeps: T for BPTT, K for TBPTT, a few for the RBP family. */
export function keptStates(method: MethodName, T: number, K: number): number {
  return method === 'BPTT' ? T : method === 'TBPTT' ? Math.min(K, T) : 2;
}

/** A failure with a kind the UI can show (bad data, bad config...). */
export class RunError extends Error {
  constructor(
    readonly kind: 'bad-config' | 'bad-data' | 'diverged' | 'out-of-memory' | 'error',
    message: string,
  ) {
    super(message);
    this.name = 'RunError';
  }
}
