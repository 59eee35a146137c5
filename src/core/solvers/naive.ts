/**
 * Naive fixed-point iteration h_{t+1} = F(h_t, w): the unroll the paper uses, and the only forward
 * pass that BPTT and TBPTT can back-propagate through.
 */
import { tf } from '../tf';
import type { DynamicSystem } from '../system';
import { State, swap, dispose } from '../state';
import type { ForwardSolver, SolveOptions, SolveResult, SolverStats } from './types';

/** ||a − b|| and ||a|| in one read-back. */
export function residualNorms(next: State, prev: State): { abs: number; rel: number } {
  const v = tf.tidy(() => {
    let d = tf.scalar(0);
    let n = tf.scalar(0);
    for (let i = 0; i < next.length; i++) {
      d = tf.add(d, tf.sum(tf.square(tf.sub(next[i], prev[i]))));
      n = tf.add(n, tf.sum(tf.square(next[i])));
    }
    return tf.stack([d, n]);
  });
  const [d2, n2] = v.dataSync();
  v.dispose();
  const abs = Math.sqrt(d2);
  const nrm = Math.sqrt(n2);
  return { abs, rel: nrm > 0 ? abs / nrm : abs };
}

export function emptyStats(solver: string): SolverStats {
  return { solver, steps: 0, absResidual: [], relResidual: [], finalAbs: NaN, finalRel: NaN, converged: false, diverged: false, timeMs: 0 };
}

export class NaiveSolver implements ForwardSolver {
  readonly name = 'naive';
  readonly plainUnroll = true;

  solve(system: DynamicSystem, h0: State, opts: SolveOptions): SolveResult {
    const t0 = performance.now();
    const w = system.params as tf.Tensor[];
    const keep = opts.keep ?? 0;
    const tol = opts.tol ?? 0;
    const stats = emptyStats(this.name);
    const history: { h: State; t: number }[] = [];
    let h = h0.map((x) => tf.clone(x));
    for (let t = 0; t < opts.maxSteps; t++) {
      const next = tf.tidy(() => system.step(h, w, t, opts.phase ?? 'unroll'));
      const { abs, rel } = residualNorms(next, h);
      if (keep > 0) {
        // A rolling window of the last `keep` inputs of F.
        history.push({ h, t });
        if (history.length > keep) dispose(history.shift()!.h);
        h = next;
      } else {
        h = swap(h, next);
      }
      stats.steps = t + 1;
      stats.absResidual.push(abs);
      stats.relResidual.push(rel);
      opts.onStep?.({ step: t + 1, abs, rel });
      if (!Number.isFinite(abs) || !Number.isFinite(rel)) {
        stats.diverged = true;
        break;
      }
      if (tol > 0 && rel < tol) {
        stats.converged = true;
        break;
      }
    }
    stats.finalAbs = stats.absResidual[stats.absResidual.length - 1] ?? NaN;
    stats.finalRel = stats.relResidual[stats.relResidual.length - 1] ?? NaN;
    if (tol > 0 && stats.finalRel < tol) stats.converged = true;
    stats.timeMs = performance.now() - t0;
    return { h, history, stats };
  }
}
