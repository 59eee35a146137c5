/**
 * Activations and losses with correct higher-order gradients.
 *
 * tfjs's built-in tanh, sigmoid, exp and softmax have correct first derivatives but WRONG second
 * derivatives (their gradient functions reuse the saved output as a constant). CG-RBP's
 * Jacobian-vector products (double VJP) and the hypergradient's Hessian-vector products need
 * second order, so every model uses these instead: each saves its input and recomputes its
 * derivative from ops whose own derivatives are again correct (recursively).
 */
import { tf, Tensor } from './tf';

type Unary = (x: Tensor) => Tensor;

/** exp with d/dx exp(x) = exp(x), recomputed from the saved input. */
export const exp: Unary = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as Tensor;
  (args[1] as tf.GradSaveFunc)([x]);
  return {
    value: tf.exp(x),
    gradFunc: (dy: Tensor, saved: Tensor[]) => tf.mul(dy, exp(saved[0])),
  };
}) as Unary;

/** σ(x) with σ' = σ(1 − σ). */
export const sigmoid: Unary = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as Tensor;
  (args[1] as tf.GradSaveFunc)([x]);
  return {
    value: tf.sigmoid(x),
    gradFunc: (dy: Tensor, saved: Tensor[]) => {
      const s = sigmoid(saved[0]);
      return tf.mul(dy, tf.mul(s, tf.sub(1, s)));
    },
  };
}) as Unary;

/** tanh(x) with tanh' = 1 − tanh². */
export const tanh: Unary = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as Tensor;
  (args[1] as tf.GradSaveFunc)([x]);
  return {
    value: tf.tanh(x),
    gradFunc: (dy: Tensor, saved: Tensor[]) => {
      const t = tanh(saved[0]);
      return tf.mul(dy, tf.sub(1, tf.square(t)));
    },
  };
}) as Unary;

/** log Σ_j exp(z_ij) over the last axis, keeping dims; gradient softmax(z). */
export const logSumExp: Unary = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
  const z = args[0] as Tensor;
  (args[1] as tf.GradSaveFunc)([z]);
  const value = tf.tidy(() => {
    const m = tf.max(z, -1, true);
    return tf.add(m, tf.log(tf.sum(tf.exp(tf.sub(z, m)), -1, true)));
  });
  return {
    value,
    gradFunc: (dy: Tensor, saved: Tensor[]) => tf.mul(dy, softmax(saved[0])),
  };
}) as Unary;

/** softmax over the last axis, as exp(z − logSumExp(z)): both pieces differentiate correctly. */
export function softmax(z: Tensor): Tensor {
  return exp(tf.sub(z, logSumExp(z)));
}

/**
 * Mean softmax cross-entropy of logits [N, C] against integer labels (an int32 tensor [N]) or
 * one-hot targets [N, C]: mean_i (logSumExp(z_i) − z_i[y_i]).
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor): tf.Scalar {
  return tf.tidy(() => {
    const onehot = labels.rank === 1 ? tf.cast(tf.oneHot(labels as tf.Tensor1D, logits.shape[logits.rank - 1]), 'float32') : labels;
    const picked = tf.sum(tf.mul(onehot, logits), -1, true);
    return tf.mean(tf.sub(logSumExp(logits), picked)) as tf.Scalar;
  });
}

/** Mean absolute error (|·| has zero second derivative almost everywhere, so the built-ins are right). */
export function l1Loss(a: Tensor, b: Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b))) as tf.Scalar);
}
