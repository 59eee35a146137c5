/**
 * The run-length estimates: the ETA from recent step times (steady, a warm-up outlier, a slowdown,
 * no data) and the length before a start from past runs. Mutants caught: the rate taken from the
 * start (elapsed / steps: the warm-up ETA 1.5× too long), the whole history averaged instead of the
 * window (the slowdown ETA stays at the old speed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etaFromSteps, lengthBeforeStart, lengthMessage, pastRunOf, fmtDuration, fmtAbout, type StepTime } from '../../src/shared/eta';

/** Steps 0..n-1 ending at cumulative times from `dt(i)`. */
const steps = (n: number, dt: (i: number) => number): StepTime[] => {
  let t = 0;
  return Array.from({ length: n }, (_, i) => ({ step: i, elapsedMs: (t += dt(i)) }));
};

test('steady steps: the ETA is the step time times the steps left', () => {
  const e = etaFromSteps(steps(30, () => 100), 100)!;
  assert.equal(e.msPerStep, 100);
  assert.equal(e.remainingMs, 70 * 100);
  assert.equal(e.basis, 20);
});

test('a warm-up outlier (the first step, after the step-0 evaluation) does not inflate the ETA', () => {
  const e = etaFromSteps(steps(5, (i) => (i === 0 ? 5000 : 100)), 100)!;
  assert.equal(e.msPerStep, 100);
  assert.equal(e.remainingMs, 95 * 100);
});

test('a slowdown shows within the window: the ETA follows the recent speed', () => {
  const e = etaFromSteps(steps(80, (i) => (i < 50 ? 100 : 300)), 200)!;
  assert.equal(e.msPerStep, 300);
  assert.equal(e.remainingMs, 120 * 300);
  // Halfway into the window: between the two.
  const mid = etaFromSteps(steps(60, (i) => (i < 50 ? 100 : 300)), 200)!;
  assert.ok(mid.msPerStep > 100 && mid.msPerStep < 300, String(mid.msPerStep));
});

test('no data, one step, or nothing left: no ETA', () => {
  assert.equal(etaFromSteps([], 100), undefined);
  assert.equal(etaFromSteps(steps(1, () => 100), 100), undefined);
  assert.equal(etaFromSteps(steps(3, () => 100), 0), undefined);
  assert.deepEqual(etaFromSteps(steps(10, () => 100), 10)?.remainingMs, 0);
  // Two steps: the one interval there is.
  assert.equal(etaFromSteps(steps(2, (i) => (i ? 200 : 1000)), 10)!.msPerStep, 200);
});

test('before the start: the median rate of past runs of the same experiment, method and T, else a calibration', () => {
  const past = [
    { experiment: 'hopfield', method: 'Neumann_RBP', T: 50, status: 'completed', stepsDone: 100, durationMs: 30_000 },
    { experiment: 'hopfield', method: 'Neumann_RBP', T: 50, status: 'cancelled', stepsDone: 10, durationMs: 4_000 },
    { experiment: 'hopfield', method: 'Neumann_RBP', T: 50, status: 'completed', stepsDone: 10, durationMs: 100_000 },
    { experiment: 'hopfield', method: 'BPTT', T: 50, status: 'completed', stepsDone: 10, durationMs: 1 },
    { experiment: 'hopfield', method: 'Neumann_RBP', T: 20, status: 'completed', stepsDone: 10, durationMs: 1 },
    { experiment: 'hopfield', method: 'Neumann_RBP', T: 50, status: 'running', stepsDone: 10, durationMs: 1 },
  ];
  const e = lengthBeforeStart({ experiment: 'hopfield', method: 'Neumann_RBP', T: 50, steps: 10_000 }, past);
  assert.equal(e.ms, 400 * 10_000, 'the median of 300, 400 and 10,000 ms/step');
  assert.equal(e.basis, 'from 3 past runs of hopfield · Neumann_RBP · T = 50');
  const none = lengthBeforeStart({ experiment: 'cora', method: 'BPTT', T: 100, steps: 200 }, past);
  assert.equal(none.ms, undefined);
  assert.match(none.basis, /estimating from the first steps/);
});

test('durations read as people say them', () => {
  assert.equal(fmtDuration(42_000), '0:42');
  assert.equal(fmtDuration(3_723_000), '1:02:03');
  assert.equal(fmtAbout(40_000), 'about 40 s');
  assert.equal(fmtAbout(50 * 60_000), 'about 50 min');
  assert.equal(fmtAbout(3 * 3600_000), 'about 3.0 h');
});

test('past runs read from run.json: its summary when present (stepsDone, durationMs), else finishedAt − startedAt and the planned steps', () => {
  const base = { protocol: 1, runId: 'r', experiment: 'hopfield', title: '', runner: 'HopfieldRunner', method: 'Neumann_RBP', K: 20, T: 50, steps: 100, startedAt: '2026-01-01T00:00:00.000Z', config: {}, finalMetrics: {} } as const;
  // An older record: no summary object of the new shape.
  assert.deepEqual(pastRunOf({ ...base, status: 'completed', finishedAt: '2026-01-01T00:00:30.000Z' }), { experiment: 'hopfield', method: 'Neumann_RBP', T: 50, status: 'completed', stepsDone: 100, durationMs: 30_000 });
  // The summary the recorder keeps (issue 19): its numbers win.
  assert.equal(pastRunOf({ ...base, status: 'cancelled', finishedAt: '2026-01-01T00:00:30.000Z', summary: { stepsDone: 12, durationMs: 6000 } as never })!.stepsDone, 12);
  assert.equal(pastRunOf({ ...base, status: 'failed' }), undefined, 'no end time, no summary: nothing to go by');
  assert.equal(pastRunOf({ ...base, method: 'gradcheck', status: 'completed', finishedAt: '2026-01-01T00:00:30.000Z' }), undefined);
  const msg = lengthMessage({ experiment: 'hopfield', method: 'Neumann_RBP', T: 50, steps: 10_000, stepLabel: 'step' }, [{ ...base, status: 'completed', finishedAt: '2026-01-01T00:00:30.000Z' }]);
  assert.equal(msg, '10000 steps, about 50 min (from 1 past run of hopfield · Neumann_RBP · T = 50)');
  assert.equal(lengthMessage({ experiment: 'cora', method: 'BPTT', T: 100, steps: 200, stepLabel: 'epoch' }, []), '200 epochs (no past run of this experiment, method and T: estimating from the first steps)');
});
