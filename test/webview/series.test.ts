/** Smoothing, decimation, robust ranges and export on known series. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { smoothEma, decimateMinMax, robustRange, seriesToCsv, csvToSeries, colourFor, Point } from '../../src/shared/series';

test('debiased EMA equals a hand computation', () => {
  const w = 0.6;
  const ys = [1, 3, 2, NaN, 5];
  // s1 = 0.4·1 = 0.4 → /0.4 = 1; s2 = 0.6·0.4 + 0.4·3 = 1.44 → /(1 − 0.36) = 2.25;
  // s3 = 0.6·1.44 + 0.4·2 = 1.664 → /(1 − 0.216) = 2.1224…; NaN passes; s4 = 0.6·1.664 + 0.4·5 = 2.9984 → /(1 − 0.1296)
  const s = smoothEma(ys, w);
  assert.ok(Math.abs(s[0] - 1) < 1e-12);
  assert.ok(Math.abs(s[1] - 2.25) < 1e-12);
  assert.ok(Math.abs(s[2] - 1.664 / 0.784) < 1e-12);
  assert.ok(Number.isNaN(s[3]));
  assert.ok(Math.abs(s[4] - 2.9984 / 0.8704) < 1e-12);
  assert.deepEqual(smoothEma(ys.slice(0, 3), 0), [1, 3, 2]);
});

test('min/max decimation keeps the envelope, order and the ends', () => {
  const pts: Point[] = Array.from({ length: 100000 }, (_, i) => ({ x: i, y: Math.sin(i / 50) + (i === 54321 ? 10 : 0) }));
  const d = decimateMinMax(pts, 1000);
  assert.ok(d.length <= 1000, `${d.length}`);
  assert.deepEqual(d[0], pts[0]);
  assert.deepEqual(d[d.length - 1], pts[pts.length - 1]);
  assert.ok(d.some((p) => p.x === 54321), 'the spike survives');
  for (let i = 1; i < d.length; i++) assert.ok(d[i].x > d[i - 1].x);
  assert.ok(Math.max(...d.map((p) => p.y)) === 10 + Math.sin(54321 / 50));
  assert.equal(decimateMinMax(pts.slice(0, 10), 1000).length, 10);
});

test('robust range ignores outliers', () => {
  const ys = [...Array.from({ length: 98 }, (_, i) => i / 98), 1e6, -1e6];
  const r = robustRange(ys)!;
  assert.ok(r.min > -0.2 && r.max < 1.2, JSON.stringify(r));
  const lr = robustRange([1e-8, 1e-3, 1e-2, 1e-1, 1, 10], true)!;
  assert.ok(lr.min > 0 && lr.max < 100);
});

test('CSV export round-trips, with awkward names and missing values', () => {
  const series = [
    { name: 'run "a", BPTT', points: [{ x: 0, y: 0.5 }, { x: 1, y: 0.25 }] },
    { name: 'b', points: [{ x: 1, y: 1e-9 }, { x: 2, y: -3 }] },
  ];
  const csv = seriesToCsv(series);
  assert.equal(csv.split('\n')[0], 'step,"run ""a"", BPTT",b');
  const back = csvToSeries(csv);
  assert.equal(back.xLabel, 'step');
  assert.deepEqual(back.series, series);
});

test('run colours are stable', () => {
  assert.equal(colourFor('run-1'), colourFor('run-1'));
  const cs = new Set(['a', 'b', 'c', 'd', 'e', 'f'].map((x) => colourFor(x)));
  assert.ok(cs.size >= 3);
});
