/**
 * RBP (Almeida–Pineda) — fixed-point iteration on the adjoint equation z = Jᵀz + ∂L/∂h*:
 *   z_0 = 0 (or U(0,1), the authors' choice),  z_{k+1} = Jᵀ z_k + g,  k < K,
 *   dL/dw = (∂F/∂w at h*)ᵀ z_K.
 * Converges iff ρ(J) < 1; constant memory in K.
 */
import { tf } from '../tf';
import { Rng } from '../random';
import { State, dispose } from '../state';
import { adjointResidual, rbpResult, rbpSetup, relDistance } from './common';
import type { BackwardIteration, GradientMethod } from './types';
import { throwIfCancelled } from '../cancel';

export const rbp: GradientMethod = {
  name: 'RBP',
  compute(system, opts) {
    const s = rbpSetup(system, opts);
    const K = opts.K;
    let z: State;
    if (opts.rbpInit === 'uniform') {
      const rng = new Rng(opts.seed ?? 1234);
      z = s.g.map((x) => tf.tensor(Float32Array.from({ length: x.size }, () => rng.next()), x.shape));
    } else {
      z = s.g.map((x) => tf.zerosLike(x));
    }
    const iterations: BackwardIteration[] = [];
    let vjps = 0;
    let jtz: State | undefined;
    for (let k = 0; k < K; k++) {
      throwIfCancelled(opts.cancelled);
      jtz = s.lin.vjp(z);
      vjps++;
      const next = tf.tidy(() => jtz!.map((j, i) => tf.add(j, s.g[i])));
      if (opts.trace && k > 0) iterations.push({ k, residual: adjointResidual(z, jtz, s.g, s.gNorm), zRelErr: opts.zRef ? relDistance(z, opts.zRef) : undefined });
      dispose(z, jtz);
      z = next;
    }
    if (opts.trace) {
      const last = s.lin.vjp(z);
      vjps++;
      iterations.push({ k: K, residual: adjointResidual(z, last, s.g, s.gNorm), zRelErr: opts.zRef ? relDistance(z, opts.zRef) : undefined });
      dispose(last);
    }
    return rbpResult(s, 'RBP', K, z, { iterations }, { vjps, jvps: 0 }, opts);
  },
};
