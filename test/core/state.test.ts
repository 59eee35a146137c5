/**
 * core/state.ts's toArray: the one flattening of a tensor list into a Float32Array (the metrics,
 * the threads test's bit-identity checks and bench/child.ts's recorded gradients all read it).
 *
 * Mutants tried (each made this test fail, then reverted): the offset not advanced (`o += p.length`
 * dropped: later tensors overwrite the first), every part written at 0, the parts reversed.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { toArray } from '../../src/core/state';
import { useBackend } from '../helpers/setup';

before(useBackend);

test('toArray: every tensor of the list, in order, row-major, scalars included', () => {
  const ts = [tf.tensor2d([[1, 2, 3], [4, 5, 6]]), tf.scalar(7), tf.tensor1d([8, 9]), tf.zeros([0]), tf.tensor3d([[[10], [11]]])];
  const v = toArray(ts);
  assert.ok(v instanceof Float32Array);
  assert.deepEqual(Array.from(v), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.equal(toArray([]).length, 0);
  tf.dispose(ts);
});
