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
import { spectralRadius, verdict } from '../../src/core/diagnostics';
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
