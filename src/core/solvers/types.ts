import type { DynamicSystem, RecordedStep } from '../system';
import type { State } from '../state';

/** One forward step's record: ||h_{t+1} − h_t|| and the same ÷ ||h_{t+1}||. */
export interface StepResidual {
  step: number;
  abs: number;
  rel: number;
}

/** The one stats record every forward solver returns. */
export interface SolverStats {
  solver: string;
  steps: number;
  absResidual: number[];
  relResidual: number[];
  finalAbs: number;
  finalRel: number;
  /** The relative residual reached the tolerance. */
  converged: boolean;
  /** A residual or a state became NaN/Inf. */
  diverged: boolean;
  timeMs: number;
}

export interface SolveOptions {
  /** Number of updates to run at most. */
  maxSteps: number;
  /** Stop when the relative residual falls below this (0: always run maxSteps). */
  tol?: number;
  /** Keep the last `keep` states that were fed into F (for truncated back-propagation). */
  keep?: number;
  /**
   * With `keep`: step the last `keep` updates through the system's `stepRecorded` where it has
   * one, so that the history carries their linearisations (BPTT and TBPTT back-propagate through them).
   */
  record?: boolean;
  /** Called after every update. */
  onStep?: (r: StepResidual) => void;
  /** Phase passed to the system's step. */
  phase?: 'unroll' | 'linearize';
  /** Checked before every update: true stops the solve by throwing `Cancelled`. */
  cancelled?: () => boolean;
}

export interface SolveResult {
  /** The final state. */
  h: State;
  /** The last `keep` inputs of F, oldest first, with their step indices (and the recorded step, with `record`). */
  history: { h: State; t: number; rec?: RecordedStep }[];
  stats: SolverStats;
}

export interface ForwardSolver {
  readonly name: string;
  /** Whether the iterates are the plain unroll h_{t+1} = F(h_t) (required by BPTT/TBPTT). */
  readonly plainUnroll: boolean;
  solve(system: DynamicSystem, h0: State, opts: SolveOptions): SolveResult;
}
