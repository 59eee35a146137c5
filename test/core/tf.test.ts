/** core/tf.ts: the one reader of tfjs's engine internals the models rely on (a tfjs upgrade that moves them fails here first). */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, gradientDepth, isTaped } from '../../src/core/tf';
import { useBackend } from '../helpers/setup';

before(useBackend);

test('gradientDepth counts the gradient tapes recording the current call', () => {
  const seen: number[] = [];
  const f = (x: tf.Tensor) => {
    seen.push(gradientDepth());
    return tf.mul(x, x);
  };
  f(tf.scalar(1)).dispose();
  assert.equal(isTaped(), false);
  const g = tf.grad(f)(tf.scalar(3));
  const gg = tf.grad((x: tf.Tensor) => tf.grad(f)(x))(tf.scalar(3));
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(g.dataSync()[0], 6);
  assert.equal(gg.dataSync()[0], 2);
  assert.equal(gradientDepth(), 0, 'back to 0 after the tapes close');
  tf.dispose([g, gg]);
});
