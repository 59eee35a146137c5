/**
 * The gradient methods against the math: finite differences, the Neumann/TBPTT identity at a
 * fixed point, convergence to `exact` as K grows, RBP's divergence when ρ(J) > 1.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { getMethod, parseMethodName, methodNames } from '../../src/core/gradients';
import { compareGrads } from '../../src/core/metrics';
import { dispose } from '../../src/core/state';
import { linearize, genericLinearization } from '../../src/core/system';
import { NaiveSolver } from '../../src/core/solvers/naive';
import { AndersonSolver } from '../../src/core/solvers/anderson';
import { Cancelled, releasingOnThrow } from '../../src/core/cancel';
import { spectralRadius, verdict, TrainingWatch } from '../../src/core/diagnostics';
import { ToySystem } from '../helpers/toy';
import { useBackend, randomDirection, dotAll } from '../helpers/setup';
import { assertNoLeaks } from '../helpers/checks';

before(useBackend);

test('method names are accepted case-insensitively and as the reference configs spell them', () => {
  assert.equal(parseMethodName('BPTT'), 'BPTT');
  assert.equal(parseMethodName('tbptt'), 'TBPTT');
  assert.equal(parseMethodName('CG_RBP'), 'CG_RBP');
  assert.equal(parseMethodName('cg-rbp'), 'CG_RBP');
  assert.equal(parseMethodName('Neumann_RBP'), 'Neumann_RBP');
  assert.equal(parseMethodName('neumann-rbp'), 'Neumann_RBP');
  assert.equal(parseMethodName('Exact'), 'exact');
  assert.equal(parseMethodName('sgd'), undefined);
  assert.throws(() => getMethod('nope'), /unknown gradient method 'nope'/);
});

test('BPTT agrees with central finite differences along random directions', () => {
  const sys = new ToySystem({ scale: 0.9 });
  const T = 15;
  const r = getMethod('BPTT').compute(sys, { T, K: 1 });
  const vars = [...sys.params, ...sys.lossParams];
  const grads = [...r.grads, ...r.lossGrads];
  for (const seed of [1, 2, 3]) {
    const dirs = randomDirection(vars, seed * 10);
    const analytic = dotAll(grads, dirs);
    const eps = 1e-2;
    const orig = vars.map((v) => tf.clone(v));
    const shifted = (s: number) => {
      vars.forEach((v, i) => v.assign(tf.tidy(() => tf.add(orig[i], tf.mul(dirs[i], s)))));
      return sys.lossAt(T);
    };
    const fd = (shifted(eps) - shifted(-eps)) / (2 * eps);
    vars.forEach((v, i) => v.assign(orig[i]));
    dispose(orig, dirs);
    assert.ok(Math.abs(fd - analytic) <= 1e-3 * Math.abs(analytic) + 1e-5, `directional derivative: BPTT ${analytic} vs finite differences ${fd}`);
  }
  dispose(r.grads, r.lossGrads);
  sys.dispose();
});

test('at a fixed point Neumann-RBP(K) equals TBPTT over K+1 updates (not K)', () => {
  const sys = new ToySystem({ scale: 1.2, seed: 5 });
  const T = 150;
  for (const K of [3, 6, 10]) {
    const n = getMethod('Neumann_RBP').compute(sys, { T, K });
    const tK1 = getMethod('TBPTT').compute(sys, { T, K: K + 1 });
    const tK = getMethod('TBPTT').compute(sys, { T, K });
    const same = compareGrads(n.grads, tK1.grads);
    const off = compareGrads(n.grads, tK.grads);
    assert.ok(n.forward.finalRel < 1e-6, `forward converged (${n.forward.finalRel})`);
    assert.ok(same.relErr < 2e-6, `K=${K}: Neumann vs TBPTT(K+1) rel err ${same.relErr}`);
    assert.ok(off.relErr > 100 * same.relErr, `K=${K}: TBPTT(K) should differ by the (Jᵀ)^K term: ${off.relErr} vs ${same.relErr}`);
    dispose(n.grads, n.lossGrads, tK1.grads, tK1.lossGrads, tK.grads, tK.lossGrads);
  }
  sys.dispose();
});

test('as K grows Neumann-RBP, CG-RBP and RBP converge to exact on a contractive system', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const T = 200;
  const ex = getMethod('exact').compute(sys, { T, K: 1, keepAdjoint: true });
  assert.ok(ex.backward.converged, 'exact converged');
  const errs: Record<string, number[]> = { Neumann_RBP: [], CG_RBP: [], RBP: [] };
  for (const K of [2, 5, 10, 30]) {
    for (const m of Object.keys(errs)) {
      const r = getMethod(m).compute(sys, { T, K });
      errs[m].push(compareGrads(r.grads, ex.grads).relErr);
      dispose(r.grads, r.lossGrads);
    }
  }
  for (const [m, e] of Object.entries(errs)) {
    for (let i = 1; i < e.length; i++) assert.ok(e[i] <= e[i - 1] * 1.01 + 1e-7, `${m}: error should shrink with K: ${e.join(', ')}`);
    assert.ok(e[e.length - 1] < 1e-4, `${m}: error at K=30 is ${e[e.length - 1]}`);
    assert.ok(e[0] > 10 * e[e.length - 1], `${m}: K=2 should be clearly worse than K=30: ${e.join(', ')}`);
  }
  // BPTT at a converged fixed point is the exact implicit gradient too.
  const bp = getMethod('BPTT').compute(sys, { T, K: 1 });
  assert.ok(compareGrads(bp.grads, ex.grads).relErr < 1e-4);
  dispose(bp.grads, bp.lossGrads, ex.grads, ex.lossGrads, ex.adjoint);
  sys.dispose();
});

test('the adjoint residual trace falls for RBP-family methods and the loss-parameter gradient is exact', () => {
  const sys = new ToySystem({ scale: 1.2, seed: 2 });
  const n = getMethod('Neumann_RBP').compute(sys, { T: 100, K: 12, trace: true });
  const res = n.backward.iterations.map((i) => i.residual!);
  assert.equal(res.length, 13);
  for (let k = 1; k < res.length; k++) assert.ok(res[k] < res[k - 1], `residual should fall every iteration: ${res.join(', ')}`);
  assert.ok(res[12] < res[0] * 0.2, `residual fell: ${res[0]} → ${res[12]}`);
  const bp = getMethod('BPTT').compute(sys, { T: 100, K: 1 });
  assert.ok(compareGrads(n.lossGrads, bp.lossGrads).relErr < 1e-5);
  dispose(n.grads, n.lossGrads, bp.grads, bp.lossGrads);
  sys.dispose();
});

test('on a system with ρ(J) > 1 RBP diverges and the verdict says so', () => {
  // β = 1.3 on the b block: J has an eigenvalue 1.3, whatever tanh does.
  const sys = new ToySystem({ scale: 1.0, seed: 4, bDecay: 1.3 });
  const T = 60;
  const h0 = sys.initialState();
  const res = new NaiveSolver().solve(sys, h0, { maxSteps: T, keep: 1 });
  const lin = linearize(sys, res.history[0].h, sys.params, res.history[0].t, 'linearize');
  const est = spectralRadius(lin, res.h, 60);
  const v = verdict(est.rho, res.stats);
  assert.ok(est.rho > 1, `ρ = ${est.rho}`);
  assert.equal(v.level, 'bad');
  assert.equal(v.trustRbp, false);
  assert.match(v.message, /> 1: truncated gradients unreliable/);
  const r = getMethod('RBP').compute(sys, { T, K: 40, trace: true });
  const resid = r.backward.iterations.map((i) => i.residual!);
  assert.ok(!(resid[resid.length - 1] < resid[0]), `RBP residual should not converge: ${resid[0]} → ${resid[resid.length - 1]}`);
  dispose(h0, res.h, res.history[0].h, r.grads, r.lossGrads);
  sys.dispose();
});

test('spectral radius by power iteration matches the dense Jacobian of a small linear-ish system', () => {
  const sys = new ToySystem({ n: 6, scale: 1.0, seed: 9 });
  const h0 = sys.initialState();
  const res = new NaiveSolver().solve(sys, h0, { maxSteps: 80, keep: 1 });
  const h = res.history[0].h;
  const lin = genericLinearization(sys, h, sys.params, 0, 'linearize');
  const est = spectralRadius(lin, h, 200);
  // Dense Jᵀ by VJPs on unit vectors, then ρ = max |eig| via powers: ||J^k||^{1/k} for large k.
  const size = h.reduce((s, x) => s + x.size, 0);
  const cols: Float32Array[] = [];
  for (let j = 0; j < size; j++) {
    const e = h.map((x, i) => {
      const a = new Float32Array(x.size);
      const off = h.slice(0, i).reduce((s, y) => s + y.size, 0);
      if (j >= off && j < off + x.size) a[j - off] = 1;
      return tf.tensor(a, x.shape);
    });
    const c = lin.vjp(e);
    cols.push(Float32Array.from(c.flatMap((t) => Array.from(t.dataSync()))));
    dispose(e, c);
  }
  let M = cols.map((c) => Float64Array.from(c));
  let norm = 0;
  const k = 64;
  let P = M;
  for (let p = 1; p < k; p++) {
    P = P.map((row) => Float64Array.from(M[0].map((_, j) => row.reduce((s, v, l) => s + v * M[l][j], 0))));
    const f = Math.max(...P.map((r) => Math.max(...r.map(Math.abs))));
    P = P.map((r) => r.map((v) => v / f));
    norm += Math.log(f);
  }
  const rhoDense = Math.exp((norm + Math.log(Math.max(...P.map((r) => Math.max(...r.map(Math.abs)))))) / k);
  M = [];
  assert.ok(Math.abs(est.rho - rhoDense) / rhoDense < 0.1, `power iteration ${est.rho} vs dense ${rhoDense}`);
  dispose(h0, res.h, h);
  sys.dispose();
});

test('every method leaves the tensor count unchanged across repeated calls', () => {
  const sys = new ToySystem({ scale: 1.0 });
  assertNoLeaks(sys, { T: 20, K: 5, trace: true }, methodNames(), undefined, 3);
  sys.dispose();
});

test('a cancellation check stops every method inside its forward or backward loop, and nothing leaks', () => {
  const sys = new ToySystem({ scale: 0.5 });
  const solvers = { naive: new NaiveSolver(), anderson: new AndersonSolver() };
  // Stop at the n-th check: n = 3 lands in the forward pass, n = T + 3 in the backward loop.
  for (const m of methodNames()) {
    for (const [solverName, solver] of Object.entries(solvers)) {
      if (solverName === 'anderson' && (m === 'BPTT' || m === 'TBPTT')) continue;
      for (const at of [3, 40 + 3]) {
        let checks = 0;
        const cancelled = () => ++checks >= at;
        const before = tf.memory().numTensors;
        assert.throws(() => releasingOnThrow(() => getMethod(m).compute(sys, { T: 40, K: 30, trace: true, solver, cancelled })), Cancelled, `${m} ${solverName} at ${at}`);
        // Mutant check: without the check in the backward loops (common.ts chainBackward, rbp,
        // neumann, cg, exact) the 'at = 43' cases returned a gradient instead of throwing.
        assert.equal(checks, at, `${m}: stopped at the first check that said so`);
        assert.equal(tf.memory().numTensors, before, `${m} ${solverName} at ${at}: tensors left behind`);
      }
    }
  }
  // The power iteration too.
  const h0 = sys.initialState();
  const lin = linearize(sys, h0, sys.params as tf.Tensor[], 0, 'linearize');
  let n = 0;
  assert.throws(() => spectralRadius(lin, h0, 40, 7, () => ++n > 5), Cancelled);
  lin.dispose();
  dispose(h0);
  sys.dispose();
});

test('TrainingWatch: a loss orders of magnitude above its start warns, and fails when it stays there; a forward pass that stops converging warns', () => {
  const conv = { diverged: false, converged: false, finalRel: 1e-7, steps: 50 };
  const loose = { ...conv, finalRel: 0.3 };
  const run = (losses: number[], forward = losses.map(() => conv)) => {
    const w = new TrainingWatch();
    return losses.map((l, i) => w.observe(l, forward[i]));
  };
  // Ordinary training, Adam's first overshoot included (the Hopfield run goes 0.15 → 0.9): nothing.
  assert.deepEqual(run([0.15, 0.9, 0.6, 0.4, 0.35, 0.3, 0.3]).filter(Boolean), []);
  // The run (lr 1e6): 0.15, then ~1e9 for good. A warning at once, a failure after 5 steps at ≥ 1e6×.
  const f = run([0.147, 2.0e9, 1.1e9, 8.7e8, 1.0e9, 1.1e9, 1.3e9]);
  assert.equal(f[1]?.level, 'warn');
  assert.match(f[1]!.message, /the loss grew from 0\.15 to 2\.0e\+9 \(1\.4e\+10×\)/);
  assert.deepEqual(f.slice(2, 5), [undefined, undefined, undefined]);
  assert.equal(f[5]?.level, 'bad', 'hopeless after 5 steps above 1e6× its start');
  // 1e3–1e6×: a warning only, once.
  const mid = run([1, 5e3, 8e3, 2e4, 9e3, 1e4, 3e4, 2e4]);
  assert.deepEqual(mid.map((x) => x?.level), [undefined, 'warn', undefined, undefined, undefined, undefined, undefined, undefined]);
  // A spike that comes back is not hopeless.
  assert.ok(!run([1, 2e6, 2e6, 2e6, 2e6, 1, 2e6, 2e6, 2e6, 2e6]).some((x) => x?.level === 'bad'));
  // A loss starting at 0 is measured from 1e-3, not from 0.
  assert.deepEqual(run([0, 1e-4, 0.5]).filter(Boolean), []);
  assert.equal(run([0, 2])[1]?.level, 'warn');
  // Forward: converged at the start, then not for 5 steps → one warning; never converged → none.
  const fw = run([1, 1, 1, 1, 1, 1, 1, 1], [conv, loose, loose, loose, loose, loose, loose, loose]);
  assert.deepEqual(fw.map((x) => x?.level), [undefined, undefined, undefined, undefined, undefined, 'warn', undefined, undefined]);
  assert.match(fw[5]!.message, /reached its fixed point at the start but has not for 5 steps \(relative residual 0\.30/);
  assert.deepEqual(run([1, 1, 1, 1, 1, 1, 1], Array(7).fill(loose)).filter(Boolean), [], 'the Cora GNN never converges: the verdict says so, not this');
});
