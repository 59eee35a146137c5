/**
 * Diagnostics at the fixed point: the spectral radius of J = ∂F/∂h by power iteration on VJPs
 * (ρ(Jᵀ) = ρ(J)), and a plain verdict on whether RBP / Neumann-RBP can be trusted.
 */
import { tf } from './tf';
import { Rng } from './random';
import type { Linearization } from './system';
import { State, dispose, norm, scale } from './state';
import type { SolverStats } from './solvers/types';
import { fmt, fmtRho } from './format';
import { Cancelled } from './cancel';
import { RHO_NOT_CONTRACTIVE } from './verdictBands';

export { RHO_NOT_CONTRACTIVE, RHO_NEAR_ONE, rhoBand } from './verdictBands';

/** Power iterations of every ρ(J) estimate (the runner's diagnostics, the gradient check). */
export const DIAGNOSE_ITERS = 50;

export interface SpectralEstimate {
  rho: number;
  iterations: number;
  /** Growth ratio per iteration, for judging convergence of the estimate. */
  ratios: number[];
}

/**
 * ρ(J) ≈ (||(Jᵀ)^n v|| / ||(Jᵀ)^{n−m} v||)^{1/m} over the last m of n iterations (robust to the
 * oscillation of complex dominant eigenvalue pairs).
 */
export function spectralRadius(lin: Linearization, like: State, iters = 40, seed = 7, cancelled?: () => boolean): SpectralEstimate {
  const rng = new Rng(seed);
  let v: State = like.map((x) => tf.tensor(Float32Array.from({ length: x.size }, () => rng.normal()), x.shape));
  const n0 = norm(v);
  const v0 = scale(v, 1 / n0);
  dispose(v);
  v = v0;
  const ratios: number[] = [];
  for (let i = 0; i < iters; i++) {
    if (cancelled?.()) {
      dispose(v);
      throw new Cancelled();
    }
    const w = lin.vjp(v);
    const r = norm(w);
    dispose(v);
    ratios.push(r);
    if (!(r > 0) || !Number.isFinite(r)) {
      dispose(w);
      return { rho: r === 0 ? 0 : NaN, iterations: i + 1, ratios };
    }
    v = scale(w, 1 / r);
    dispose(w);
  }
  dispose(v);
  const m = Math.min(20, Math.ceil(ratios.length / 2));
  const tail = ratios.slice(-m);
  const rho = Math.exp(tail.reduce((s, r) => s + Math.log(r), 0) / m);
  return { rho, iterations: iters, ratios };
}

export type VerdictLevel = 'ok' | 'warn' | 'bad';

export interface Verdict {
  level: VerdictLevel;
  /** RBP / Neumann-RBP / truncated gradients can be trusted here. */
  trustRbp: boolean;
  rho: number;
  forwardConverged: boolean;
  finalRelResidual: number;
  message: string;
}

/** Whether a forward pass reached its fixed point: no NaN/Inf and a final relative residual below tol. */
export function forwardConverged(forward: Pick<SolverStats, 'diverged' | 'finalRel' | 'converged'>, tol = 1e-4): boolean {
  return forward.converged || (!forward.diverged && Number.isFinite(forward.finalRel) && forward.finalRel < tol);
}

/** The verdict shown in the dashboard header, at `grad_method` in the config, and by `rbp gradcheck`. */
export function verdict(rho: number, forward: SolverStats, tol = 1e-4): Verdict {
  const rel = forward.finalRel;
  const converged = !forward.diverged && Number.isFinite(rel) && rel < tol;
  if (forward.diverged) {
    return { level: 'bad', trustRbp: false, rho, forwardConverged: false, finalRelResidual: rel, message: `forward pass diverged (NaN/Inf after ${forward.steps} steps): no fixed point` };
  }
  if (!Number.isFinite(rho)) {
    return { level: 'bad', trustRbp: false, rho, forwardConverged: converged, finalRelResidual: rel, message: 'ρ(J) could not be estimated (NaN/Inf in the Jacobian products)' };
  }
  if (rho >= RHO_NOT_CONTRACTIVE) {
    return {
      level: 'bad',
      trustRbp: false,
      rho,
      forwardConverged: converged,
      finalRelResidual: rel,
      message: `ρ(J) = ${fmtRho(rho)} ${rho > 1 ? '>' : '≥'} 1: truncated gradients unreliable here (the Neumann series and RBP diverge; BPTT's gradient grows like ρ^T over long unrolls)`,
    };
  }
  if (!converged) {
    return {
      level: 'warn',
      trustRbp: false,
      rho,
      forwardConverged: false,
      finalRelResidual: rel,
      message: `ρ(J) = ${fmtRho(rho)} < 1 but the forward pass has not converged (relative residual ${fmt(rel)} after ${forward.steps} steps): RBP needs more forward steps (T) or a faster forward solver`,
    };
  }
  return {
    level: 'ok',
    trustRbp: true,
    rho,
    forwardConverged: true,
    finalRelResidual: rel,
    message: `Neumann series converges, ρ(J) = ${fmtRho(rho)}; forward converged (relative residual ${fmt(rel)})`,
  };
}


export interface TrainingFinding {
  /** 'warn': worth a warning in the run; 'bad': hopeless, the run should fail. */
  level: 'warn' | 'bad';
  message: string;
}

/**
 * Divergence that stays finite, watched step by step (NaN/Inf is caught elsewhere). Two signs,
 * each reported once as a warning:
 *  - the loss at `warnGrowth` (10³) times the first step's or more; at `failGrowth` (10⁶) times
 *    for `patience` steps in a row the run is hopeless ('bad');
 *  - a forward pass that reached its fixed point at the start (the verdict's criterion,
 *    `forwardConverged`) and has not for `patience` steps in a row: the training moved the model
 *    out of the regime RBP relies on.
 * The first loss is floored at 1e-3 (this project's losses are O(0.1–10)) so that a loss that
 * starts at or near 0 is not "infinitely" grown.
 */
export class TrainingWatch {
  private first: number | undefined;
  private startConverged: boolean | undefined;
  private hopelessSteps = 0;
  private unconvergedSteps = 0;
  private readonly warned = new Set<'loss' | 'forward'>();

  constructor(private readonly opts = { warnGrowth: 1e3, failGrowth: 1e6, patience: 5, tol: 1e-4 }) {}

  observe(loss: number, forward: Pick<SolverStats, 'diverged' | 'finalRel' | 'converged' | 'steps'>): TrainingFinding | undefined {
    const o = this.opts;
    this.first ??= Math.max(Math.abs(loss), 1e-3);
    const converged = forwardConverged(forward, o.tol);
    this.startConverged ??= converged;
    const growth = loss / this.first;
    this.hopelessSteps = growth >= o.failGrowth ? this.hopelessSteps + 1 : 0;
    this.unconvergedSteps = this.startConverged && !converged ? this.unconvergedSteps + 1 : 0;
    const grew = `the loss grew from ${fmt(this.first)} to ${fmt(loss)} (${fmt(growth)}×)`;
    if (this.hopelessSteps >= o.patience) return { level: 'bad', message: `${grew} and stayed above ${fmt(o.failGrowth)}× its start for ${o.patience} steps: the training diverged; lower the learning rate` };
    if (growth >= o.warnGrowth && !this.warned.has('loss')) {
      this.warned.add('loss');
      return { level: 'warn', message: `${grew}: the training is diverging; lower the learning rate` };
    }
    if (this.unconvergedSteps >= o.patience && !this.warned.has('forward')) {
      this.warned.add('forward');
      return { level: 'warn', message: `the forward pass reached its fixed point at the start but has not for ${o.patience} steps (relative residual ${fmt(forward.finalRel)} after ${forward.steps} steps): RBP-family gradients are unreliable from here; lower the learning rate` };
    }
    return undefined;
  }
}
