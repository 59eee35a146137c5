/** Forward solvers (naive, Anderson), and optimisers and models releasing their tensors. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { NaiveSolver, AndersonSolver, makeSolver, type StepResidual } from '../../src/core/solvers';
import type { DynamicSystem, StepPhase } from '../../src/core/system';
import { getMethod } from '../../src/core/gradients';
import { compareGrads } from '../../src/core/metrics';
import { dispose, norm, type State } from '../../src/core/state';
import { Cancelled } from '../../src/core/cancel';
import { ToySystem } from '../helpers/toy';
import { tf } from '../../src/core/tf';
import { Adam } from '../../src/core/optim';
import { HopfieldSystem, HOPFIELD_DEFAULTS } from '../../src/experiments/hopfield/model';
import { useBackend } from '../helpers/setup';

before(useBackend);

test('the naive solver records absolute and relative residuals and stops at the tolerance', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const h0 = sys.initialState();
  const seen: StepResidual[] = [];
  const wall0 = performance.now();
  const r = new NaiveSolver().solve(sys, h0, { maxSteps: 500, tol: 1e-5, keep: 3, onStep: (x) => seen.push(x) });
  const wall = performance.now() - wall0;
  assert.ok(r.stats.converged);
  assert.ok(r.stats.steps < 500);
  assert.equal(r.stats.absResidual.length, r.stats.steps);
  assert.ok(r.stats.finalRel < 1e-5);
  // It stopped at the first step below the tolerance, not later.
  assert.ok(r.stats.relResidual.slice(0, -1).every((x) => x >= 1e-5));
  assert.equal(r.stats.finalAbs, r.stats.absResidual[r.stats.steps - 1]);
  assert.equal(r.stats.finalRel, r.stats.relResidual[r.stats.steps - 1]);
  // rel = ||h_{t+1} − h_t|| / ||h_{t+1}|| (mutants: n2 -= n, abs * nrm, rel = abs all fail here).
  const hn = norm(r.h);
  assert.ok(hn > 1.5, `||h*|| = ${hn}: far enough from 1 that rel and abs differ`);
  assert.ok(Math.abs(r.stats.finalRel * hn - r.stats.finalAbs) <= 1e-5 * r.stats.finalAbs, `rel ${r.stats.finalRel} × ||h|| ${hn} vs abs ${r.stats.finalAbs}`);
  // onStep saw every step, numbered from 1, with the recorded residuals.
  assert.deepEqual(seen, r.stats.absResidual.map((abs, i) => ({ step: i + 1, abs, rel: r.stats.relResidual[i] })));
  // The time is the solve's own: non-negative and within the wall time around the call.
  assert.ok(r.stats.timeMs >= 0 && r.stats.timeMs <= wall, `timeMs ${r.stats.timeMs} vs wall ${wall}`);
  assert.equal(r.history.length, 3);
  assert.deepEqual(r.history.map((e) => e.t), [r.stats.steps - 3, r.stats.steps - 2, r.stats.steps - 1]);
  dispose(h0, r.h, ...r.history.map((e) => e.h));
  sys.dispose();
});

test('Anderson acceleration reaches the same fixed point in fewer steps, and RBP-family gradients agree', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const h0 = sys.initialState();
  const naive = new NaiveSolver().solve(sys, h0, { maxSteps: 500, tol: 1e-6 });
  const aa = new AndersonSolver({ window: 5, beta: 1, lambda: 1e-6 }).solve(sys, h0, { maxSteps: 500, tol: 1e-6 });
  assert.ok(naive.stats.converged && aa.stats.converged);
  assert.ok(aa.stats.steps < naive.stats.steps, `Anderson ${aa.stats.steps} vs naive ${naive.stats.steps} steps`);
  const d = compareGrads(aa.h, naive.h);
  assert.ok(d.relErr < 1e-4, `fixed points differ: ${d.relErr}`);
  const g1 = getMethod('Neumann_RBP').compute(sys, { T: 500, K: 30, forwardTol: 1e-6 });
  const g2 = getMethod('Neumann_RBP').compute(sys, { T: 500, K: 30, forwardTol: 1e-6, solver: new AndersonSolver() });
  assert.ok(compareGrads(g2.grads, g1.grads).relErr < 1e-3);
  assert.ok(g2.forward.steps < g1.forward.steps);
  dispose(h0, naive.h, aa.h, g1.grads, g1.lossGrads, g2.grads, g2.lossGrads);
  sys.dispose();
});

test('a diverging forward pass is flagged, not hidden', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 4, bDecay: 40 });
  const h0 = sys.initialState();
  const r = new NaiveSolver().solve(sys, h0, { maxSteps: 200 });
  assert.ok(r.stats.diverged, `final residual ${r.stats.finalAbs}`);
  assert.ok(r.stats.steps < 200);
  dispose(h0, r.h);
  sys.dispose();
});

test('optimisers and models release their initial tensors', () => {
  const before = tf.memory().numTensors;
  const sys = new ToySystem();
  const opt = new Adam(1e-3);
  const g = sys.params.map((p) => tf.onesLike(p));
  opt.apply(sys.params, g);
  dispose(g);
  opt.dispose();
  sys.dispose();
  assert.equal(tf.memory().numTensors, before);
  const h = new HopfieldSystem({ ...HOPFIELD_DEFAULTS, nIn: 4, nHid: 4 }, [new Float32Array(4)]);
  const bytes = tf.memory().numBytes;
  const z = tf.zerosLike(h.W);
  h.W.assign(z);
  z.dispose();
  assert.equal(tf.memory().numBytes, bytes, 'assigning W frees the old value (no lingering initial tensor)');
  h.dispose();
});

/**
 * A one-tensor system with a chosen update (no parameters), recording the phase F was called with.
 * `constant(v)`: h ← v from h_0 = 0, so the first step's relative residual is exactly 1 and the next ones 0.
 */
class MapSystem implements DynamicSystem {
  readonly name = 'map';
  readonly params: tf.Variable[] = [];
  readonly lossParams: tf.Variable[] = [];
  readonly phases: StepPhase[] = [];
  constructor(private readonly f: (h: tf.Tensor) => tf.Tensor) {}
  initialState(): State {
    return [tf.zeros([1, 4])];
  }
  step(h: State, _w: tf.Tensor[], _t: number, phase: StepPhase): State {
    this.phases.push(phase);
    return [this.f(h[0])];
  }
  loss(h: State): tf.Scalar {
    return tf.sum(h[0]);
  }
}
const constant = (v: number) => new MapSystem((h) => tf.fill(h.shape, v));

test('the naive solver: a tolerance is a strict bound, tol 0 runs every step, a state at rest at zero is converged', () => {
  const run = (sys: DynamicSystem, opts: { maxSteps: number; tol?: number; keep?: number; phase?: StepPhase }) => {
    const h0 = sys.initialState();
    const r = new NaiveSolver().solve(sys, h0, opts);
    dispose(h0, r.h, ...r.history.map((e) => e.h));
    return r;
  };
  // h ← (½, ½, ½, ½) from 0: relative residuals 1, 0, 0, … exactly (||h_1|| = 1).
  const half = constant(0.5);
  const edge = run(half, { maxSteps: 10, tol: 1 });
  assert.deepEqual(edge.stats.relResidual, [1, 0], 'rel = 1 is not below tol = 1 (mutant: rel <= tol stops at step 1)');
  assert.ok(edge.stats.converged);
  assert.deepEqual(run(half, { maxSteps: 10, tol: 1.0000001 }).stats.steps, 1);
  // tol 0 (the default): every step runs and nothing claims convergence, even at residual 0.
  const all = run(half, { maxSteps: 6 });
  assert.equal(all.stats.steps, 6);
  assert.equal(all.stats.converged, false, 'tol 0 never converges (mutant: emptyStats with converged: true)');
  assert.equal(all.stats.finalRel, 0);
  assert.deepEqual(all.history, [], 'no history kept without keep');
  // h ← 0 from 0: ||h|| = 0, so rel is abs (0), not 0/0; at rest, not diverged (mutant: nrm >= 0).
  const rest = run(new MapSystem((h) => tf.zerosLike(h)), { maxSteps: 5, tol: 1e-3 });
  assert.deepEqual([rest.stats.relResidual, rest.stats.diverged, rest.stats.converged], [[0], false, true]);
  // The phase passed to F: 'unroll' unless asked (mutant: opts.phase && 'unroll').
  const ph = constant(1);
  run(ph, { maxSteps: 2 });
  run(ph, { maxSteps: 1, phase: 'linearize' });
  assert.deepEqual(ph.phases, ['unroll', 'unroll', 'linearize']);
  // A step that hands back its input (h ← h) keeps it alive (mutant keep >= 0: the window path disposed it).
  assert.deepEqual(run(new MapSystem((h) => h), { maxSteps: 3 }).stats.relResidual, [0, 0, 0]);
  // No steps at all: NaN final residuals, not converged.
  const none = run(half, { maxSteps: 0, tol: 1 });
  assert.ok(Number.isNaN(none.stats.finalRel) && !none.stats.converged && none.stats.steps === 0);
});

/** A system whose step hands back tensors of its input: the whole state once converged (t ≥ 3), for two steps (t = 3, 4), or one component always. */
class PassThroughSystem implements DynamicSystem {
  readonly name = 'pass-through';
  readonly params: tf.Variable[] = [];
  readonly lossParams: tf.Variable[] = [];
  constructor(private readonly mode: 'converged' | 'pause' | 'component') {}
  initialState(): State {
    return [tf.zeros([1, 3]), tf.ones([1, 2])];
  }
  step(h: State, _w: tf.Tensor[], t: number): State {
    if (this.mode === 'converged' || this.mode === 'pause') return t >= 3 && (this.mode === 'converged' || t <= 4) ? h : [tf.add(h[0], 1), tf.mul(h[1], 2)];
    return [tf.add(h[0], 1), h[1]];
  }
  loss(h: State): tf.Scalar {
    return tf.sum(h[0]);
  }
}

test('the kept window survives a step that hands back its input (a fixed point reached exactly, or F returning part of h): nothing in use is disposed, nothing leaks', () => {
  for (const mode of ['converged', 'pause', 'component'] as const) {
    for (const keep of [1, 2, 3]) {
      const sys = new PassThroughSystem(mode);
      const h0 = sys.initialState();
      const before = tf.memory().numTensors;
      // Before: the window disposed the state it evicted although the current h (or a kept one) was the same tensor.
      const r = new NaiveSolver().solve(sys, h0, { maxSteps: 8, keep });
      const what = `${mode}, keep ${keep}`;
      // The updates that changed h among the first t steps.
      const n = (t: number) => (mode === 'converged' ? Math.min(t, 3) : t - Math.max(0, Math.min(t, 5) - 3));
      const want = (t: number) => (mode === 'component' ? [t, 1] : [n(t), 2 ** n(t)]);
      assert.deepEqual(r.h.map((x) => x.dataSync()[0]), want(8), what);
      assert.equal(r.history.length, keep, what);
      for (const e of r.history) assert.deepEqual(e.h.map((x) => x.dataSync()[0]), want(e.t), `${what}: kept input of step ${e.t}`);
      // What the solve holds is h and its window; released (each tensor once), the count is back where it was.
      const held = new Set([...r.h, ...r.history.flatMap((e) => e.h)]);
      for (const x of held) x.dispose();
      assert.equal(tf.memory().numTensors, before, `${what}: no tensor leaks from the window`);
      dispose(h0);
    }
  }
});

test('a cancelled solve releases its state and its kept window', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const h0 = sys.initialState();
  const before = tf.memory().numTensors;
  let checks = 0;
  // Mutant: dispose(h, ...history.map(() => undefined)) leaves the three kept states behind.
  assert.throws(() => new NaiveSolver().solve(sys, h0, { maxSteps: 50, keep: 3, cancelled: () => ++checks > 10 }), Cancelled);
  assert.equal(checks, 11);
  assert.equal(tf.memory().numTensors, before);
  dispose(h0);
  sys.dispose();
});

test('makeSolver: the names the config and CLI accept, in any case, with Anderson options passed on', () => {
  assert.ok(makeSolver('naive') instanceof NaiveSolver);
  const aa = makeSolver('Anderson', { window: 3 });
  assert.ok(aa instanceof AndersonSolver);
  assert.equal((aa as AndersonSolver).options.window, 3);
  assert.equal((aa as AndersonSolver).options.beta, 1, 'defaults fill what was not given');
  assert.throws(() => makeSolver('newton'), /^Error: unknown forward solver 'newton' \(known: naive, anderson\)$/);
});
