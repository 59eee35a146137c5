/**
 * What each gradient method reports besides its gradient: the backward trace (its last adjoint
 * residual is the true residual ||z − Jᵀz − g|| / ||g|| of the adjoint it returns, computed here
 * independently; its distance to z* likewise), how many VJPs and JVPs it used, and that asking
 * for the trace changes nothing in the gradient.
 *
 * Mutants these tests catch (survivors of the mutation run, docs in test/MUTATION.md):
 * - Neumann-RBP's residual multiplied by ||g|| instead of divided (or not divided at all).
 * - Neumann-RBP adding the (K+1)-th term when tracing (`if (k <= K)` → `if (true)`).
 * - a method's VJP/JVP counts dropped or off by one.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { getMethod, methodNames, MethodName } from '../../src/core/gradients';
import { NaiveSolver } from '../../src/core/solvers/naive';
import { genericLinearization, lossGradients } from '../../src/core/system';
import { dispose, norm, type State } from '../../src/core/state';
import { ToySystem } from '../helpers/toy';
import { useBackend } from '../helpers/setup';

let sys: ToySystem;
const T = 60;
const K = 6;

before(async () => {
  await useBackend();
  sys = new ToySystem({ scale: 1.0, seed: 7 });
});

/** g = dL/dh_T and J at h_{T−1}, where the RBP family linearises, built here from the system itself. */
function adjointProblem(): { g: State; residual(z: State): number; dispose(): void } {
  const h0 = sys.initialState();
  const res = new NaiveSolver().solve(sys, h0, { maxSteps: T - 1 });
  const hT = tf.tidy(() => sys.step(res.h, sys.params, T - 1, 'linearize'));
  const lin = genericLinearization(sys, res.h, sys.params, T - 1, 'linearize');
  const { dh: g, dtheta } = lossGradients(sys, hT);
  const gNorm = norm(g);
  return {
    g,
    residual(z) {
      const jtz = lin.vjp(z);
      const r = tf.tidy(() => z.map((zi, i) => tf.sub(tf.sub(zi, jtz[i]), g[i])));
      const v = norm(r) / gNorm;
      dispose(jtz, r);
      return v;
    },
    dispose: () => dispose(h0, res.h, hT, g, dtheta),
  };
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-3 * Math.abs(b) + 2e-7, `${what}: ${a} vs ${b}`);

test('the last traced adjoint residual and distance to z* are those of the adjoint returned', () => {
  const p = adjointProblem();
  // Premise: ||g|| is far from 1, so a residual not divided by it (or multiplied) is visibly wrong.
  const gNorm = norm(p.g);
  assert.ok(gNorm > 2 || gNorm < 0.5, `||g|| = ${gNorm}`);
  const ex = getMethod('exact').compute(sys, { T, K: 1, keepAdjoint: true });
  const zStar = ex.adjoint!;
  for (const m of ['RBP', 'CG_RBP', 'Neumann_RBP', 'exact'] as MethodName[]) {
    const r = getMethod(m).compute(sys, { T, K, trace: true, keepAdjoint: true, zRef: zStar });
    const last = r.backward.iterations.at(-1)!;
    close(last.residual!, p.residual(r.adjoint!), `${m}: traced residual vs the residual of its adjoint`);
    if (m !== 'exact') {
      const d = tf.tidy(() => r.adjoint!.map((z, i) => tf.sub(z, zStar[i])));
      close(last.zRelErr!, norm(d) / norm(zStar), `${m}: traced ||z − z*|| / ||z*||`);
      dispose(d);
    }
    dispose(r.grads, r.lossGrads, r.adjoint);
  }
  dispose(ex.grads, ex.lossGrads, ex.adjoint);
  p.dispose();
});

test('tracing changes no gradient, and the traces have one entry per iteration', () => {
  const entries: Partial<Record<MethodName, number[]>> = { Neumann_RBP: Array.from({ length: K + 1 }, (_, k) => k), RBP: Array.from({ length: K }, (_, k) => k + 1), TBPTT: Array.from({ length: K }, (_, k) => k + 1), BPTT: Array.from({ length: T }, (_, k) => k + 1) };
  for (const m of methodNames()) {
    const plain = getMethod(m).compute(sys, { T, K });
    const traced = getMethod(m).compute(sys, { T, K, trace: true });
    assert.deepEqual(traced.grads.map((g) => Array.from(g.dataSync())), plain.grads.map((g) => Array.from(g.dataSync())), `${m}: the trace changed the gradient`);
    const want = entries[m];
    if (want) assert.deepEqual(traced.backward.iterations.map((i) => i.k), want, `${m}: trace entries`);
    dispose(plain.grads, plain.lossGrads, traced.grads, traced.lossGrads);
  }
});

test('each method counts the products it used', () => {
  const counts = (m: MethodName, trace: boolean) => {
    const r = getMethod(m).compute(sys, { T, K, trace, cgTol: 0 });
    dispose(r.grads, r.lossGrads);
    return { vjps: r.vjps, jvps: r.jvps, its: r.backward.iterations.length };
  };
  // K adjoint VJPs and one for (∂F/∂w)ᵀz; tracing RBP and Neumann-RBP costs one more.
  assert.deepEqual(counts('Neumann_RBP', false), { vjps: K + 1, jvps: 0, its: 0 });
  assert.deepEqual(counts('Neumann_RBP', true), { vjps: K + 2, jvps: 0, its: K + 1 });
  assert.deepEqual(counts('RBP', false), { vjps: K + 1, jvps: 0, its: 0 });
  assert.deepEqual(counts('RBP', true), { vjps: K + 2, jvps: 0, its: K });
  // CG-RBP: per iteration one VJP and one JVP, plus J g for the right-hand side and the final VJP.
  assert.deepEqual(counts('CG_RBP', false), { vjps: K + 1, jvps: K + 1, its: K });
  // TBPTT and BPTT: one VJP per step back-propagated through.
  assert.deepEqual(counts('TBPTT', false), { vjps: K, jvps: 0, its: K });
  assert.deepEqual(counts('BPTT', false), { vjps: T, jvps: 0, its: T });
});
