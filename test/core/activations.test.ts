/**
 * Second-order gradients through the library's activations and loss agree with finite
 * differences of their first-order gradients (tfjs's built-ins do not), and the double-VJP JVP
 * agrees with a finite-difference JVP of the step.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, Tensor } from '../../src/core/tf';
import { exp, sigmoid, tanh, softmaxCrossEntropy, softmax, logSumExp } from '../../src/core/activations';
import { genericLinearization, gradsOf } from '../../src/core/system';
import { dispose } from '../../src/core/state';
import { ToySystem } from '../helpers/toy';
import { useBackend, randomDirection, dotAll } from '../helpers/setup';

before(useBackend);

/** Hessian-vector product of f at x along v by double reverse mode. */
function hvp(f: (x: Tensor) => tf.Scalar, x: Tensor, v: Tensor): Tensor {
  return tf.tidy(() => gradsOf(() => tf.sum(tf.mul(gradsOf(() => f(x), [x]).grads[0], v)) as tf.Scalar, [x]).grads[0]);
}

/** (∇f(x + εv) − ∇f(x − εv)) / 2ε */
function fdHvp(f: (x: Tensor) => tf.Scalar, x: Tensor, v: Tensor, eps = 1e-2): Tensor {
  return tf.tidy(() => {
    const g = (y: Tensor) => gradsOf(() => f(y), [y]).grads[0];
    return tf.div(tf.sub(g(tf.add(x, tf.mul(v, eps))), g(tf.sub(x, tf.mul(v, eps)))), 2 * eps);
  });
}

function relDiff(a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.norm(tf.sub(a, b)).dataSync()[0] / (tf.norm(b).dataSync()[0] || 1));
}

const x = () => tf.tensor2d([[0.3, -1.2, 0.8, 2.0], [-0.5, 0.1, 1.5, -2.2]]);
const w = () => tf.tensor2d([[0.7, -0.4, 1.1, 0.2], [0.9, 0.3, -0.6, 1.4]]);

for (const [name, fn] of [
  ['exp', exp],
  ['sigmoid', sigmoid],
  ['tanh', tanh],
  ['softmax', softmax],
  ['logSumExp', logSumExp],
] as const) {
  test(`${name}: Hessian-vector product matches finite differences`, () => {
    const X = x();
    const W = w();
    const f = (y: Tensor) => tf.sum(tf.mul(fn(y), W)) as tf.Scalar;
    const [v] = randomDirection([X], 5);
    const a = hvp(f, X, v);
    const b = fdHvp(f, X, v);
    const r = relDiff(a, b);
    assert.ok(r < 2e-3, `${name}: rel diff ${r}`);
    dispose([X, W, v, a, b]);
  });
}

test('softmax cross-entropy: value, gradient and Hessian-vector product', () => {
  const Z = x();
  const labels = tf.tensor1d([2, 0], 'int32');
  const f = (z: Tensor) => softmaxCrossEntropy(z, labels);
  // value against a hand computation
  const zs = Z.arraySync() as number[][];
  const ce = zs.map((row, i) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[[2, 0][i]]);
  assert.ok(Math.abs(f(Z).dataSync()[0] - (ce[0] + ce[1]) / 2) < 1e-5);
  const [v] = randomDirection([Z], 9);
  const r = relDiff(hvp(f, Z, v), fdHvp(f, Z, v));
  assert.ok(r < 2e-3, `rel diff ${r}`);
  dispose([Z, labels, v]);
});

test('JVP by the double-VJP trick agrees with finite differences of one step', () => {
  const sys = new ToySystem({ scale: 1.0 });
  const h = [tf.randomNormal([2, sys.n], 0, 0.5, 'float32', 1), tf.randomNormal([2, sys.n], 0, 0.5, 'float32', 2)];
  const lin = genericLinearization(sys, h, sys.params, 0, 'linearize');
  const v = randomDirection(h, 21);
  const jv = lin.jvp(v);
  const eps = 1e-2;
  const plus = sys.step(h.map((x, i) => tf.add(x, tf.mul(v[i], eps))), sys.params, 0, 'linearize');
  const minus = sys.step(h.map((x, i) => tf.sub(x, tf.mul(v[i], eps))), sys.params, 0, 'linearize');
  const fd = plus.map((p, i) => tf.div(tf.sub(p, minus[i]), 2 * eps));
  const num = Math.sqrt(jv.reduce((s, t, i) => s + tf.sum(tf.square(tf.sub(t, fd[i]))).dataSync()[0], 0));
  const den = Math.sqrt(dotAll(fd, fd));
  assert.ok(num / den < 1e-3, `JVP rel diff ${num / den}`);
  // ⟨u, J v⟩ = ⟨Jᵀ u, v⟩
  const u = randomDirection(h, 33);
  const jtu = lin.vjp(u);
  const lhs = dotAll(u, jv);
  const rhs = dotAll(jtu, v);
  assert.ok(Math.abs(lhs - rhs) < 1e-4 * (Math.abs(lhs) + 1e-3), `adjoint identity ${lhs} vs ${rhs}`);
  dispose(h, v, jv, plus, minus, fd, u, jtu);
  sys.dispose();
});
