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
