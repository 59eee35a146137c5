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
export function spectralRadius(lin: Linearization, like: State, iters = 40, seed = 7): SpectralEstimate {
  const rng = new Rng(seed);
  let v: State = like.map((x) => tf.tensor(Float32Array.from({ length: x.size }, () => rng.normal()), x.shape));
  const n0 = norm(v);
  const v0 = scale(v, 1 / n0);
  dispose(v);
  v = v0;
  const ratios: number[] = [];
  for (let i = 0; i < iters; i++) {
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

/** The verdict shown in the dashboard header, at `grad_method` in the config, and by `rbp gradcheck`. */
export function verdict(rho: number, forward: SolverStats, tol = 1e-4): Verdict {
  const rel = forward.finalRel;
  const converged = !forward.diverged && Number.isFinite(rel) && rel < tol;
  if (forward.diverged) {
    return { level: 'bad', trustRbp: false, rho, forwardConverged: false, finalRelResidual: rel, message: `forward pass diverged (NaN/Inf after ${forward.steps} steps): no fixed point; lower the learning rate or add damping` };
  }
  if (!Number.isFinite(rho)) {
    return { level: 'bad', trustRbp: false, rho, forwardConverged: converged, finalRelResidual: rel, message: 'ρ(J) could not be estimated (NaN/Inf in the Jacobian products)' };
  }
  if (rho >= 1) {
    return {
      level: 'bad',
      trustRbp: false,
      rho,
      forwardConverged: converged,
      finalRelResidual: rel,
      message: `ρ(J) = ${fmtRho(rho)} ${rho > 1 ? '>' : '≥'} 1: truncated gradients unreliable here (the Neumann series and RBP diverge); increase damping, or use BPTT (whose gradient also grows like ρ^T over long unrolls)`,
    };
  }
  if (!converged) {
    return {
      level: 'warn',
      trustRbp: false,
      rho,
      forwardConverged: false,
      finalRelResidual: rel,
      message: `ρ(J) = ${fmtRho(rho)} < 1 but the forward pass has not converged (relative residual ${fmt(rel)} after ${forward.steps} steps): run more steps before trusting RBP`,
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

