/**
 * exact — the implicit gradient solved to a tight tolerance, the reference the other methods'
 * errors are measured against:
 *   (I − Jᵀ) z* = g,   dL/dw = (∂F/∂w at h*)ᵀ z*.
 * Solved by the fixed-point iteration z ← Jᵀz + g while it contracts (ρ(J) < 1: converges to
 * float32 round-off), otherwise by undamped CG on the normal equations; it stops when the
 * adjoint residual ||z − Jᵀz − g|| / ||g|| falls below `exactTol` (1e-6) or stops improving, and
 * keeps the better of the two. It is the true gradient of L(h*) only when the forward pass reached
 * its fixed point; the trace says whether the tolerance was met.
 */
import { tf } from '../tf';
import { State, dispose } from '../state';
import type { Linearization } from '../system';
import { adjointResidual, rbpResult, rbpSetup } from './common';
import { cgNormalEquations } from './cg-rbp';
import type { BackwardIteration, GradientMethod } from './types';
import { throwIfCancelled } from '../cancel';

/** z ← Jᵀz + g from g while the residual keeps shrinking; returns the best iterate seen. */
function richardson(lin: Linearization, g: State, gNorm: number, maxIter: number, tol: number, cancelled?: () => boolean): { z: State; iterations: BackwardIteration[]; vjps: number } {
  let z: State = g.map((x) => tf.clone(x));
  let best: { z: State; r: number; k: number } | undefined;
  const iterations: BackwardIteration[] = [];
  let vjps = 0;
  for (let k = 1; k <= maxIter; k++) {
    throwIfCancelled(cancelled);
    const jtz = lin.vjp(z);
    vjps++;
    const r = adjointResidual(z, jtz, g, gNorm);
    iterations.push({ k, residual: r });
    const next = tf.tidy(() => jtz.map((j, i) => tf.add(j, g[i])));
    dispose(jtz);
    // Stryker disable next-line EqualityOperator: 'r <= best.r' differs only on a bit-exact tie with the best residual; 'r >= best.r' is killed but hidden with it
    if (Number.isFinite(r) && (!best || r < best.r)) {
      if (best) dispose(best.z);
      best = { z, r, k };
    } else dispose(z);
    z = next;
    // Stryker disable next-line EqualityOperator: 'r <= tol' is equivalent (a float residual never lands on tol); 'r >= tol' is killed but hidden with it
    if (!Number.isFinite(r) || r < tol) break;
    // Stops improving: 5 iterations past the best, or 10× it.
    if (k - best!.k >= 5) break;
    // Stryker disable next-line EqualityOperator: 'r >= 10 * best.r' is equivalent (never exactly 10×); 'r <= 10 * best.r' is killed but hidden with it
    if (r > 10 * best!.r) break;
  }
  dispose(z);
  // Stryker disable next-line ObjectLiteral: equivalent — with no finite iterate richRes is not finite, and CG's result always replaces this one
  const out = best ?? { z: g.map((x) => tf.zerosLike(x)), r: Infinity, k: 0 };
  // The trace ends at the iterate returned.
  return { z: out.z, iterations: iterations.slice(0, out.k), vjps };
}

export const exact: GradientMethod = {
  name: 'exact',
  compute(system, opts) {
    const s = rbpSetup(system, opts);
    const tol = opts.exactTol ?? 1e-6;
    const maxIter = opts.exactMaxIter ?? 300;
    const rich = richardson(s.lin, s.g, s.gNorm, maxIter, tol, opts.cancelled);
    const richRes = rich.iterations[rich.iterations.length - 1]?.residual ?? Infinity;
    let z = rich.z;
    let iterations = rich.iterations;
    let vjps = rich.vjps;
    let jvps = 0;
    let solver = 'fixed-point iteration';
    // Stryker disable next-line EqualityOperator: 'richRes <= tol' is equivalent (never exactly tol); 'richRes >= tol' is killed but hidden with it
    if (!(richRes < tol)) {
      const history: number[] = [];
      const stalled = (adj: number) => {
        history.push(adj);
        const n = history.length;
        // Stryker disable next-line EqualityOperator: 'n >= 15' is equivalent (at 15 the earlier part is empty: min = Infinity) and '>=' between residuals never ties; 'n <= 15' and '<=' are killed but hidden with them
        return n > 15 && Math.min(...history.slice(-15)) > 0.9 * Math.min(...history.slice(0, n - 15));
      };
      // Stryker disable next-line EqualityOperator: 'adj <= tol' is equivalent (never exactly tol); 'adj >= tol' is killed but hidden with it
      const cg = cgNormalEquations(s.lin, s.g, s.gNorm, { eta: 0, maxIter, done: (_r, adj) => adj < tol || stalled(adj), cancelled: opts.cancelled });
      const cgRes = cg.iterations[cg.iterations.length - 1]?.residual ?? Infinity;
      vjps += cg.vjps;
      jvps += cg.jvps;
      // Stryker disable next-line EqualityOperator: 'cgRes <= richRes' is equivalent (a tie to the last bit keeps an equally good iterate); 'cgRes >= richRes' is killed but hidden with it
      if (cgRes < richRes || !Number.isFinite(richRes)) {
        dispose(z);
        z = cg.z;
        iterations = cg.iterations;
        solver = 'CG on the normal equations';
      } else dispose(cg.z);
    }
    const finalRes = iterations[iterations.length - 1]?.residual ?? Infinity;
    // float32 round-off floors the residual near 1e-6 on some systems: within 10x of tol still counts.
    // Stryker disable next-line EqualityOperator: 'finalRes <= 10 * tol' is equivalent (never exactly); 'finalRes >= 10 * tol' is killed but hidden with it
    const converged = finalRes < 10 * tol;
    const note = `${solver}: adjoint residual ${finalRes.toExponential(2)} after ${iterations.length} iterations${converged ? '' : ` (did not reach ${tol})`}`;
    return rbpResult(s, 'exact', null, z, { iterations, converged, note }, { vjps, jvps }, opts);
  },
};
