/**
 * The one place that imports TensorFlow.js. Everything else imports `tf` from here, so that the
 * gradient registrations and the bundled backends are loaded exactly once.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export { tf };
export type Tensor = tf.Tensor;
export type Scalar = tf.Scalar;

/**
 * How many gradient tapes are recording (`tf.grad` inside `tf.grad`: 2); 0 when nothing
 * differentiates the current call. tfjs keeps it in its engine's state, outside its typed API.
 */
export function gradientDepth(): number {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth;
}

/** Whether a gradient tape records the current call (a model may then take its untaped fast path only when this is false). */
export function isTaped(): boolean {
  return gradientDepth() > 0;
}
