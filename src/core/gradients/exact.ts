/**
 * exact — the implicit gradient solved to a tight tolerance, the reference the other methods'
 * errors are measured against:
 *   (I − Jᵀ) z* = g  (solved by undamped CG on the normal equations until the adjoint residual
 *   ||z − Jᵀz − g|| / ||g|| < tol, 1e-5 by default, or until it stops improving: float32
 *   round-off puts a floor near 1e-6),   dL/dw = (∂F/∂w at h*)ᵀ z*.
 * It is the true gradient of L(h*) only when the forward pass reached its fixed point; the trace
 * says whether the tolerance was met.
 */
import { dispose } from '../state';
import { rbpSetup } from './common';
import { cgNormalEquations } from './cg-rbp';
import type { GradientMethod } from './types';

export const exact: GradientMethod = {
  name: 'exact',
  summary: 'implicit gradient solved to a tight tolerance (the reference)',
  memoryGrowsWithK: false,
  compute(system, opts) {
    const s = rbpSetup(system, opts);
    const tol = opts.exactTol ?? 1e-5;
    const history: number[] = [];
    const stalled = (adj: number) => {
      history.push(adj);
      const n = history.length;
      return n > 15 && Math.min(...history.slice(-15)) > 0.9 * Math.min(...history.slice(0, n - 15));
    };
    const cg = cgNormalEquations(s.lin, s.g, s.gNorm, { eta: 0, maxIter: opts.exactMaxIter ?? 300, done: (_r, adj) => adj < tol || stalled(adj) });
    const finalRes = cg.iterations[cg.iterations.length - 1]?.residual ?? Infinity;
    cg.converged = finalRes < tol;
    const grads = s.lin.vjpParams(cg.z);
    const last = cg.iterations[cg.iterations.length - 1];
    const result = {
      method: 'exact' as const,
      K: null,
      loss: s.loss,
      grads,
      lossGrads: s.lossGrads,
      forward: s.forward,
      backward: {
        iterations: cg.iterations,
        converged: cg.converged,
        note: cg.converged ? undefined : `adjoint residual ${last?.residual?.toExponential(2) ?? 'n/a'} did not reach ${tol} in ${cg.iterations.length} CG iterations`,
      },
      adjoint: opts.keepAdjoint ? cg.z : undefined,
      vjps: cg.vjps + 1,
      jvps: cg.jvps,
    };
    if (!opts.keepAdjoint) dispose(cg.z);
    s.dispose();
    return result;
  },
};
