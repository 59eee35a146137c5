/** What every experiment's training set-up shares: the optimiser and its learning-rate schedule, and the gradient options of the model section. */
import { Adam, SgdMomentum, type Optimizer } from '../core/optim';
import { makeSolver } from '../core/solvers';
import type { SolverName } from '../core/solvers/catalog';
import type { GradientOptions } from '../core/gradients/types';

export interface OptimizerSettings {
  kind: 'SGD' | 'Adam';
  lr: number;
  /** SGD's momentum (Adam: β₁ = 0.9, β₂ = 0.999, ε = 1e-8). */
  momentum?: number;
  /** Weight decay. */
  wd?: number;
  /** Step decay: the learning rate is multiplied by `decay` at each of `decaySteps` (step i ≥ s). */
  decay?: number;
  decaySteps?: readonly number[];
}

/** The optimiser, and `atStep(i)`, which sets its learning rate for step i: lr · decay^#{s ∈ decaySteps : i ≥ s}. */
export function optimizerWithSchedule(o: OptimizerSettings): { optimizer: Optimizer; atStep(i: number): void } {
  const optimizer = o.kind === 'SGD' ? new SgdMomentum(o.lr, o.momentum ?? 0.9, o.wd ?? 0) : new Adam(o.lr, 0.9, 0.999, 1e-8, o.wd ?? 0);
  const steps = o.decaySteps ?? [];
  return {
    optimizer,
    atStep(i) {
      const decays = steps.filter((s) => i >= s).length;
      optimizer.setLearningRate(o.lr * Math.pow(o.decay ?? 1, decays));
    },
  };
}

/** The model fields of ours every runner has: the RBP family's forward solver and tolerance, RBP's start, CG-RBP's stopping test. */
export interface SolverFields {
  forward_solver?: SolverName;
  forward_tol?: number;
  rbp_init?: 'zero' | 'uniform';
  cg_stop?: 'relative' | 'absolute';
}

/** Gradient options from the model section (the run's seed seeds RBP's random start; `cancelled` reaches the methods' loops). */
export function gradientOptionsOf(model: SolverFields, seed: number, cancelled?: () => boolean): Partial<GradientOptions> {
  return { solver: model.forward_solver ? makeSolver(model.forward_solver) : undefined, forwardTol: model.forward_tol, rbpInit: model.rbp_init, cgStop: model.cg_stop, seed, cancelled };
}
