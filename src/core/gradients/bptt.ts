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

/** Back-propagate through the last `keep` of T plain updates (BPTT: keep = T). */
export function truncatedBackprop(system: DynamicSystem, opts: GradientOptions, keep: number, method: 'BPTT' | 'TBPTT'): GradientResult {
  const h0 = system.initialState();
  const res = new NaiveSolver().solve(system, h0, { maxSteps: opts.T, keep: Math.min(keep, opts.T), onStep: opts.onForwardStep, cancelled: opts.cancelled });
  dispose(h0);
  const { loss, dh, dtheta } = lossGradients(system, res.h);
  const { grads, iterations, vjps } = chainBackward(system, res.history, dh, opts.cancelled);
  dispose(res.h, dh, ...res.history.map((e) => e.h));
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
}

export const bptt: GradientMethod = {
  name: 'BPTT',
  compute: (system, opts) => truncatedBackprop(system, opts, opts.T, 'BPTT'),
};
