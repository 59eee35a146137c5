/**
 * A convergent dynamic system h_{t+1} = F(h_t, w) with a loss on its final state.
 * Experiments implement this; solvers and gradient methods only ever see this interface.
 */
import { tf, Tensor } from './tf';
import type { State } from './state';

/** Which kind of step is asked for: a normal unrolled update, or the one RBP linearises at. */
export type StepPhase = 'unroll' | 'linearize';

export interface DynamicSystem {
  readonly name: string;
  /** w: parameters of F, the ones RBP-family methods approximate the gradient of. */
  readonly params: tf.Variable[];
  /** θ: parameters only the loss uses (an output layer); they get their exact direct gradient. */
  readonly lossParams: tf.Variable[];
  /** h_0. The caller owns (and disposes) the returned tensors. */
  initialState(): State;
  /**
   * h_{t+1} = F(h_t, w). Must be a pure function of `h` and `w` (the tensors passed in, not the
   * variables captured elsewhere) so that autodiff sees every dependency. Use the activations of
   * `core/activations` so that second-order gradients are right.
   */
  step(h: State, w: Tensor[], t: number, phase: StepPhase): State;
  /** L(h, θ). */
  loss(h: State, theta: Tensor[]): tf.Scalar;
  /**
   * Optional analytic linearisation of F at (h, w); a fast path that must agree with
   * `genericLinearization` to float32 precision (tested).
   */
  linearize?(h: State, w: Tensor[], t: number, phase: StepPhase): Linearization;
  /**
   * Optional: Σ_i (∂F/∂w at h_i)ᵀ z_i over many steps in one go (e.g. one GEMM for a weight
   * matrix instead of one outer product per step). Must agree with the per-step sum.
   */
  paramVjpMany?(hs: State[], zs: State[], ts: number[], phase: StepPhase): Tensor[];
  /**
   * Optional: h_{t+1} = F(h_t, w) together with what the linearisation at h_t needs from the same
   * pass, for a caller that back-propagates through the step later (BPTT, TBPTT: the solver's
   * `record`), so that F is not evaluated a second time at h_t. Undefined where the system does
   * not record this call (the caller steps and linearises as usual). Its linearisation must agree
   * with `linearize(h, w, t, phase)` (tested).
   */
  stepRecorded?(h: State, w: Tensor[], t: number, phase: StepPhase): RecordedStep | undefined;
}

/** A step recorded for back-propagation: the next state and the linearisation at its input. */
export interface RecordedStep {
  /** h_{t+1}, owned by the caller. */
  next: State;
  /** The linearisation at h_t (call at most once; it takes over the recorded values). */
  linearize(): Linearization;
  /** Release the recorded values if `linearize` was never called (idempotent). */
  dispose(): void;
}

/** The linear maps of F at one point: J = ∂F/∂h and ∂F/∂w. */
export interface Linearization {
  /** Jᵀ z */
  vjp(z: State): State;
  /** (∂F/∂w)ᵀ z */
  vjpParams(z: State): Tensor[];
  /** J v (forward mode; for CG-RBP) */
  jvp(v: State): State;
  /** Both Jᵀz and (∂F/∂w)ᵀ z from one pass, when a caller needs both. */
  vjpBoth(z: State): { h: State; w: Tensor[] };
  dispose(): void;
}

/**
 * Gradients of a scalar f with respect to xs, with zeros (not an error) for an x that f does not
 * depend on (e.g. a momentum buffer the loss never reads). Works nested, for second order.
 */
export function gradsOf(f: () => tf.Scalar, xs: Tensor[]): { value: tf.Scalar; grads: Tensor[] } {
  const { value, grads } = tf.engine().gradients(f, xs, undefined, true);
  return { value: value as tf.Scalar, grads: grads.map((g, i) => g ?? tf.zerosLike(xs[i])) };
}

function gradsOnly(f: () => tf.Scalar, xs: Tensor[]): Tensor[] {
  const { value, grads } = gradsOf(f, xs);
  value.dispose();
  return grads;
}

/** Σ_i ⟨F_i(h, w), z_i⟩: the scalar whose gradient is the VJP with z. */
function pairing(out: State, z: State): tf.Scalar {
  let s = tf.sum(tf.mul(out[0], z[0])) as tf.Scalar;
  for (let i = 1; i < out.length; i++) s = tf.add(s, tf.sum(tf.mul(out[i], z[i])));
  return s;
}

/**
 * The generic linearisation, for any system: VJPs by reverse-mode autodiff of one step, and
 * JVPs by the double-VJP trick, J v = ∂/∂u ⟨Jᵀu, v⟩ (exact, linear in u, evaluated at u = 0).
 */
export function genericLinearization(system: DynamicSystem, h: State, w: Tensor[], t: number, phase: StepPhase): Linearization {
  const nh = h.length;
  const grads = (z: State, wrt: 'h' | 'w' | 'both') =>
    tf.tidy(() => {
      const xs = wrt === 'h' ? h : wrt === 'w' ? w : [...h, ...w];
      return gradsOnly(() => pairing(system.step(h, w, t, phase), z), xs);
    });
  return {
    vjp: (z) => grads(z, 'h'),
    vjpParams: (z) => grads(z, 'w'),
    vjpBoth: (z) => {
      const g = grads(z, 'both');
      return { h: g.slice(0, nh), w: g.slice(nh) };
    },
    jvp: (v) =>
      tf.tidy(() => {
        const u = h.map((x) => tf.zerosLike(x));
        return gradsOnly(() => pairing(gradsOnly(() => pairing(system.step(h, w, t, phase), u), h), v), u);
      }),
    dispose: () => undefined,
  };
}

export function linearize(system: DynamicSystem, h: State, w: Tensor[], t: number, phase: StepPhase): Linearization {
  return system.linearize ? system.linearize(h, w, t, phase) : genericLinearization(system, h, w, t, phase);
}

/** Σ_i (∂F/∂w at h_i)ᵀ z_i, through the system's batched fast path when it has one. */
export function paramVjpMany(system: DynamicSystem, hs: State[], zs: State[], ts: number[], phase: StepPhase): Tensor[] {
  return system.paramVjpMany ? system.paramVjpMany(hs, zs, ts, phase) : sumParamVjps(system, hs, zs, ts, phase, linearize);
}

/**
 * The per-step sum Σ_i (∂F/∂w at h_i)ᵀ z_i, one linearisation at a time (`lin` picks which: the
 * system's own or the generic one). The reference every batched fast path is tested against.
 */
export function sumParamVjps(system: DynamicSystem, hs: State[], zs: State[], ts: number[], phase: StepPhase, lin: typeof linearize = genericLinearization): Tensor[] {
  const w = system.params as Tensor[];
  let acc: Tensor[] | undefined;
  for (let i = 0; i < hs.length; i++) {
    const l = lin(system, hs[i], w, ts[i], phase);
    const g = l.vjpParams(zs[i]);
    l.dispose();
    if (!acc) acc = g;
    else {
      const next = acc.map((a, j) => tf.add(a, g[j]));
      for (const x of [...acc, ...g]) x.dispose();
      acc = next;
    }
  }
  return acc ?? w.map((x) => tf.zerosLike(x));
}

/** Loss and its gradients with respect to the final state and to θ. */
export function lossGradients(system: DynamicSystem, h: State): { loss: number; dh: State; dtheta: Tensor[] } {
  const theta = system.lossParams as Tensor[];
  const nh = h.length;
  const { value, grads } = tf.tidy(() => gradsOf(() => system.loss(h, theta), [...h, ...theta]));
  const loss = value.dataSync()[0];
  value.dispose();
  return { loss, dh: grads.slice(0, nh), dtheta: grads.slice(nh) };
}
