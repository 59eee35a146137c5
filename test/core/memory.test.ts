/**
 * Memory of the backward phase, measured where it can be seen: on a toy system whose state
 * (2 × 512 × 12 floats, 48 KiB) is ~50× its weights, every state-sized vector a method keeps
 * alive shows in the peak. (On Hopfield the peak is four W-sized matrices reached before the
 * adjoint loop starts, so a method keeping all K vectors there moves the peak by < 1%.)
 *
 * Mutants these tests catch (each tried, each failed here and nowhere else in the suite):
 * - Neumann-RBP pushing every v_k into an array disposed after the loop ("keeps K vectors"):
 *   peak +75 states from K = 5 to 80.
 * - RBP / CG-RBP doing the same with z_k / p_k: +75 states.
 * - rbpSetup keeping the forward history (`keep: T` in the solver call): grows with T.
 * - TBPTT keeping only one state (flat) fails the growth check.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { getMethod, MethodName } from '../../src/core/gradients';
import type { GradientOptions } from '../../src/core/gradients/types';
import { measurePeak } from '../../src/core/memory';
import { dispose } from '../../src/core/state';
import { ToySystem } from '../helpers/toy';
import { useBackend } from '../helpers/setup';

const BATCH = 512;
const N = 12;
/** Bytes of one state (two [BATCH, N] float32 tensors). */
const STATE = 2 * BATCH * N * 4;

let sys: ToySystem;
before(async () => {
  await useBackend();
  sys = new ToySystem({ batch: BATCH, n: N, scale: 1.0, seed: 7 });
});

/** Peak tensor bytes of one gradient call above what was live, in state vectors (second call: caches warm). */
function peakStates(m: MethodName, opts: GradientOptions): number {
  const run = () => {
    const { result, memory } = measurePeak(() => getMethod(m).compute(sys, opts));
    if (m === 'CG_RBP' && opts.cgTol === 0) assert.equal(result.backward.iterations.length, opts.K, 'CG-RBP ran all K iterations');
    dispose(result.grads, result.lossGrads);
    return memory.peakBytes / STATE;
  };
  run();
  return run();
}

test('the toy state dominates its weights (the premise of the tests below)', () => {
  const weightBytes = [...sys.params, ...sys.lossParams].reduce((s, v) => s + v.size * 4, 0);
  assert.ok(weightBytes * 40 < STATE, `weights ${weightBytes} B vs state ${STATE} B`);
});

for (const m of ['Neumann_RBP', 'RBP', 'CG_RBP'] as MethodName[]) {
  test(`${m}: peak memory is flat in K (5 → 80) and in T (30 → 120), to less than one state vector`, () => {
    // cgTol 0: CG-RBP runs all K iterations (otherwise it stops near 20 and K = 80 would not be reached).
    const base = m === 'CG_RBP' ? { cgTol: 0 } : {};
    const k5 = peakStates(m, { ...base, T: 30, K: 5 });
    const k80 = peakStates(m, { ...base, T: 30, K: 80 });
    const t120 = peakStates(m, { ...base, T: 120, K: 5 });
    assert.ok(Math.abs(k80 - k5) < 1, `${m}: peak K=5 ${k5.toFixed(2)} vs K=80 ${k80.toFixed(2)} states (a method keeping its K vectors grows by 75)`);
    assert.ok(Math.abs(t120 - k5) < 1, `${m}: peak T=30 ${k5.toFixed(2)} vs T=120 ${t120.toFixed(2)} states`);
  });
}

test('TBPTT keeps the K states of its window: peak grows by one state per step of K', () => {
  const k5 = peakStates('TBPTT', { T: 90, K: 5 });
  const k80 = peakStates('TBPTT', { T: 90, K: 80 });
  const perStep = (k80 - k5) / 75;
  assert.ok(perStep > 0.9 && perStep < 1.1, `TBPTT: K=5 ${k5.toFixed(2)}, K=80 ${k80.toFixed(2)} states (${perStep.toFixed(3)} per step)`);
});

test('BPTT keeps all T states: peak grows by one state per forward step', () => {
  const t20 = peakStates('BPTT', { T: 20, K: 1 });
  const t100 = peakStates('BPTT', { T: 100, K: 1 });
  const perStep = (t100 - t20) / 80;
  assert.ok(perStep > 0.9 && perStep < 1.1, `BPTT: T=20 ${t20.toFixed(2)}, T=100 ${t100.toFixed(2)} states (${perStep.toFixed(3)} per step)`);
});
