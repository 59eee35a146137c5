/** Pieces shared by the gradient methods: the unrolled chain and the RBP-family set-up. */
import { tf, Tensor } from '../tf';
import { DynamicSystem, Linearization, linearize, lossGradients, paramVjpMany } from '../system';
import type { RecordedStep } from '../system';
import { State, dispose, norm, sub } from '../state';
import { NaiveSolver } from '../solvers/naive';
import { residualNorms } from '../solvers/naive';
import type { SolverStats } from '../solvers/types';
import type { BackwardIteration, BackwardTrace, GradientOptions, GradientResult, MethodName } from './types';
import { throwIfCancelled } from '../cancel';
import { stateNorm } from '../kernels';

/**
 * Back-propagate g = dL/dh_T through the recorded unroll steps (h_t, t), newest last:
 * z_T = g, z_t = J_tᵀ z_{t+1}, and dL/dw = Σ_t (∂F/∂w at h_t)ᵀ z_{t+1}.
 * Only one-step VJPs are chained (no tape over the unroll), and the parameter part is formed
 * in one go through `paramVjpMany`.
 */
export function chainBackward(system: DynamicSystem, steps: { h: State; t: number; rec?: RecordedStep }[], g: State, cancelled?: () => boolean): { grads: Tensor[]; iterations: BackwardIteration[]; vjps: number } {
  const w = system.params as Tensor[];
  const gNorm = stateNorm(g) || 1;
  const zs: State[] = [];
  const iterations: BackwardIteration[] = [];
  let z = g.map((x) => tf.clone(x));
  let vjps = 0;
  const batched = Boolean(system.paramVjpMany);
  let acc: Tensor[] | undefined;
  for (let i = steps.length - 1; i >= 0; i--) {
    throwIfCancelled(cancelled);
    const { h, t } = steps[i];
    // a recorded step brings its linearisation from the forward pass (F is not evaluated again)
    const lin = steps[i].rec?.linearize() ?? linearize(system, h, w, t, 'unroll');
    let zPrev: State | undefined;
    if (batched) {
      zs.unshift(z);
      if (i > 0) zPrev = lin.vjp(z);
    } else {
      const both = lin.vjpBoth(z);
      zPrev = both.h;
      if (!acc) acc = both.w;
      else {
        const next = acc.map((a, j) => tf.add(a, both.w[j]));
        dispose(acc, both.w);
        acc = next;
      }
      dispose(z);
    }
    vjps++;
    lin.dispose();
    iterations.push({ k: steps.length - i, termNorm: zPrev ? stateNorm(zPrev) / gNorm : undefined });
    // Batched, at the oldest step there is no zPrev: z stays (it is in zs, disposed below).
    // Stryker disable next-line ConditionalExpression: 'true' is equivalent (z is not read after the oldest step); 'false' is killed but hidden with it
    if (zPrev) z = zPrev;
  }
  if (batched) {
    acc = paramVjpMany(system, steps.map((s) => s.h), zs, steps.map((s) => s.t), 'unroll');
    dispose(...zs);
  } else {
    dispose(z);
  }
  return { grads: acc ?? w.map((x) => tf.zerosLike(x)), iterations, vjps };
}

export interface RbpSetup {
  hPrev: State;
  hT: State;
  lin: Linearization;
  loss: number;
  g: State;
  gNorm: number;
  lossGrads: Tensor[];
  forward: SolverStats;
  dispose(): void;
}

/**
 * Forward T−1 steps with the chosen solver to h_{T−1}, then the last update h_T = F(h_{T−1})
 * built as a linearisation point: J = ∂F/∂h there. g = dL/dh_T.
 */
export function rbpSetup(system: DynamicSystem, opts: GradientOptions): RbpSetup {
  const solver = opts.solver ?? new NaiveSolver();
  const h0 = system.initialState();
  const res = solver.solve(system, h0, { maxSteps: Math.max(0, opts.T - 1), tol: opts.forwardTol ?? 0, onStep: opts.onForwardStep, cancelled: opts.cancelled });
  dispose(h0);
  const hPrev = res.h;
  const w = system.params as Tensor[];
  const t = res.stats.steps;
  const hT = tf.tidy(() => system.step(hPrev, w, t, 'linearize'));
  const { abs, rel } = residualNorms(hT, hPrev);
  const forward = res.stats;
  forward.steps += 1;
  forward.absResidual.push(abs);
  forward.relResidual.push(rel);
  forward.finalAbs = abs;
  forward.finalRel = rel;
  if (!Number.isFinite(abs)) forward.diverged = true;
  opts.onForwardStep?.({ step: forward.steps, abs, rel });
  const lin = linearize(system, hPrev, w, t, 'linearize');
  const { loss, dh, dtheta } = lossGradients(system, hT);
  const gNorm = norm(dh);
  return {
    hPrev,
    hT,
    lin,
    loss,
    g: dh,
    gNorm,
    lossGrads: dtheta,
    forward,
    dispose() {
      lin.dispose();
      dispose(hPrev, hT, dh);
    },
  };
}

/** ||z − z*|| / ||z*|| */
export function relDistance(z: State, zRef: State): number {
  const d = sub(z, zRef);
  const r = norm(d) / (norm(zRef) || 1);
  dispose(d);
  return r;
}

/** ||z − Jᵀz − g|| / ||g|| given Jᵀz. */
export function adjointResidual(z: State, jtz: State, g: State, gNorm: number): number {
  const r = tf.tidy(() => z.map((zi, i) => tf.sub(tf.sub(zi, jtz[i]), g[i])));
  const v = norm(r) / (gNorm || 1);
  dispose(r);
  return v;
}

/**
 * Finish an RBP-family method: dL/dw = (∂F/∂w at h*)ᵀ z, the result record, and clean-up (z is
 * kept only when the caller asked for the adjoint).
 */
export function rbpResult(s: RbpSetup, method: MethodName, K: number | null, z: State, backward: BackwardTrace, counts: { vjps: number; jvps: number }, opts: GradientOptions): GradientResult {
  const grads = s.lin.vjpParams(z);
  const result: GradientResult = {
    method,
    K,
    loss: s.loss,
    grads,
    lossGrads: s.lossGrads,
    forward: s.forward,
    backward,
    adjoint: opts.keepAdjoint ? z : undefined,
    vjps: counts.vjps + 1,
    jvps: counts.jvps,
  };
  if (!opts.keepAdjoint) dispose(z);
  try {
    opts.inspect?.(s.lin, s.hPrev);
  } finally {
    s.dispose();
  }
  return result;
}
