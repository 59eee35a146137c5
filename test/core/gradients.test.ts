/**
 * The gradient methods against the math: finite differences, the Neumann/TBPTT identity at a
 * fixed point, convergence to `exact` as K grows, RBP's divergence when ρ(J) > 1.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { getMethod, parseMethodName, methodNames, methods, methodLabel, takesK, registerMethod, type GradientResult } from '../../src/core/gradients';
import { compareGrads } from '../../src/core/metrics';
import { dispose, norm, type State } from '../../src/core/state';
import { linearize, genericLinearization, type DynamicSystem, type Linearization, type StepPhase } from '../../src/core/system';
import type { StepResidual } from '../../src/core/solvers';
import { HopfieldSystem, HOPFIELD_DEFAULTS } from '../../src/experiments/hopfield/model';
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

/**
 * Another system seen through a wrapper: its loss times `lossScale`, and its batched parameter
 * VJP (`paramVjpMany`) offered or hidden (then chainBackward takes the per-step path).
 */
class Wrapped implements DynamicSystem {
  readonly name = 'wrapped';
  readonly paramVjpMany?: DynamicSystem['paramVjpMany'];
  readonly linearize?: DynamicSystem['linearize'];
  constructor(
    private readonly inner: DynamicSystem,
    private readonly o: { lossScale?: number; batched?: boolean },
  ) {
    if (o.batched !== false && inner.paramVjpMany) this.paramVjpMany = inner.paramVjpMany.bind(inner);
    if (inner.linearize) this.linearize = inner.linearize.bind(inner);
  }
  get params() {
    return this.inner.params;
  }
  get lossParams() {
    return this.inner.lossParams;
  }
  initialState(): State {
    return this.inner.initialState();
  }
  step(h: State, w: tf.Tensor[], t: number, phase: StepPhase): State {
    return this.inner.step(h, w, t, phase);
  }
  loss(h: State, theta: tf.Tensor[]): tf.Scalar {
    return tf.tidy(() => tf.mul(this.inner.loss(h, theta), this.o.lossScale ?? 1));
  }
}

const release = (...rs: GradientResult[]) => {
  for (const r of rs) dispose(r.grads, r.lossGrads, r.adjoint);
};

test('the catalog: every method in order, labels, which take K, and a registered method known by its spellings until removed', () => {
  const builtin = ['BPTT', 'TBPTT', 'RBP', 'CG_RBP', 'Neumann_RBP', 'exact'];
  assert.deepEqual(methods().map((m) => m.name), builtin);
  assert.deepEqual(['cg', 'neumann_rbp', 'BPTT', 'gradcheck'].map(methodLabel), ['CG-RBP', 'Neumann-RBP', 'BPTT', 'gradcheck'], 'an unknown name is shown as it is');
  assert.deepEqual([...builtin, 'nope'].map(takesK), [false, true, true, true, true, false, false]);
  const info = { name: 'Half_Neumann', label: 'Half', aliases: ['halfn'], takesK: true, unroll: false, memory: 'constant', summary: 'test only' } as const;
  const calls: number[] = [];
  const remove = registerMethod(info, (sys, opts) => {
    calls.push(opts.K);
    return getMethod('Neumann_RBP').compute(sys, { ...opts, K: Math.ceil(opts.K / 2) });
  });
  const sys = new ToySystem();
  release(getMethod('HALFN').compute(sys, { T: 5, K: 4 }));
  assert.deepEqual(calls, [4]);
  assert.equal(methodLabel('half-neumann'), 'Half');
  // A spelling another method answers to is refused, whichever entry it clashes with.
  assert.throws(() => registerMethod({ ...info, name: 'Other', aliases: ['Neumann'] }, () => assert.fail()), /^Error: gradient method 'Other': the spelling 'neumann' already names Neumann_RBP$/);
  assert.throws(() => registerMethod({ ...info, name: 'other2', aliases: ['half neumann'] }, () => assert.fail()), /already names Half_Neumann/);
  remove();
  remove(); // a second call removes nothing else
  assert.deepEqual(methodNames(), builtin);
  assert.equal(parseMethodName('halfn'), undefined);
  assert.throws(() => getMethod('halfn'), /unknown gradient method 'halfn'/);
  sys.dispose();
});

test('BPTT records no K, TBPTT its K and refuses K < 1', () => {
  const sys = new ToySystem();
  const bp = getMethod('BPTT').compute(sys, { T: 6, K: 3 });
  const tb = getMethod('TBPTT').compute(sys, { T: 6, K: 3 });
  assert.deepEqual([bp.K, tb.K, bp.backward.iterations.length, tb.backward.iterations.length], [null, 3, 6, 3]);
  for (const K of [0, -1, NaN]) assert.throws(() => getMethod('TBPTT').compute(sys, { T: 6, K }), /^Error: TBPTT needs K ≥ 1/);
  // T = 0: the loss of h_0 depends on no parameter of F: zero gradients, shaped like the parameters.
  const none = getMethod('BPTT').compute(sys, { T: 0, K: 1 });
  assert.deepEqual(none.grads.map((g) => g.shape), sys.params.map((p) => p.shape));
  assert.ok(none.grads.every((g) => g.dataSync().every((v) => v === 0)));
  release(bp, tb, none);
  sys.dispose();
});

test('at a fixed point BPTT back-propagates the Neumann series: its term norms are the Neumann-RBP residuals', () => {
  // z_{T−k} = (Jᵀ)^k g at a fixed point; Neumann-RBP's residual of z_{k−1} is ||(Jᵀ)^k g|| / ||g||.
  const sys = new ToySystem({ scale: 1.2, seed: 5 });
  const T = 150;
  const bp = getMethod('BPTT').compute(sys, { T, K: 1 });
  const nr = getMethod('Neumann_RBP').compute(sys, { T, K: 8, trace: true });
  const terms = bp.backward.iterations.slice(0, 9).map((i) => i.termNorm!);
  const res = nr.backward.iterations.map((i) => i.residual!);
  terms.forEach((t, k) => assert.ok(Math.abs(t - res[k]) < 1e-4 * res[k], `k=${k + 1}: BPTT ${terms.join(', ')} vs Neumann ${res.join(', ')}`));
  release(bp, nr);
  sys.dispose();
});

test('the batched parameter VJP (one GEMM over all steps) and the per-step path give the same BPTT and TBPTT gradients', () => {
  const images = [0, 1, 2].map((s) => Float32Array.from({ length: 6 }, (_, i) => ((i + s) % 3 === 0 ? 1 : -1)));
  const hop = new HopfieldSystem({ ...HOPFIELD_DEFAULTS, nIn: 6, nHid: 5, initScale: 0.3 }, images);
  for (const [m, K] of [['BPTT', 1], ['TBPTT', 4]] as const) {
    release(getMethod(m).compute(hop, { T: 12, K })); // warm-up: Hopfield caches its symmetrised W
    const live = tf.memory().numTensors;
    const a = getMethod(m).compute(new Wrapped(hop, { batched: true }), { T: 12, K, trace: true });
    // Only the result's tensors are new (mutant: a VJP at the oldest step, left behind).
    assert.equal(tf.memory().numTensors, live + a.grads.length + a.lossGrads.length, `${m}: tensors left behind`);
    const b = getMethod(m).compute(new Wrapped(hop, { batched: false }), { T: 12, K, trace: true });
    assert.deepEqual(a.backward.iterations.map((i) => i.k), Array.from({ length: m === 'BPTT' ? 12 : K }, (_, i) => i + 1));
    const d = compareGrads(a.grads, b.grads);
    assert.ok(d.relErr < 1e-5, `${m}: batched vs per-step ${d.relErr}`);
    assert.ok(norm(a.grads) > 1e-3, 'a gradient that is not zero');
    assert.deepEqual(a.backward.iterations.map((i) => i.k), b.backward.iterations.map((i) => i.k));
    a.backward.iterations.slice(0, -1).forEach((it, i) => assert.ok(Math.abs(it.termNorm! - b.backward.iterations[i].termNorm!) < 1e-5 * b.backward.iterations[i].termNorm!));
    assert.equal(a.vjps, b.vjps);
    release(a, b);
  }
  hop.dispose();
});

test('a loss that does not depend on the state (g = 0): zero gradients and finite traces from every method', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const flat = new Wrapped(sys, { lossScale: 0 });
  for (const m of methodNames()) {
    const r = getMethod(m).compute(flat, { T: 20, K: 5, trace: true });
    const g = r.grads.flatMap((x) => Array.from(x.dataSync()));
    assert.ok(g.every((v) => v === 0), `${m}: gradient ${g.slice(0, 4)}`);
    for (const it of r.backward.iterations) for (const v of [it.residual, it.termNorm]) assert.ok(v === undefined || Number.isFinite(v), `${m}: trace ${JSON.stringify(r.backward.iterations)}`);
    release(r);
  }
  sys.dispose();
});

test('CG-RBP: its stopping test is relative (scaling the loss changes no iteration), it says whether it met it, cgTol is honoured', () => {
  const sys = new ToySystem({ scale: 1.2, seed: 2 });
  const run = (o: { lossScale?: number; K?: number; cgTol?: number }) => getMethod('CG_RBP').compute(new Wrapped(sys, o), { T: 100, K: o.K ?? 100, cgTol: o.cgTol });
  const base = run({});
  const big = run({ lossScale: 1000 });
  const small = run({ lossScale: 1e-3 });
  const n = base.backward.iterations.length;
  assert.ok(base.backward.converged && n < 100, `converged in ${n}`);
  assert.deepEqual([big.backward.iterations.length, small.backward.iterations.length], [n, n], 'mutants: an absolute or ×||b|| stopping test');
  assert.ok(tf.tidy(() => compareGrads(big.grads, base.grads.map((g) => tf.mul(g, 1000))).relErr) < 1e-4);
  const short = run({ K: 3 });
  assert.deepEqual([short.backward.iterations.length, short.backward.converged], [3, false], 'K ran out before the tolerance');
  const loose = run({ cgTol: 1e-2 });
  assert.ok(loose.backward.converged && loose.backward.iterations.length < n, `cgTol 1e-2: ${loose.backward.iterations.length} iterations, default ${n}`);
  release(base, big, small, short, loose);
  sys.dispose();
});

test('the RBP-family forward record: T updates, each reported once as it happens, an overflow at the last update flagged, the inspect hook called', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const seen: StepResidual[] = [];
  let inspected = 0;
  const r = getMethod('Neumann_RBP').compute(sys, {
    T: 25,
    K: 3,
    onForwardStep: (x) => seen.push(x),
    inspect: (lin: Linearization, h: State) => {
      inspected++;
      const v = lin.vjp(h); // still live when handed over
      dispose(v);
    },
  });
  assert.equal(r.forward.steps, 25);
  assert.deepEqual(seen, r.forward.absResidual.map((abs, i) => ({ step: i + 1, abs, rel: r.forward.relResidual[i] })));
  assert.deepEqual([r.forward.finalAbs, r.forward.finalRel], [seen[24].abs, seen[24].rel]);
  assert.equal(r.forward.diverged, false);
  assert.equal(inspected, 1);
  release(r);
  sys.dispose();
  // β = 40: find the update that overflows, then stop the RBP forward pass exactly there.
  const wild = new ToySystem({ scale: 1.0, seed: 4, bDecay: 40 });
  const h0 = wild.initialState();
  const naive = new NaiveSolver().solve(wild, h0, { maxSteps: 200 });
  dispose(h0, naive.h);
  assert.ok(naive.stats.diverged);
  const last = getMethod('RBP').compute(wild, { T: naive.stats.steps, K: 2 });
  const before = getMethod('RBP').compute(wild, { T: naive.stats.steps - 1, K: 2 });
  assert.deepEqual([last.forward.diverged, before.forward.diverged], [true, false], 'the solver ran T − 1 updates; rbpSetup made the one that overflowed');
  release(last, before);
  wild.dispose();
});
