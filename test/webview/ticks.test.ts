import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spaceLogTicks } from '../../webview/charts/ticks';

const ticks = (vs: number[]) => vs.map((value) => ({ value }));
const values = (ts: { value: number }[]) => ts.map((t) => t.value);

test('log-axis ticks: a bound printed within 14 px of a nice tick is dropped, the nice ticks stay', () => {
  // The e2e's gradient-norm panel: min 1.28 beside 1.3 on a ~170 px axis (1.3 printed over 1.28).
  const grad = ticks([1.28, 1.3, 1.4, 1.6, 1.8, 2, 2.05]);
  assert.deepEqual(values(spaceLogTicks(grad, 170)), [1.3, 1.4, 1.6, 1.8, 2]);
  // A tall axis has room for both: nothing dropped (mutant: a fixed fraction of the range instead of pixels).
  assert.deepEqual(values(spaceLogTicks(grad, 2000)), values(grad));
  // Bounds far from their neighbours stay; too few ticks or a flat axis are left alone.
  assert.deepEqual(values(spaceLogTicks(ticks([0.5, 1, 10, 100, 300]), 200)), [0.5, 1, 10, 100, 300]);
  assert.deepEqual(values(spaceLogTicks(ticks([1.28, 1.3]), 170)), [1.28, 1.3]);
  assert.deepEqual(values(spaceLogTicks(ticks([2, 2, 2]), 170)), [2, 2, 2]);
  // Only the top bound crowded: the top goes, the bottom stays.
  assert.deepEqual(values(spaceLogTicks(ticks([0.1, 1, 10, 95, 100]), 200)), [0.1, 1, 10, 95]);
});
