/**
 * Neumann-RBP — the truncated Neumann series of (I − Jᵀ)⁻¹:
 *   v_0 = g = ∂L/∂h*,  v_k = Jᵀ v_{k−1},  z_K = Σ_{k=0}^{K} v_k,  dL/dw = (∂F/∂w at h*)ᵀ z_K.
 * K vector-Jacobian products; memory constant in K. At a fixed point it equals TBPTT over K+1
 * updates (the paper says K). The adjoint residual of z_k is ||v_{k+1}|| / ||g||.
 */
import { tf } from '../tf';
import { State, dispose, norm } from '../state';
import { rbpResult, rbpSetup, relDistance } from './common';
import type { BackwardIteration, GradientMethod } from './types';
import { throwIfCancelled } from '../cancel';

export const neumannRbp: GradientMethod = {
  name: 'Neumann_RBP',
  compute(system, opts) {
    const s = rbpSetup(system, opts);
    const K = opts.K;
    let v: State = s.g.map((x) => tf.clone(x));
    let z: State = s.g.map((x) => tf.clone(x));
    const iterations: BackwardIteration[] = [];
    let vjps = 0;
    const steps = opts.trace ? K + 1 : K;
    for (let k = 1; k <= steps; k++) {
      throwIfCancelled(opts.cancelled);
      const next = s.lin.vjp(v);
      vjps++;
      dispose(v);
      v = next;
      // The residual of z_{k−1} is ||v_k|| / ||g||.
      if (opts.trace) iterations.push({ k: k - 1, residual: norm(v) / (s.gNorm || 1), zRelErr: opts.zRef ? relDistance(z, opts.zRef) : undefined });
      if (k <= K) {
        const z2 = tf.tidy(() => z.map((zi, i) => tf.add(zi, v[i])));
        dispose(z);
        z = z2;
      }
    }
    dispose(v);
    return rbpResult(s, 'Neumann_RBP', K, z, { iterations }, { vjps, jvps: 0 }, opts);
  },
};
