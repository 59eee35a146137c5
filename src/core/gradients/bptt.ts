/**
 * BPTT — back-propagation through time over all T updates:
 *   z_T = ∂L/∂h_T,  z_t = J_tᵀ z_{t+1},  dL/dw = Σ_{t<T} (∂F/∂w at h_t)ᵀ z_{t+1}.
 * Exact for the unrolled computation; memory grows with T (every h_t is kept).
 */
import { NaiveSolver } from '../solvers/naive';
import { dispose } from '../state';
import { lossGradients } from '../system';
import { chainBackward } from './common';
import type { GradientMethod, GradientOptions, GradientResult } from './types';
import type { DynamicSystem } from '../system';
import type { SolveResult } from '../solvers/types';

/** Back-propagate through the last `keep` of T plain updates (BPTT: keep = T). */
export function truncatedBackprop(system: DynamicSystem, opts: GradientOptions, keep: number, method: 'BPTT' | 'TBPTT'): GradientResult {
  const h0 = system.initialState();
  let res: SolveResult;
  try {
    // record: the kept steps bring their linearisations (systems with `stepRecorded`)
    res = new NaiveSolver().solve(system, h0, { maxSteps: opts.T, keep: Math.min(keep, opts.T), record: true, onStep: opts.onForwardStep, cancelled: opts.cancelled });
  } finally {
    dispose(h0); // also on a Stop
  }
  try {
    const { loss, dh, dtheta } = lossGradients(system, res.h);
    const { grads, iterations, vjps } = chainBackward(system, res.history, dh, opts.cancelled);
    dispose(dh);
    return {
      method,
      K: method === 'BPTT' ? null : keep,
      loss,
      grads,
      lossGrads: dtheta,
      forward: res.stats,
      backward: { iterations },
      vjps,
      jvps: 0,
    };
  } finally {
    dispose(res.h, ...res.history.map((e) => e.h));
    for (const e of res.history) e.rec?.dispose();
  }
}

export const bptt: GradientMethod = {
  name: 'BPTT',
  compute: (system, opts) => truncatedBackprop(system, opts, opts.T, 'BPTT'),
};
