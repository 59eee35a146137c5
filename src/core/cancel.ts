/**
 * Cancellation inside a computation. A check (`() => boolean`, e.g. an Atomics read of a flag
 * that another thread sets on Ctrl-C) travels in the gradient and solver options; the forward,
 * backward and power-iteration loops call `throwIfCancelled` once per iteration, so a step of
 * 100,000 forward updates stops within one update of the request.
 */
import { tf } from './tf';

export type CancelCheck = () => boolean;

/** Thrown from a loop whose cancellation check said stop. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

export function throwIfCancelled(check: CancelCheck | undefined): void {
  if (check?.()) throw new Cancelled();
}

/**
 * Run `fn` in an engine scope. When it throws (cancelled half-way through a loop), every tensor
 * it made and still held is released; when it returns, what it returns is kept (tensors the
 * computation disposed itself, and caches it made with tf.keep, are untouched either way).
 */
export function releasingOnThrow<T>(fn: () => T): T {
  const engine = tf.engine();
  engine.startScope();
  let result: T;
  try {
    result = fn();
  } catch (err) {
    engine.endScope();
    throw err;
  }
  engine.endScope(result as tf.TensorContainer);
  return result;
}
