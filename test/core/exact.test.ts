/**
 * `exact`, the reference every method's error is measured against, held to linear algebra: its
 * adjoint solves (I − Jᵀ)z = g as a dense float64 solve does, on contractive systems (by the
 * fixed-point iteration) and on systems with ρ(J) > 1 (by CG on the normal equations); with a
 * budget it keeps the better of its two solvers' iterates; a singular system stops when CG stalls.
 * Its traces and counts (VJPs, JVPs) are checked, as the compare tables and charts show them.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { getMethod, type GradientOptions, type GradientResult } from '../../src/core/gradients';
import { compareGrads } from '../../src/core/metrics';
import { dispose, toArray, type State } from '../../src/core/state';
import { lossGradients, type Linearization } from '../../src/core/system';
import { ToySystem } from '../helpers/toy';
import { useBackend } from '../helpers/setup';

before(useBackend);

const T = 30;

/** Solve A x = b in float64 by Gaussian elimination with partial pivoting. */
function solveDense(A: Float64Array[], b: Float64Array): Float64Array {
  const n = b.length;
  const M = A.map((row, i) => Float64Array.from([...row, b[i]]));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let j = c; j <= n; j++) M[r][j] -= f * M[c][j];
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let j = r + 1; j < n; j++) s -= M[r][j] * x[j];
    x[r] = s / M[r][r];
  }
  return x;
}

/**
 * exact with `inspect` building (I − Jᵀ) column by column (Jᵀ on unit vectors) and g = dL/dh_T at the
 * point it linearised; returns its result (adjoint kept) and the dense solution of (I − Jᵀ)z = g.
 */
function exactAndDense(sys: ToySystem, opts: Partial<GradientOptions> = {}): { ex: GradientResult; zDense: Float64Array } {
  let zDense: Float64Array | undefined;
  const inspect = (lin: Linearization, hPrev: State) => {
    const hT = sys.step(hPrev, sys.params, T - 1, 'linearize');
    const { dh, dtheta } = lossGradients(sys, hT);
    const g = Float64Array.from(toArray(dh));
    const n = g.length;
    const A = Array.from({ length: n }, (_, i) => Float64Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
    for (let j = 0; j < n; j++) {
      let off = 0;
      const e = hPrev.map((x) => {
        const a = new Float32Array(x.size);
        if (j >= off && j < off + x.size) a[j - off] = 1;
        off += x.size;
        return tf.tensor(a, x.shape);
      });
      const col = toArray(lin.vjp(e));
      for (let i = 0; i < n; i++) A[i][j] -= col[i];
      dispose(e);
    }
    zDense = solveDense(A, g);
    dispose(hT, dh, dtheta);
  };
  const ex = getMethod('exact').compute(sys, { T, K: 1, keepAdjoint: true, inspect, ...opts });
  return { ex, zDense: zDense! };
}

function relErr(z: Float32Array, ref: Float64Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    d += (z[i] - ref[i]) ** 2;
    n += ref[i] ** 2;
  }
  return Math.sqrt(d / n);
}

const release = (...rs: GradientResult[]) => {
  for (const r of rs) dispose(r.grads, r.lossGrads, r.adjoint);
};

test('exact on a contractive system: the fixed-point iteration to its tolerance, the dense solution, its trace and costs', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const { ex, zDense } = exactAndDense(sys);
  const it = ex.backward.iterations;
  const n = it.length;
  assert.match(ex.backward.note!, new RegExp(`^fixed-point iteration: adjoint residual \\d\\.\\d\\de-\\d after ${n} iterations$`));
  assert.ok(ex.backward.converged);
  assert.deepEqual(it.map((i) => i.k), Array.from({ length: n }, (_, i) => i + 1), 'one record per iteration, numbered from 1');
  for (let k = 1; k < n; k++) assert.ok(it[k].residual! < it[k - 1].residual!, 'the residual falls at every iteration of a contraction');
  assert.ok(it[n - 1].residual! < 1e-6 && it[n - 2].residual! >= 1e-6, 'stopped at the first iterate below exactTol');
  // One VJP per iteration, one for dL/dw; no JVP (CG did not run).
  assert.deepEqual([ex.vjps, ex.jvps], [n + 1, 0]);
  const e = relErr(toArray(ex.adjoint!), zDense);
  assert.ok(e < 1e-5, `adjoint vs the dense solve of (I − Jᵀ)z = g: ${e}`);
  release(ex);
  sys.dispose();
});

/**
 * Richardson's residual after k iterations is that of Neumann-RBP's partial sum z_{k−1}; from those,
 * the VJPs it spends before giving up: at the first k that is 5 iterations past its best, or 10× it.
 */
function richardsonVjps(sys: ToySystem): number {
  const nr = getMethod('Neumann_RBP').compute(sys, { T, K: 12, trace: true });
  const r = nr.backward.iterations.map((i) => i.residual!);
  release(nr);
  let best = 0;
  for (let k = 1; k < r.length; k++) {
    if (k - best >= 5 || r[k] > 10 * r[best]) return k + 1;
    if (r[k] < r[best]) best = k;
  }
  throw new Error('the fixed-point iteration did not give up within 12 iterations');
}

test('exact when ρ(J) > 1: the fixed-point iteration diverges and is dropped early, CG on the normal equations solves (I − Jᵀ)z = g', () => {
  // β on the b block is an eigenvalue of J: 1.3, 3 (10× growth within 5 iterations) and −1.5.
  for (const bDecay of [1.3, 3, -1.5]) {
    const sys = new ToySystem({ scale: 1.0, seed: 4, bDecay });
    const { ex, zDense } = exactAndDense(sys);
    const it = ex.backward.iterations;
    const n = it.length;
    assert.match(ex.backward.note!, new RegExp(`^CG on the normal equations: adjoint residual \\d\\.\\d\\de-\\d after ${n} iterations$`), `β ${bDecay}`);
    assert.ok(ex.backward.converged);
    assert.deepEqual(it.map((i) => i.k), Array.from({ length: n }, (_, i) => i + 1));
    assert.ok(it[n - 1].residual! < 1e-6 && it.slice(0, -1).every((i) => i.residual! >= 1e-6), `β ${bDecay}: CG stopped at the first iterate below exactTol`);
    const e = relErr(toArray(ex.adjoint!), zDense);
    assert.ok(e < 1e-4, `β ${bDecay}: adjoint vs the dense solve: ${e}`);
    // CG: one VJP and one JVP per iteration, one JVP for (I − J)g; the fixed-point attempt's VJPs; one for dL/dw.
    assert.equal(ex.jvps, n + 1);
    assert.equal(ex.vjps - n - 1, richardsonVjps(sys), `β ${bDecay}: VJPs spent on the diverging fixed-point iteration`);
    release(ex);
    sys.dispose();
  }
});

test('exact within a budget of 3 iterations keeps the better of its two solvers and says it did not converge', () => {
  // The fixed-point iterate after 3 steps is Neumann-RBP(2)'s z; CG's is CG-RBP(3)'s with η = 0.
  // On the first system the fixed-point iterate is the better one, on the second CG's.
  for (const [o, winner] of [
    [{ scale: 1.0, seed: 7 }, 'fixed-point iteration'],
    [{ scale: 1.2, seed: 2 }, 'CG on the normal equations'],
  ] as const) {
    const sys = new ToySystem(o);
    const ex = getMethod('exact').compute(sys, { T, K: 1, exactMaxIter: 3, keepAdjoint: true });
    const nm = getMethod('Neumann_RBP').compute(sys, { T, K: 2, trace: true, keepAdjoint: true });
    const cg = getMethod('CG_RBP').compute(sys, { T, K: 3, cgEta: 0, cgTol: 0, keepAdjoint: true });
    const rN = nm.backward.iterations[2].residual!;
    const rC = cg.backward.iterations[2].residual!;
    const kept = rN <= rC ? nm : cg;
    assert.equal(winner === 'fixed-point iteration', kept === nm, `residuals: fixed point ${rN}, CG ${rC}`);
    const final = ex.backward.iterations[2].residual!;
    assert.equal(ex.backward.iterations.length, 3);
    assert.ok(Math.abs(final - Math.min(rN, rC)) < 1e-3 * final, `exact's residual ${final} is the smaller of ${rN}, ${rC}`);
    assert.ok(compareGrads(ex.adjoint!, kept.adjoint!).relErr < 1e-4, 'and its iterate');
    assert.match(ex.backward.note!, new RegExp(`^${winner}: adjoint residual .* after 3 iterations \\(did not reach 0\\.000001\\)$`));
    assert.equal(ex.backward.converged, false);
    // Both solvers spent the budget: 3 + 3 VJPs (+1 for dL/dw), 3 + 1 JVPs.
    assert.deepEqual([ex.vjps, ex.jvps], [7, 4]);
    release(ex, nm, cg);
    sys.dispose();
  }
});

test('exact on a singular or near-singular system stops when CG stalls, not at its budget, and says whether it came within 10× of its tolerance', () => {
  // β = 1: J has the eigenvalue 1 (no solution). β = 1.05: float32 round-off floors CG's residual
  // between tol and 10 tol, which still counts as converged.
  for (const [bDecay, converged] of [[1, false], [1.05, true]] as const) {
    const sys = new ToySystem({ scale: 1.0, seed: 4, bDecay });
    const ex = getMethod('exact').compute(sys, { T, K: 1 });
    const r = ex.backward.iterations.map((i) => i.residual!);
    const n = r.length;
    assert.match(ex.backward.note!, converged ? /^CG on the normal equations: adjoint residual \d\.\d\de-6 after \d+ iterations$/ : /^CG on the normal equations: .* \(did not reach 0\.000001\)$/);
    assert.equal(ex.backward.converged, converged);
    assert.ok(converged ? r[n - 1] >= 1e-6 : r[n - 1] > 0.5, `β ${bDecay}: final residual ${r[n - 1]}`);
    assert.ok(n < 100, `β ${bDecay}: stopped after ${n} of 300 iterations`);
    // The stall rule: stop at the first m > 15 where the last 15 residuals did not beat the best
    // before them by 10% (mutants: max instead of min, 0.9 / …, stopping at 16 while CG still gains).
    const stalled = (m: number) => m > 15 && Math.min(...r.slice(m - 15, m)) > 0.9 * Math.min(...r.slice(0, m - 15));
    assert.ok(stalled(n), `β ${bDecay}: stopped at ${n} without a stall`);
    for (let m = 1; m < n; m++) assert.ok(!stalled(m), `β ${bDecay}: stalled at ${m} but went on to ${n}`);
    release(ex);
    sys.dispose();
  }
});

test('exact on a forward pass that overflowed reports no convergence instead of throwing', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 4, bDecay: 40 });
  const ex = getMethod('exact').compute(sys, { T: 200, K: 1 });
  assert.ok(ex.forward.diverged);
  assert.equal(ex.backward.converged, false);
  assert.match(ex.backward.note!, /adjoint residual Infinity after 0 iterations/);
  release(ex);
  sys.dispose();
});
