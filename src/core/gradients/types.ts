import type { Tensor } from '../tf';
import type { DynamicSystem, Linearization } from '../system';
import type { State } from '../state';
import type { ForwardSolver, SolverStats, StepResidual } from '../solvers/types';
import type { MethodName } from './catalog';

export type { MethodName };

/** One backward iteration k. */
export interface BackwardIteration {
  k: number;
  /** ||z_k − Jᵀz_k − g|| / ||g||: how well z_k solves the adjoint equation (RBP family, exact). */
  residual?: number;
  /** ||z_k|| / ||g||: size of the back-propagated signal after k steps (BPTT, TBPTT). */
  termNorm?: number;
  /** ||z_k − z*|| / ||z*|| against the exact adjoint, when one was given. */
  zRelErr?: number;
}

export interface BackwardTrace {
  iterations: BackwardIteration[];
  /** Iterative solvers: whether their own stopping rule was met. */
  converged?: boolean;
  note?: string;
}

export interface GradientOptions {
  /** Forward steps T. */
  T: number;
  /** Truncation / iteration count K (TBPTT, RBP, CG-RBP, Neumann-RBP). */
  K: number;
  /** Forward solver for the RBP family (BPTT/TBPTT always use the plain unroll). */
  solver?: ForwardSolver;
  /** Forward tolerance on the relative residual for the RBP family (0: run T steps). */
  forwardTol?: number;
  /** RBP: start of z ← Jᵀz + g: zero (default) or the authors' U(0,1). */
  rbpInit?: 'zero' | 'uniform';
  /** CG-RBP damping η. */
  cgEta?: number;
  /** CG-RBP stopping tolerance (default 1e-5), on ||r|| / ||b|| or, with `cgStop: 'absolute'`, on ||r||. */
  cgTol?: number;
  /** CG-RBP stopping test: 'relative' ||r|| / ||b|| < cgTol (default), or the authors' 'absolute' ||r|| < cgTol. */
  cgStop?: 'relative' | 'absolute';
  /** exact: tolerance and iteration cap. */
  exactTol?: number;
  exactMaxIter?: number;
  /** Record the adjoint residual per iteration (costs at most one extra VJP for RBP/Neumann). */
  trace?: boolean;
  /** Exact adjoint z* to compare each iterate with. */
  zRef?: State;
  /** Keep the adjoint z in the result (the caller disposes it). */
  keepAdjoint?: boolean;
  /**
   * Called with the linearisation at the last forward state and that state, before they are
   * released (exact and the RBP family): a caller's spectral-radius estimate needs no second
   * forward pass.
   */
  inspect?: (lin: Linearization, h: State) => void;
  seed?: number;
  onForwardStep?: (r: StepResidual) => void;
  /**
   * Checked once per forward update and per backward iteration: true stops the computation by
   * throwing `Cancelled` (core/cancel.ts); run it under `releasingOnThrow` to free what it held.
   */
  cancelled?: () => boolean;
}

export interface GradientResult {
  method: MethodName;
  K: number | null;
  loss: number;
  /** dL/dw for `system.params`. */
  grads: Tensor[];
  /** dL/dθ for `system.lossParams` (always exact). */
  lossGrads: Tensor[];
  forward: SolverStats;
  backward: BackwardTrace;
  adjoint?: State;
  /** Number of vector-Jacobian products of one step (VJP) and JVPs used by the backward pass. */
  vjps: number;
  jvps: number;
}

/**
 * A way of taking the gradient, independent of how the forward pass was solved. What the rest of
 * the product knows about it (label, K, memory) is its entry in `./catalog.ts`.
 */
export interface GradientMethod {
  readonly name: MethodName;
  compute(system: DynamicSystem, opts: GradientOptions): GradientResult;
}
