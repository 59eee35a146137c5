/**
 * Gradient probes during training (`train.grad_probe_every`, `--probe-every`): at one step's
 * weights and batch, the gradient the run trains with against `exact` (and BPTT), ρ(J), and the
 * probe's own cost. The references are the gradient check's (`references` in ./gradcheck.ts), so a
 * probe's numbers equal a gradient check's at the same weights and batch. A probe draws no random
 * numbers and changes no weight: the training trajectory is the same with and without probes.
 */
import { compareGrads } from '../core/metrics';
import { dispose } from '../core/state';
import type { GradientResult, MethodName } from '../core/gradients/types';
import type { ExperimentSession } from '../experiments/types';
import type { ProbeMsg } from '../protocol/messages';
import { references } from './gradcheck';

const orNull = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : x);

/** Probe `result` (the training step's own gradient, computed at this step's weights and batch); `cancelled` reaches the references' loops. */
export function probeGradient(session: ExperimentSession, step: number, method: MethodName, K: number | null, result: GradientResult, cancelled?: () => boolean): ProbeMsg {
  const t0 = performance.now();
  const base = { T: session.T, K: 1, ...session.gradientOptions, trace: true, cancelled };
  // BPTT itself needs no second BPTT: its own gradient is the reference (error 0, cosine 1, as a gradient check's BPTT row).
  const { ex, bp, rho } = references(session.system, base, method !== 'BPTT');
  const mine = [...result.grads, ...result.lossGrads];
  const ce = compareGrads(mine, [...ex.r.grads, ...ex.r.lossGrads]);
  const cb = bp ? compareGrads(mine, [...bp.r.grads, ...bp.r.lossGrads]) : { relErr: 0, cosine: 1 };
  const its = ex.r.backward.iterations;
  const exactResidual = its.length ? orNull(its[its.length - 1].residual) : null;
  dispose(ex.r.grads, ex.r.lossGrads, ex.r.adjoint ?? [], bp?.r.grads ?? [], bp?.r.lossGrads ?? []);
  return {
    type: 'probe',
    step,
    method,
    K,
    relErrExact: ce.relErr,
    cosExact: ce.cosine,
    relErrBptt: orNull(cb.relErr),
    cosBptt: orNull(cb.cosine),
    rho: orNull(rho),
    exactResidual,
    exactConverged: Boolean(ex.r.backward.converged),
    ms: performance.now() - t0,
  };
}
