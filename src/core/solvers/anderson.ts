/**
 * Anderson acceleration (type II) of the fixed-point iteration: keeps the last m iterates x_i and
 * their images g(x_i) = F(x_i), finds weights α (Σα = 1) minimising ||Σ α_i (g(x_i) − x_i)||,
 * and moves to x⁺ = β Σ α_i g(x_i) + (1 − β) Σ α_i x_i (solved in the equivalent difference form). Not in the paper; DEQ practitioners use it
 * to reach h* in fewer steps. Only the RBP family may use it (BPTT needs the plain unroll).
 */
import { tf } from '../tf';
import type { DynamicSystem } from '../system';
import { State, dispose, toArray } from '../state';
import { residualNorms, emptyStats } from './naive';
import type { ForwardSolver, SolveOptions, SolveResult } from './types';
import { Cancelled } from '../cancel';

export interface AndersonOptions {
  /** History window m. */
  window: number;
  /** Damping β in (0, 1]. */
  beta: number;
  /** Tikhonov regularisation of the small least-squares problem. */
  lambda: number;
}

export const ANDERSON_DEFAULTS: AndersonOptions = { window: 5, beta: 1.0, lambda: 1e-8 };

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
  constructor(readonly options: AndersonOptions = ANDERSON_DEFAULTS) {}

  /**
   * Difference form: with ΔF_j = f_{j+1} − f_j and ΔG_j = g_{j+1} − g_j over the window, solve
   * min_γ ||f_k − ΔF γ||² + λ||γ||² (normal equations in float64 on the host), then
   * x⁺ = β (g_k − ΔG γ) + (1 − β)(x_k − ΔX γ).
   */
  solve(system: DynamicSystem, h0: State, opts: SolveOptions): SolveResult {
    const t0 = performance.now();
    const { window: m, beta, lambda } = this.options;
    const w = system.params as tf.Tensor[];
    const tol = opts.tol ?? 0;
    const stats = emptyStats(this.name);
    const xs: State[] = [];
    const gs: State[] = [];
    const fs: Float64Array[] = [];
    let x = h0.map((t) => tf.clone(t));
    for (let t = 0; t < opts.maxSteps; t++) {
      if (opts.cancelled?.()) {
        dispose(...xs.filter((s) => s !== x), ...gs.filter((s) => s !== x), x);
        throw new Cancelled();
      }
      const g = tf.tidy(() => system.step(x, w, t, opts.phase ?? 'unroll'));
      const { abs, rel } = residualNorms(g, x);
      stats.steps = t + 1;
      stats.absResidual.push(abs);
      stats.relResidual.push(rel);
      opts.onStep?.({ step: t + 1, abs, rel });
      const done = !Number.isFinite(abs) || (tol > 0 && rel < tol);
      if (done) {
        stats.diverged = !Number.isFinite(abs);
        stats.converged = !stats.diverged;
        dispose(x);
        x = g;
        break;
      }
      const f = Float64Array.from(toArray(g), (v, i) => v - xFlat(x)[i]);
      xs.push(x);
      gs.push(g);
      fs.push(f);
      if (xs.length > m + 1) {
        dispose(xs.shift(), gs.shift());
        fs.shift();
      }
      const n = xs.length - 1;
      if (n === 0) {
        x = g.map((gi) => tf.clone(gi));
        continue;
      }
      const dF = Array.from({ length: n }, (_, j) => fs[j + 1].map((v, i) => v - fs[j][i]));
      const A: number[][] = dF.map((a, i) => dF.map((b, j) => dot64(a, b) + (i === j ? lambda * dot64(a, a) + 1e-30 : 0)));
      const rhs = dF.map((a) => dot64(a, fs[n]));
      const gamma = solveSmall(A, rhs);
      if (!gamma.every(Number.isFinite)) {
        x = g.map((gi) => tf.clone(gi));
        continue;
      }
      x = tf.tidy(() =>
        g.map((gk, k) => {
          let gNew: tf.Tensor = gk;
          let xNew: tf.Tensor = xs[n][k];
          for (let j = 0; j < n; j++) {
            gNew = tf.sub(gNew, tf.mul(tf.sub(gs[j + 1][k], gs[j][k]), gamma[j]));
            if (beta !== 1) xNew = tf.sub(xNew, tf.mul(tf.sub(xs[j + 1][k], xs[j][k]), gamma[j]));
          }
          return beta === 1 ? gNew : tf.add(tf.mul(gNew, beta), tf.mul(xNew, 1 - beta));
        }),
      );
    }
    dispose(...xs.filter((s) => s !== x), ...gs.filter((s) => s !== x));
    stats.finalAbs = stats.absResidual[stats.absResidual.length - 1] ?? NaN;
    stats.finalRel = stats.relResidual[stats.relResidual.length - 1] ?? NaN;
    stats.timeMs = performance.now() - t0;
    return { h: x, history: [], stats };
  }
}

const flatCache = new WeakMap<State, Float32Array>();
function xFlat(x: State): Float32Array {
  let v = flatCache.get(x);
  if (!v) {
    v = toArray(x);
    flatCache.set(x, v);
  }
  return v;
}

function dot64(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
