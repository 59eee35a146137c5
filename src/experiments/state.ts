/**
 * A training session's full state, for checkpoints and resuming: the system's parameters w and
 * loss parameters θ, the optimiser's counters and buffers, the number of steps done, and what the
 * session keeps of its own (`ExperimentSession.extraState`: random generators, shuffle order,
 * best-so-far numbers). The learning-rate schedule needs nothing: `beforeStep(i)` sets it from i.
 * A fourth experiment whose state is just "system params + optimiser" gets all of this for free.
 */
import { tf } from '../core/tf';
import type { OptimizerState } from '../core/optim';
import type { ExperimentSession } from './types';

/** One named float32 array and its shape. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface TrainingState {
  /** Optimisation steps done: training continues at step index `step`. */
  step: number;
  /** w.<i>, theta.<i>, then the optimiser's buffers opt.<buffer>.<i> (shapes those of w then θ). */
  tensors: NamedArray[];
  optimizer: { kind: OptimizerState['kind']; scalars: Record<string, number>; buffers: string[] };
  /** The session's own state (JSON). */
  extra: Record<string, unknown>;
}

/** A checkpoint that does not fit the session it is loaded into: the message names what differs. */
export class StateMismatch extends Error {}

const vars = (s: ExperimentSession) => [...s.system.params, ...s.system.lossParams];
const names = (s: ExperimentSession) => [...s.system.params.map((_, i) => `w.${i}`), ...s.system.lossParams.map((_, i) => `theta.${i}`)];

export function captureState(session: ExperimentSession, step: number): TrainingState {
  const vs = vars(session);
  const ns = names(session);
  const tensors: NamedArray[] = vs.map((v, i) => ({ name: ns[i], shape: v.shape.slice(), data: Float32Array.from(v.dataSync() as Float32Array) }));
  const opt = session.optimizer.saveState();
  for (const [b, arrays] of Object.entries(opt.buffers)) arrays.forEach((data, i) => tensors.push({ name: `opt.${b}.${i}`, shape: vs[i].shape.slice(), data }));
  return { step, tensors, optimizer: { kind: opt.kind, scalars: opt.scalars, buffers: Object.keys(opt.buffers) }, extra: session.extraState?.() ?? {} };
}

/** Put a captured state into a session built from a compatible config; throws StateMismatch (nothing changed) when it does not fit. */
export function restoreState(session: ExperimentSession, st: TrainingState): void {
  const vs = vars(session);
  const ns = names(session);
  const byName = new Map(st.tensors.map((t) => [t.name, t]));
  const want = (name: string, shape: number[]) => {
    const t = byName.get(name);
    if (!t) throw new StateMismatch(`it has no tensor '${name}' (it holds ${st.tensors.map((x) => x.name).join(', ')})`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new StateMismatch(`tensor '${name}' is [${t.shape.join(', ')}], this model's is [${shape.join(', ')}]`);
    return t;
  };
  const params = vs.map((v, i) => want(ns[i], v.shape));
  const modelNames = new Set(ns);
  const extraModel = st.tensors.filter((t) => !t.name.startsWith('opt.') && !modelNames.has(t.name));
  if (extraModel.length) throw new StateMismatch(`it has tensors this model does not (${extraModel.map((t) => t.name).join(', ')})`);
  if (st.optimizer.kind !== session.optimizer.kind) throw new StateMismatch(`its optimiser is ${st.optimizer.kind}, this run's is ${session.optimizer.kind}`);
  const buffers: Record<string, Float32Array[]> = {};
  for (const b of st.optimizer.buffers) {
    const hasAny = vs.some((_, i) => byName.has(`opt.${b}.${i}`));
    buffers[b] = hasAny ? vs.map((v, i) => want(`opt.${b}.${i}`, v.shape).data) : [];
  }
  session.restoreExtraState?.(st.extra);
  vs.forEach((v, i) => {
    const t = tf.tensor(params[i].data, v.shape);
    v.assign(t);
    t.dispose();
  });
  session.optimizer.loadState(vs, { kind: st.optimizer.kind, scalars: st.optimizer.scalars, buffers });
}
