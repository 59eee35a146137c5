/**
 * TBPTT(K) — truncated back-propagation through the last K of T updates (the authors'
 * `truncate_iter` convention: K updates):
 *   z_T = ∂L/∂h_T,  z_t = J_tᵀ z_{t+1} for t ≥ T−K,  dL/dw = Σ_{t=T−K}^{T−1} (∂F/∂w at h_t)ᵀ z_{t+1}.
 * At a fixed point this equals Neumann-RBP with parameter K−1 (K terms). Memory grows with K.
 */
import { truncatedBackprop } from './bptt';
import type { GradientMethod } from './types';

export const tbptt: GradientMethod = {
  name: 'TBPTT',
  compute: (system, opts) => {
    if (!(opts.K >= 1)) throw new Error(`TBPTT needs K ≥ 1 (got ${opts.K})`);
    return truncatedBackprop(system, opts, opts.K, 'TBPTT');
  },
};
