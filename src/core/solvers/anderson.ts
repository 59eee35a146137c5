/**
 * Anderson acceleration (type II) of the fixed-point iteration: keeps the last m iterates x_i and
 * their images g(x_i) = F(x_i), finds weights α (Σα = 1) minimising ||Σ α_i (g(x_i) − x_i)||,
 * and moves to x⁺ = β Σ α_i g(x_i) + (1 − β) Σ α_i x_i. Not in the paper; DEQ practitioners use it
 * to reach h* in fewer steps. Only the RBP family may use it (BPTT needs the plain unroll).
 */
import { tf } from '../tf';
import type { DynamicSystem } from '../system';
import { State, dispose, dot } from '../state';
import { residualNorms, emptyStats } from './naive';
import type { ForwardSolver, SolveOptions, SolveResult } from './types';

export interface AndersonOptions {
  /** History window m. */
  window: number;
  /** Damping β in (0, 1]. */
  beta: number;
  /** Tikhonov regularisation of the small least-squares problem. */
  lambda: number;
}

/** Solve the (n×n) linear system A x = b by Gaussian elimination with partial pivoting. */
export function solveSmall(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    const piv = M[c][c] || 1e-30;
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / piv;
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / (M[r][r] || 1e-30);
  }
  return x;
}

export class AndersonSolver implements ForwardSolver {
  readonly name = 'anderson';
  readonly plainUnroll = false;
  constructor(readonly options: AndersonOptions = { window: 5, beta: 1.0, lambda: 1e-4 }) {}

  solve(system: DynamicSystem, h0: State, opts: SolveOptions): SolveResult {
    const t0 = performance.now();
    const { window: m, beta, lambda } = this.options;
    const w = system.params as tf.Tensor[];
    const tol = opts.tol ?? 0;
    const stats = emptyStats(this.name);
    const xs: State[] = [];
    const gs: State[] = [];
    const fs: State[] = [];
    let x = h0.map((t) => tf.clone(t));
    for (let t = 0; t < opts.maxSteps; t++) {
      const g = tf.tidy(() => system.step(x, w, t, opts.phase ?? 'unroll'));
      const { abs, rel } = residualNorms(g, x);
      stats.steps = t + 1;
      stats.absResidual.push(abs);
      stats.relResidual.push(rel);
      opts.onStep?.({ step: t + 1, abs, rel });
      if (!Number.isFinite(abs)) {
        stats.diverged = true;
        dispose(x);
        x = g;
        break;
      }
      if (tol > 0 && rel < tol) {
        stats.converged = true;
        dispose(x);
        x = g;
        break;
      }
      xs.push(x);
      gs.push(g);
      fs.push(tf.tidy(() => g.map((gi, i) => tf.sub(gi, x[i]))));
      if (xs.length > m) {
        dispose(xs.shift(), gs.shift(), fs.shift());
      }
      const n = xs.length;
      // Minimise ||Σ α_i f_i||² + λ||α||² subject to Σ α_i = 1 via the KKT system.
      const G: number[][] = [];
      for (let i = 0; i < n; i++) {
        G.push([]);
        for (let j = 0; j < n; j++) G[i].push(j < i ? G[j][i] : dot(fs[i], fs[j]) + (i === j ? lambda : 0));
      }
      const scaleG = Math.max(...G.map((r, i) => r[i]), 1e-30);
      const A = G.map((r) => [...r.map((v) => v / scaleG), 1]);
      A.push([...new Array<number>(n).fill(1), 0]);
      const rhs = [...new Array<number>(n).fill(0), 1];
      let alpha = solveSmall(A, rhs).slice(0, n);
      if (!alpha.every(Number.isFinite)) alpha = new Array<number>(n).fill(0).map((_, i) => (i === n - 1 ? 1 : 0));
      x = tf.tidy(() =>
        x.map((_, k) => {
          let acc = tf.zerosLike(x[k]);
          for (let i = 0; i < n; i++) {
            const mix = beta === 1 ? gs[i][k] : tf.add(tf.mul(gs[i][k], beta), tf.mul(xs[i][k], 1 - beta));
            acc = tf.add(acc, tf.mul(mix, alpha[i]));
          }
          return acc;
        }),
      );
    }
    // xs holds the previous iterates (x itself is new), gs/fs are ours to free.
    dispose(...xs.filter((s) => s !== x), ...gs.filter((s) => s !== x), ...fs);
    stats.finalAbs = stats.absResidual[stats.absResidual.length - 1] ?? NaN;
    stats.finalRel = stats.relResidual[stats.relResidual.length - 1] ?? NaN;
    stats.timeMs = performance.now() - t0;
    return { h: x, history: [], stats };
  }
}
