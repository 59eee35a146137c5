/**
 * A state (or adjoint, or parameter gradient) is a list of tensors treated as one vector.
 * These helpers do vector arithmetic on such lists; each returns new tensors and keeps its
 * intermediates inside `tf.tidy`.
 */
import { tf, Tensor } from './tf';

export type State = Tensor[];

export function add(a: State, b: State): State {
  return a.map((x, i) => tf.add(x, b[i]));
}
export function sub(a: State, b: State): State {
  return a.map((x, i) => tf.sub(x, b[i]));
}
export function scale(a: State, s: number | Tensor): State {
  return a.map((x) => tf.mul(x, s));
}
/** a + s·b */
export function axpy(a: State, s: number | Tensor, b: State): State {
  return a.map((x, i) => tf.tidy(() => tf.add(x, tf.mul(b[i], s))));
}
export function zerosLike(a: State): State {
  return a.map((x) => tf.zerosLike(x));
}
export function clone(a: State): State {
  return a.map((x) => tf.clone(x));
}
/**
 * Another handle on t's data without copying it (tf.clone copies on the wasm backend; Reshape to
 * the same shape shares the buffer, counted once, freed with its last handle). For holding a
 * tensor someone else may dispose: tensors are immutable and a variable's `assign` moves it to a
 * new buffer, so the handle keeps the values it was made with.
 */
export function share(t: Tensor): Tensor {
  return tf.reshape(t, t.shape);
}
/** ⟨a, b⟩ as a scalar tensor. */
export function dotT(a: State, b: State): tf.Scalar {
  return tf.tidy(() => a.map((x, i) => tf.sum(tf.mul(x, b[i]))).reduce((s, v) => tf.add(s, v)) as tf.Scalar);
}
export function dot(a: State, b: State): number {
  const d = dotT(a, b);
  const v = d.dataSync()[0];
  d.dispose();
  return v;
}
export function norm(a: State): number {
  return Math.sqrt(Math.max(0, dot(a, a)));
}
export function dispose(...states: (State | undefined | null)[]): void {
  for (const s of states) if (s) for (const t of s) t.dispose();
}
/** Replace `old` by `next`, disposing `old`: `h = swap(h, step(h))`. */
export function swap(old: State, next: State): State {
  for (const t of old) if (!next.includes(t)) t.dispose();
  return next;
}
/** Flatten to one Float32Array (for metrics on the host side). */
export function toArray(a: State): Float32Array {
  const parts = a.map((t) => t.dataSync() as Float32Array);
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Float32Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
export function hasNonFinite(a: State): boolean {
  // A sum of |x| is NaN or ±Inf as soon as one entry is (or when the state has blown up).
  for (const x of a) {
    const s = tf.tidy(() => tf.sum(tf.abs(x)));
    const v = s.dataSync()[0];
    s.dispose();
    if (!Number.isFinite(v)) return true;
  }
  return false;
}
