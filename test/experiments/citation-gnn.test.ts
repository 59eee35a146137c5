/** The citation GRU-GNN: the step against a plain-JS GRUCell, message passing, gradients, Cora training and diagnostics, data errors. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '../../src/core/tf';
import { getMethod } from '../../src/core/gradients';
import { genericLinearization } from '../../src/core/system';
import { compareGrads } from '../../src/core/metrics';
import { dispose } from '../../src/core/state';
import { Rng } from '../../src/core/random';
import { builtinConfig } from '../../src/config/load';
import type { RbpConfig } from '../../src/config/load';
import { GruGnnSystem, GnnGraph, accuracy } from '../../src/experiments/citation-gnn/model';
import { gruKernelsAvailable, gruPoint } from '../../src/experiments/citation-gnn/fused';
import { wasmKernels } from '../../src/core/wasm/module';
import { createCitationSession, loadCitationData, evaluateAccuracy, CitationData, DATA_ENV } from '../../src/experiments/citation-gnn/experiment';
import { loadExperiment } from '../../src/experiments';
import { RunError } from '../../src/experiments/types';
import { diagnose, runExperiment } from '../../src/run/runner';
import type { WorkerEvent } from '../../src/protocol/messages';
import { useBackend, planetoidDir, coraSkip, randomDirection, dotAll } from '../helpers/setup';
import { assertSameLinearization, assertNoLeaks, assertMethodsAgree } from '../helpers/checks';

before(useBackend);

/** A small directed multigraph (the edge 0 → 3 twice) and random features. */
function tinyGraph(N = 6, D = 4, seed = 5): GnnGraph {
  const rng = new Rng(seed);
  const edges: [number, number][] = [[0, 1], [1, 0], [1, 2], [2, 3], [3, 1], [4, 3], [0, 3], [0, 3], [3, 5], [5, 0], [2, 4]];
  return {
    numNodes: N,
    src: Int32Array.from(edges, (e) => e[0]),
    dst: Int32Array.from(edges, (e) => e[1]),
    features: rng.normalArray(N * D, 0.8),
    dim: D,
    labels: Int32Array.from({ length: N }, (_, i) => i % 3),
    numClasses: 3,
    lossNodes: Int32Array.from([0, 2, 3, 5]),
  };
}

/**
 * A tiny system with non-zero biases (the defaults are zero) so that every term is exercised; the
 * same seeds whatever the options, so systems that differ only in `analytic` or `fused` hold the
 * same weights.
 */
function tinySystem({ analytic = true, fused = true, scale = 1, aggregate = 'sum' as 'sum' | 'avg' } = {}): GruGnnSystem {
  const sys = new GruGnnSystem(tinyGraph(), { seed: 9, analytic, fused, aggregate });
  const rng = new Rng(17);
  for (const v of [...sys.params, ...sys.lossParams]) {
    const noise = tf.tensor(rng.normalArray(v.size, 0.3), v.shape);
    v.assign(v.rank === 1 ? noise : tf.mul(v, scale));
    noise.dispose();
  }
  return sys;
}

const sig = (a: number) => 1 / (1 + Math.exp(-a));

/**
 * torch.nn.GRUCell in plain JS, with torch's layout: weight_ih, weight_hh [3D, D] (rows r, z, n),
 * biases [3D]; messages summed over the edge list, or averaged as the authors' model/gnn.py
 * (sum / (in-degree + float32 eps)).
 */
function refGruStep(g: GnnGraph, h: Float32Array, Wih: Float32Array, Whh: Float32Array, bih: Float32Array, bhh: Float32Array, aggregate: 'sum' | 'avg' = 'sum'): Float64Array {
  const { numNodes: N, dim: D } = g;
  const m = new Float64Array(N * D);
  for (let e = 0; e < g.src.length; e++) for (let d = 0; d < D; d++) m[g.dst[e] * D + d] += h[g.src[e] * D + d];
  if (aggregate === 'avg') {
    const deg = new Float64Array(N);
    for (const i of g.dst) deg[i]++;
    for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) m[i * D + d] /= deg[i] + 2 ** -23;
  }
  const out = new Float64Array(N * D);
  for (let i = 0; i < N; i++) {
    const gi = new Float64Array(3 * D);
    const gh = new Float64Array(3 * D);
    for (let o = 0; o < 3 * D; o++) {
      let a = bih[o];
      let b = bhh[o];
      for (let d = 0; d < D; d++) {
        a += Wih[o * D + d] * m[i * D + d];
        b += Whh[o * D + d] * h[i * D + d];
      }
      gi[o] = a;
      gh[o] = b;
    }
    for (let d = 0; d < D; d++) {
      const r = sig(gi[d] + gh[d]);
      const z = sig(gi[D + d] + gh[D + d]);
      const n = Math.tanh(gi[2 * D + d] + r * gh[2 * D + d]);
      out[i * D + d] = (1 - z) * n + z * h[i * D + d];
    }
  }
  return out;
}

/** Our W [D, 3D] → torch's weight [3D, D]. */
function torchLayout(W: tf.Tensor): Float32Array {
  return tf.tidy(() => tf.transpose(W).dataSync() as Float32Array);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const aggregate of ['sum', 'avg'] as const) {
  test(`one GNN step equals a plain-JS torch.nn.GRUCell with ${aggregate === 'sum' ? 'summed' : 'averaged'} messages (tiny multigraph, three steps)`, () => {
    const sys = tinySystem({ aggregate });
    const g = sys.graph;
    const [Wih, Whh] = [torchLayout(sys.params[0]), torchLayout(sys.params[1])];
    const [bih, bhh] = [sys.params[2].dataSync() as Float32Array, sys.params[3].dataSync() as Float32Array];
    let h = sys.initialState();
    let ref = Float32Array.from(g.features);
    for (let t = 0; t < 3; t++) {
      const next = sys.step(h, sys.params, t, 'unroll');
      dispose(h);
      h = next;
      ref = Float32Array.from(refGruStep(g, ref, Wih, Whh, bih, bhh, aggregate));
      const d = maxAbsDiff(h[0].dataSync(), ref);
      assert.ok(d < 2e-6, `step ${t}: max |tfjs − reference| = ${d}`);
    }
    // The state actually moved (a trivial step would pass too).
    assert.ok(maxAbsDiff(ref, g.features) > 0.1);
    dispose(h);
    sys.dispose();
  });
}

// Mutants: no division (avg = sum), dividing by distinct neighbours (the repeated edge counted once), no ε (0/0 = NaN
// at a node without messages), the transpose without the division: each fails here.
test('avg aggregation by hand: a repeated edge counts twice, a node without messages gets 0, and the transpose', () => {
  // 0 → 1 twice, 2 → 1, 1 → 0; nodes 2 and 3 receive nothing
  const g: GnnGraph = { ...tinyGraph(4, 2), src: Int32Array.from([0, 0, 2, 1]), dst: Int32Array.from([1, 1, 1, 0]), lossNodes: Int32Array.from([0]) };
  const x = [1, 2, 10, 20, 100, 200, 7, 7];
  const row = (v: number[], i: number) => [v[2 * i], v[2 * i + 1]];
  const eps = 2 ** -23;
  // m_0 = x_1 / (1 + ε), m_1 = (2 x_0 + x_2) / (3 + ε), m_2 = m_3 = 0
  const want = [...row(x, 1).map((v) => v / (1 + eps)), ...[0, 1].map((k) => (2 * x[k] + x[4 + k]) / (3 + eps)), 0, 0, 0, 0];
  // Aᵀ S y: (·)_0 = 2 y_1 / 3, (·)_1 = y_0 / 1, (·)_2 = y_1 / 3, (·)_3 = 0
  const wantT = [...[0, 1].map((k) => (2 * x[2 + k]) / (3 + eps)), ...[0, 1].map((k) => x[k] / (1 + eps)), ...[0, 1].map((k) => x[2 + k] / (3 + eps)), 0, 0];
  for (const fused of [true, false]) {
    const sys = new GruGnnSystem(g, { seed: 1, analytic: true, fused, aggregate: 'avg' });
    const xt = tf.tensor2d(x, [4, 2]);
    const got = sys.propagate(xt);
    const gotT = sys.propagateT(xt);
    assert.ok(maxAbsDiff(got.dataSync(), want) < 1e-5, `${fused ? 'fused' : 'reference'} S A x: ${Array.from(got.dataSync())} vs ${want}`);
    assert.ok(maxAbsDiff(gotT.dataSync(), wantT) < 1e-5, `${fused ? 'fused' : 'reference'} Aᵀ S y: ${Array.from(gotT.dataSync())} vs ${wantT}`);
    dispose([xt, got, gotT]);
    sys.dispose();
  }
  assert.throws(() => new GruGnnSystem(g, { seed: 1, analytic: true, aggregate: 'max' as 'avg' }), /unknown aggregation 'max'/);
});

test('message passing (gather by src + segment sum by dst) equals the dense adjacency product, and its transpose', () => {
  const rng = new Rng(3);
  const N = 9;
  const D = 5;
  const E = 30;
  const g: GnnGraph = { ...tinyGraph(N, D), src: Int32Array.from({ length: E }, () => rng.int(N)), dst: Int32Array.from({ length: E }, () => rng.int(N)) };
  const sys = new GruGnnSystem({ ...g, lossNodes: Int32Array.from([0]) });
  const A = new Float32Array(N * N);
  for (let e = 0; e < E; e++) A[g.dst[e] * N + g.src[e]] += 1; // A[i, j] = #edges j → i (duplicates count)
  const x = tf.tensor2d(rng.normalArray(N * D), [N, D]);
  const At = tf.tensor2d(A, [N, N]);
  const got = sys.propagate(x);
  const want = tf.matMul(At, x);
  assert.ok(maxAbsDiff(got.dataSync(), want.dataSync()) < 1e-5, 'A x');
  const gotT = sys.propagateT(x);
  const wantT = tf.matMul(At, x, true, false);
  assert.ok(maxAbsDiff(gotT.dataSync(), wantT.dataSync()) < 1e-5, 'Aᵀ x');
  dispose([x, At, got, want, gotT, wantT]);
  sys.dispose();
});

test('BPTT gradient of the GNN matches finite differences (N = 6, D = 4, T = 5)', () => {
  const sys = tinySystem();
  const T = 5;
  const r = getMethod('BPTT').compute(sys, { T, K: 1 });
  const vars = [...sys.params, ...sys.lossParams];
  const grads = [...r.grads, ...r.lossGrads];
  const lossAt = () =>
    tf.tidy(() => {
      let h = sys.initialState();
      for (let t = 0; t < T; t++) h = sys.step(h, sys.params, t, 'unroll');
      return sys.loss(h, sys.lossParams).dataSync()[0];
    });
  assert.ok(Math.abs(lossAt() - r.loss) < 1e-6, 'the loss BPTT reports is the loss of the unroll');
  for (const seed of [11, 23]) {
    const dir = randomDirection(vars, seed);
    const eps = 1e-2;
    const orig = vars.map((v) => tf.clone(v));
    const shifted = (s: number) => {
      vars.forEach((v, i) => v.assign(tf.tidy(() => tf.add(orig[i], tf.mul(dir[i], s)))));
      return lossAt();
    };
    const fd = (shifted(eps) - shifted(-eps)) / (2 * eps);
    vars.forEach((v, i) => v.assign(orig[i]));
    const an = dotAll(grads, dir);
    assert.ok(Math.abs(fd - an) <= 1e-3 * Math.abs(an) + 1e-6, `directional derivative: finite differences ${fd}, BPTT ${an}`);
    dispose(dir, orig);
  }
  dispose(r.grads, r.lossGrads);
  sys.dispose();
});

for (const aggregate of ['sum', 'avg'] as const) {
  test(`the analytic GRU linearisation equals generic autodiff (VJP, parameter VJP, JVP, every method; ${aggregate})`, () => {
    const fast = tinySystem({ scale: 2.5, aggregate });
    const slow = tinySystem({ analytic: false, scale: 2.5, aggregate });
    assert.deepEqual([fast, slow].map((s) => s.opts.analytic), [true, false], 'analytic against generic');
    let h = fast.initialState();
    for (let t = 0; t < 3; t++) {
      const n = fast.step(h, fast.params, t, 'unroll');
      dispose(h);
      h = n;
    }
    const a = fast.linearize(h, fast.params, 3, 'linearize');
    const b = genericLinearization(slow, h, slow.params, 3, 'linearize');
    assertSameLinearization(a, b, h, 'analytic vs generic');
    a.dispose();
    dispose(h);
    assertMethodsAgree(fast, [{ sys: slow, tol: 1e-4, label: 'generic' }], { T: 8, K: 4 });
    fast.dispose();
    slow.dispose();
  });
}

// The accuracies were held only to [0, 1] (the Cora tests below): a reversed comparison (1 − acc),
// unlabelled rows counted, or one split's nodes scored as another's passed. Mutants caught here:
// `best === y` → `!==`; the `y < 0` skip removed; val_acc computed on split.test; `>` → `>=` (ties).
test('accuracy: the share of labelled rows whose largest logit (the first of equal ones) is the label, per split', () => {
  // argmax per row: 1, 0, 2, 0 (row 3: a tie, the first wins)
  const logits = Float32Array.from([0, 1, 0, 2, 0, 0, 0, 0, 3, 1, 1, 0]);
  assert.equal(accuracy(logits, 3, [1, 1, 2, -1]), 2 / 3, 'rows 0 and 2 right, row 1 wrong, row 3 unlabelled');
  assert.equal(accuracy(logits, 3, [1, 1, 2, 0], [1, 3]), 1 / 2, 'only the rows asked for: row 1 wrong, row 3 right (tie)');
  // evaluateAccuracy: each split scored on its own nodes after T steps
  const sys = tinySystem();
  let h = sys.initialState();
  for (let t = 0; t < 4; t++) {
    const n = sys.step(h, sys.params, t, 'unroll');
    dispose(h);
    h = n;
  }
  const lg = sys.logits(h);
  const v = lg.dataSync();
  dispose(h, [lg]);
  const pred = Array.from({ length: sys.N }, (_, i) => [0, 1, 2].reduce((b, c) => (v[i * 3 + c] > v[i * 3 + b] ? c : b), 0));
  const right = pred.flatMap((p, i) => (p === sys.graph.labels[i] ? [i] : []));
  const wrong = pred.flatMap((p, i) => (p !== sys.graph.labels[i] ? [i] : []));
  assert.ok(right.length && wrong.length, `the tiny system gets some nodes right and some wrong: ${pred}`);
  const split = { train: Int32Array.from([right[0], wrong[0]]), val: Int32Array.from(right), test: Int32Array.from(wrong) };
  assert.deepEqual(evaluateAccuracy(sys, 4, split), { train_acc: 0.5, val_acc: 1, test_acc: 0 });
  sys.dispose();
});

test('a gradient call on the GNN leaves no tensor behind (every method, sum and avg)', () => {
  for (const aggregate of ['sum', 'avg'] as const) {
    const sys = tinySystem({ aggregate });
    assertNoLeaks(sys, { T: 6, K: 3 });
    sys.dispose();
  }
});

// ---- Cora ----

const skipCora = coraSkip();
const haveCora = !skipCora;
let coraCache: CitationData | undefined;
function cora(): CitationData {
  return (coraCache ??= loadCitationData(builtinConfig('cora')!, { dataDir: planetoidDir, log: () => undefined }));
}

function coraConfig(numProp: number): RbpConfig {
  const c = builtinConfig('cora')!;
  (c.model as Record<string, unknown>).num_prop = numProp;
  return c;
}

test('Cora loads as the authors\' run: PCA-64 features, 10,858 messages, their 1% random split', { skip: skipCora }, () => {
  const d = cora();
  assert.equal(d.graph.numNodes, 2708);
  assert.equal(d.graph.dim, 64);
  assert.equal(d.graph.numClasses, 7);
  assert.equal(d.graph.src.length, 10858);
  assert.deepEqual([d.split.train.length, d.split.val.length, d.split.test.length], [27, 1326, 1355]);
  assert.deepEqual(d.trainClassCounts, [3, 1, 3, 12, 2, 3, 3]);
  assert.deepEqual(Array.from(d.graph.lossNodes), Array.from(d.split.train), 'the loss is taken over the training split');
  const merged = builtinConfig('cora')!;
  (merged.dataset as Record<string, unknown>).merge_dup_edges = true;
  assert.equal(loadCitationData(merged, { dataDir: planetoidDir, log: () => undefined }).graph.src.length, 10556);
});

for (const method of ['BPTT', 'Neumann_RBP'] as const) {
  // Measured (seed 1234, lr 1e-3, momentum 0.9): BPTT 1.919 → 1.386, Neumann-RBP(K=5) 1.919 → 1.819 in 6 steps.
  test(`on Cora (T = 10) a few SGD steps with ${method} lower the training loss`, { skip: skipCora }, () => {
    const s = createCitationSession(coraConfig(10), { log: () => undefined }, { data: cora() });
    const m = getMethod(method);
    const losses: number[] = [];
    for (let i = 0; i < 6; i++) {
      s.beforeStep(i);
      const r = m.compute(s.system, { T: s.T, K: 5, ...s.gradientOptions });
      losses.push(r.loss);
      const acc = s.stepMetrics!(i, r).train_acc;
      assert.ok(acc >= 0 && acc <= 1, `train accuracy ${acc}`);
      s.optimizer.apply([...s.system.params, ...s.system.lossParams], [...r.grads, ...r.lossGrads]);
      dispose(r.grads, r.lossGrads);
    }
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
    assert.ok(losses[losses.length - 1] < losses[0] - 0.05, `${method}: loss ${losses.map((l) => l.toFixed(4)).join(' → ')}`);
    const ev = s.evaluate(5);
    for (const k of ['train_acc', 'val_acc', 'test_acc']) assert.ok(ev[k] >= 0 && ev[k] <= 1, `${k} = ${ev[k]}`);
    const sum = s.summary();
    assert.equal(sum.best_val_acc, ev.val_acc);
    assert.equal(sum.test_acc_at_best_val, ev.test_acc);
    s.dispose();
  });
}

test('at the authors\' initialisation (T = 100) the Cora GRU-GNN is not contractive: ρ(J) > 1 and a bad verdict', { skip: skipCora }, () => {
  const s = createCitationSession(coraConfig(100), { log: () => undefined }, { data: cora() });
  const d = diagnose(s);
  assert.ok(d.rho > 1, `ρ(J) = ${d.rho}`);
  assert.equal(d.verdict.level, 'bad', d.verdict.message);
  assert.equal(d.verdict.trustRbp, false);
  s.dispose();
});

test('the runner runs cora end to end (2 epochs, T = 5) and reports accuracies', { skip: skipCora }, async () => {
  const events: WorkerEvent[] = [];
  const status = await runExperiment({ experiment: 'cora', steps: 2, backend: process.env.RBP_TEST_BACKEND ?? 'wasm', dataDir: planetoidDir, overrides: ['model.num_prop=5', 'train.valid_epoch=1'], method: 'Neumann_RBP', K: 3 }, (e) => events.push(e));
  assert.equal(status, 'completed');
  const train = events.filter((e) => e.type === 'metrics' && e.kind === 'train') as Extract<WorkerEvent, { type: 'metrics' }>[];
  // (the runner may add an untrained baseline evaluation before the first epoch)
  const evals = events.filter((e) => e.type === 'metrics' && e.kind === 'eval').slice(-2) as Extract<WorkerEvent, { type: 'metrics' }>[];
  assert.equal(train.length, 2);
  assert.ok('train_acc' in train[0].values);
  assert.deepEqual(evals.map((e) => e.step), [0, 1]);
  assert.ok('val_acc' in evals[0].values && 'test_acc' in evals[0].values);
  const bestVal = Math.max(...evals.map((e) => e.values.val_acc));
  const fin = events.find((e) => e.type === 'run/finished') as Extract<WorkerEvent, { type: 'run/finished' }>;
  assert.equal(fin.summary.best_val_acc, bestVal, JSON.stringify(fin.summary));
  assert.equal(fin.summary.test_acc_at_best_val, evals.find((e) => e.values.val_acc === bestVal)!.values.test_acc);
  const diag = events.filter((e) => e.type === 'diagnostics');
  assert.ok(diag.length >= 1);
  // the log and the record say what a user checks against the authors' run
  const log = events.filter((e) => e.type === 'log').map((e) => (e as Extract<WorkerEvent, { type: 'log' }>).text).join('\n');
  assert.match(log, /10858 messages per propagation step \(one per adjacency entry, as the authors; 302 repeated/);
  assert.match(log, /split 27\/1326\/1355 \(train\/val\/test; random, the authors' numpy RandomState\(1234\)\.permutation\), training nodes per class 3, 1, 3, 12, 2, 3, 3/);
  assert.equal(fin.summary.messages, 10858);
  assert.equal(fin.summary.train_class_counts, '3,1,3,12,2,3,3');
  assert.deepEqual([fin.summary.train_nodes, fin.summary.val_nodes, fin.summary.test_nodes], [27, 1326, 1355]);
  assert.equal(fin.summary.aggregate_type, 'sum');
});

// ---- data errors ----

function withEnv<T>(value: string | undefined, fn: () => T): T {
  const old = process.env[DATA_ENV];
  if (value === undefined) delete process.env[DATA_ENV];
  else process.env[DATA_ENV] = value;
  try {
    return fn();
  } finally {
    if (old === undefined) delete process.env[DATA_ENV];
    else process.env[DATA_ENV] = old;
  }
}

test('a missing or incomplete data folder is a RunError(bad-data) naming the file, the folder and how to fix it', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-nodata-'));
  const partial = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-partial-'));
  fs.writeFileSync(path.join(partial, 'ind.cora.x'), '');
  const gone = path.join(empty, 'does-not-exist');
  const config = builtinConfig('cora')!;
  const experiment = (await loadExperiment('CitationRunner'))!;
  const create = (dataDir: string) => experiment.create(config, 'Neumann_RBP', 5, { dataDir, log: () => undefined });
  try {
    withEnv(undefined, () => {
      for (const [dir, file] of [[empty, 'ind.cora.graph'], [partial, 'ind.cora.allx'], [gone, 'does not exist']] as const) {
        assert.throws(
          () => create(dir),
          (err: unknown) => {
            assert.ok(err instanceof RunError, String(err));
            assert.equal(err.kind, 'bad-data');
            assert.ok(err.message.includes(path.resolve(dir)), err.message);
            assert.ok(err.message.includes(file), err.message);
            assert.ok(err.message.includes('--data') && err.message.includes('rbpLab.dataDir'), err.message);
            if (dir === partial) assert.ok(!/ind\.cora\.x[,)]/.test(err.message.split(path.resolve(partial))[1].split(';')[0]), `ind.cora.x is there: ${err.message}`);
            return true;
          },
        );
      }
    });
    // $RBP_DATA_DIR is the last place looked in.
    if (haveCora) {
      const d = withEnv(planetoidDir, () => loadCitationData(config, { dataDir: empty, log: () => undefined }));
      assert.equal(d.dir, path.resolve(planetoidDir));
    }
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
    fs.rmSync(partial, { recursive: true, force: true });
  }
});

// ---- the fused fast path against the reference path ----

test('fused message passing (CSR kernel) equals the reference gather + segment sum: forward, gradient, second order', () => {
  const sys = tinySystem();
  assert.ok(sys.fused);
  const rng = new Rng(8);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const x = tf.tensor2d(rng.normalArray(sys.N * sys.D), [sys.N, sys.D]);
    const U = tf.tensor2d(rng.normalArray(sys.N * sys.D), [sys.N, sys.D]);
    const v = tf.tensor2d(rng.normalArray(sys.N * sys.D), [sys.N, sys.D]);
    // bit for bit: the CSR rows add their terms in edge order, as the segment sum does
    assert.deepEqual(Array.from(sys.propagate(x).dataSync()), Array.from(sys.propagateReference(x).dataSync()), 'A x');
    assert.deepEqual(Array.from(sys.propagateT(x).dataSync()), Array.from(sys.propagateTReference(x).dataSync()), 'Aᵀ x');
    const f = (p: (t: tf.Tensor) => tf.Tensor) => (h: tf.Tensor) => tf.sum(tf.mul(tf.mul(tf.square(p(h)), p(h)), U));
    const fast = f((h) => sys.propagate(h));
    const ref = f((h) => sys.propagateReference(h));
    assert.ok(maxAbsDiff(tf.grad(fast)(x).dataSync(), tf.grad(ref)(x).dataSync()) < 1e-4, 'gradient');
    const hvp = (fn: (h: tf.Tensor) => tf.Tensor) => tf.grad((h: tf.Tensor) => tf.sum(tf.mul(tf.grad(fn)(h), v)))(x).dataSync();
    const a = hvp(fast);
    const b = hvp(ref);
    const scale = Math.max(...Array.from(b, Math.abs));
    assert.ok(maxAbsDiff(a, b) < 1e-5 * scale, 'Hessian-vector product');
  });
  assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
  sys.dispose();
});

for (const aggregate of ['sum', 'avg'] as const) {
  test(`the fused GNN path equals the reference path on a multigraph (${aggregate}): step, analytic linearisation, every gradient method`, () => {
    const fast = tinySystem({ scale: 2.5, aggregate });
    const refAnalytic = tinySystem({ fused: false, scale: 2.5, aggregate });
    const refGeneric = tinySystem({ analytic: false, fused: false, scale: 2.5, aggregate });
    // Mutant: tinySystem not passing `fused` on (every path fused): the whole file passed until this check and the one below.
    assert.deepEqual([fast, refAnalytic, refGeneric].map((s) => [s.fused, s.opts.analytic]), [[true, true], [false, true], [false, false]], 'fused, reference analytic, reference generic');
    // the step, three times
    let h = fast.initialState();
    for (let t = 0; t < 3; t++) {
      const a = fast.step(h, fast.params, t, 'unroll');
      const b = refGeneric.step(h, refGeneric.params, t, 'unroll');
      const d = maxAbsDiff(a[0].dataSync(), b[0].dataSync());
      assert.ok(d < 1e-6, `step ${t}: fused vs reference max diff ${d}`);
      dispose(h, b);
      h = a;
    }
    // the linearisation at h_3, against autodiff of the reference step
    const a = fast.linearize(h, fast.params, 3, 'linearize');
    const b = genericLinearization(refGeneric, h, refGeneric.params, 3, 'linearize');
    assertSameLinearization(a, b, h, 'fused vs reference');
    a.dispose();
    dispose(h);
    assertMethodsAgree(fast, [
      // avg: the step and linearisation agree to 1e-5 above; exact's solve amplifies their float32 round-off to 2.5e-5 (measured)
      { sys: refAnalytic, tol: aggregate === 'sum' ? 1e-5 : 1e-4, label: 'reference analytic' },
      { sys: refGeneric, tol: 1e-4, label: 'reference generic' },
    ], { T: 8, K: 4 });
    fast.dispose();
    refAnalytic.dispose();
    refGeneric.dispose();
  });
}

test('the fused path follows weight updates and weights other than its own (cached gate blocks)', () => {
  const fast = tinySystem();
  const ref = tinySystem({ fused: false });
  assert.ok(fast.fused && !ref.fused, 'fused against reference');
  const h = fast.initialState();
  const check = (w: tf.Tensor[], what: string) => {
    const a = fast.step(h, w, 0, 'unroll');
    const b = ref.step(h, w, 0, 'unroll');
    assert.ok(maxAbsDiff(a[0].dataSync(), b[0].dataSync()) < 1e-6, what);
    const la = fast.linearize(h, w, 0, 'linearize');
    const lb = ref.linearize(h, w, 0, 'linearize');
    const [u] = randomDirection(h, 6);
    const ga = la.vjpParams([u]);
    const gb = lb.vjpParams([u]);
    assert.ok(compareGrads(ga, gb).relErr < 1e-5, `${what}: parameter VJP`);
    la.dispose();
    lb.dispose();
    dispose(a, b, ga, gb, [u]);
  };
  check(fast.params, 'own weights');
  const n0 = tf.memory().numTensors;
  // an optimizer-like update of the variables: the cached blocks must follow it
  const rng = new Rng(31);
  fast.params.forEach((v, i) => {
    const next = tf.tensor(rng.normalArray(v.size, 0.4), v.shape);
    v.assign(next);
    ref.params[i].assign(next);
    next.dispose();
  });
  check(fast.params, 'after assign');
  assert.equal(tf.memory().numTensors, n0, 'the old blocks were released');
  // weights that are not the system's variables
  const other = fast.params.map((v) => tf.mul(v, -0.7));
  check(other, 'foreign weights');
  dispose(other, h);
  fast.dispose();
  ref.dispose();
});

test('on Cora (T = 10) the fused path agrees with the reference path (state, Neumann-RBP and BPTT gradients)', { skip: skipCora }, () => {
  const d = cora();
  const fast = new GruGnnSystem(d.graph, { seed: 1234, analytic: true, fused: true });
  const ref = new GruGnnSystem(d.graph, { seed: 1234, analytic: true, fused: false });
  let hf = fast.initialState();
  let hr = ref.initialState();
  for (let t = 0; t < 10; t++) {
    hf = swapState(hf, fast.step(hf, fast.params, t, 'unroll'));
    hr = swapState(hr, ref.step(hr, ref.params, t, 'unroll'));
  }
  const cs = compareGrads(hf, hr);
  assert.ok(cs.relErr < 1e-5, `h_10: rel err ${cs.relErr}`);
  dispose(hf, hr);
  assertMethodsAgree(fast, [{ sys: ref, tol: 1e-4, label: 'reference' }], { T: 10, K: 5 }, ['Neumann_RBP', 'BPTT']);
  fast.dispose();
  ref.dispose();
});

function swapState(old: tf.Tensor[], next: tf.Tensor[]): tf.Tensor[] {
  dispose(old);
  return next;
}

// ---- the fused GRU kernels (./fused.ts) against the per-gate op path ----

/** A random multigraph (repeated edges, nodes without messages) with D not a multiple of 4 or 8 (SIMD and panel tails). */
function randomGraph(N = 37, D = 13, E = 160, seed = 21): GnnGraph {
  const rng = new Rng(seed);
  const src = Int32Array.from({ length: E }, () => rng.int(N));
  const dst = Int32Array.from({ length: E }, () => rng.int(N - 3)); // nodes N−3.. receive nothing
  src[1] = src[0];
  dst[1] = dst[0];
  return { numNodes: N, src, dst, features: rng.normalArray(N * D, 0.8), dim: D, labels: Int32Array.from({ length: N }, (_, i) => i % 4), numClasses: 4, lossNodes: Int32Array.from([0, 3, 5, 8, 13]) };
}

/** The same system with the fused kernels and on the per-gate ops (same seed; random non-zero biases). */
function kernelPair(graph: GnnGraph, aggregate: 'sum' | 'avg'): [GruGnnSystem, GruGnnSystem] {
  const pair = [true, false].map((kernels) => new GruGnnSystem(graph, { seed: 3, analytic: true, fused: true, kernels, aggregate })) as [GruGnnSystem, GruGnnSystem];
  const rng = new Rng(41);
  pair[0].params.forEach((v, i) => {
    const noise = tf.tensor(rng.normalArray(v.size, v.rank === 1 ? 0.3 : 1.5 / Math.sqrt(graph.dim)), v.shape);
    for (const s of pair) s.params[i].assign(noise);
    noise.dispose();
  });
  return pair;
}

/**
 * Why a test of the fused GRU kernels cannot run here: another backend, or the wasm kernels off
 * (RBP_LAB_WASM_KERNELS=off). Kernels loaded without the GRU ones are a failure, not a skip: they
 * skipped every test below while the model quietly took the op path (mutant: gruKernelsAvailable
 * false with the kernels on, as a renamed export would make it: these tests skipped, now they fail).
 */
function kernelSkip(): string | false {
  if (tf.getBackend() !== 'wasm') return `backend ${tf.getBackend()}`;
  if (!wasmKernels(tf.backend())) return 'the wasm kernels are off (RBP_LAB_WASM_KERNELS=off)';
  assert.ok(gruKernelsAvailable(), 'the wasm kernels are loaded but without the GRU kernels (ew_gru_out)');
  return false;
}

const bits = (t: tf.Tensor) => Array.from(t.dataSync());

/**
 * Kernels against ops at a few states: the step and Jᵀu, J u bit for bit (same products, same
 * order); the weight gradient (reductions over the nodes blocked differently) to a tight float32
 * tolerance; vjpBoth equal to vjp and vjpParams; nothing left behind.
 */
function checkKernelsAgainstOps(graph: GnnGraph, aggregate: 'sum' | 'avg', steps: number, wTol: number): void {
  const before = tf.memory().numTensors;
  const [fast, ops] = kernelPair(graph, aggregate);
  let h = ops.initialState();
  for (let t = 0; t <= steps; t++) {
    const a = fast.step(h, fast.params, t, 'unroll');
    const b = ops.step(h, ops.params, t, 'unroll');
    assert.deepEqual(bits(a[0]), bits(b[0]), `step ${t} (${aggregate}): kernel vs ops`);
    const la = fast.linearize(h, fast.params, t, 'linearize');
    const lb = ops.linearize(h, ops.params, t, 'linearize');
    const [u] = randomDirection(h, 30 + t);
    const [v] = randomDirection(h, 60 + t);
    const [ja, jb, fa, fb] = [la.vjp([u]), lb.vjp([u]), la.jvp([v]), lb.jvp([v])];
    assert.deepEqual(bits(ja[0]), bits(jb[0]), `Jᵀu at step ${t} (${aggregate})`);
    assert.deepEqual(bits(fa[0]), bits(fb[0]), `J v at step ${t} (${aggregate})`);
    const wa = la.vjpParams([u]);
    const wb = lb.vjpParams([u]);
    wa.forEach((g, i) => {
      const scale = Math.max(...bits(wb[i]).map(Math.abs));
      const d = maxAbsDiff(g.dataSync(), wb[i].dataSync());
      assert.ok(d <= wTol * scale, `(∂F/∂w)ᵀu[${i}] at step ${t} (${aggregate}): max diff ${d}, scale ${scale}`);
    });
    const both = la.vjpBoth([u]);
    assert.deepEqual(bits(both.h[0]), bits(ja[0]), 'vjpBoth: the state part is vjp');
    both.w.forEach((g, i) => assert.deepEqual(bits(g), bits(wa[i]), `vjpBoth: weight part ${i} is vjpParams`));
    la.dispose();
    lb.dispose();
    dispose(a, h, [u, v], ja, jb, fa, fb, wa, wb, both.h, both.w);
    h = b;
  }
  dispose(h);
  fast.dispose();
  ops.dispose();
  assert.equal(tf.memory().numTensors, before, `kernels vs ops (${aggregate}): tensors left behind`);
}

for (const aggregate of ['sum', 'avg'] as const) {
  test(`the fused GRU kernels equal the per-gate ops on a random multigraph (N = 37, D = 13, ${aggregate}): step, Jᵀu, J v bit for bit, weight gradient to 2e-6`, (t) => {
    const skip = kernelSkip();
    if (skip) return t.skip(skip);
    checkKernelsAgainstOps(randomGraph(), aggregate, 3, 2e-6);
  });
  // D = 16: the weight gradient reads the pieces in place (D a multiple of the panel width; D = 13
  // packs them), and N = 150 nodes make reduction blocks of 64, 64 and 22 (KC_IN in core/wasm/gemm.ts).
  // Mutants caught here: the in-place B advanced by the packed row stride per block (B.at + k0·32),
  // the last block's K not cut (kc instead of min(kc, K − k0)), ∂b_h's shared sums copied from the wrong gate.
  test(`the fused GRU kernels equal the per-gate ops on a random multigraph (N = 150, D = 16, ${aggregate}): the same, with the weight gradient's pieces read in place`, (t) => {
    const skip = kernelSkip();
    if (skip) return t.skip(skip);
    checkKernelsAgainstOps(randomGraph(150, 16, 600), aggregate, 2, 2e-6);
  });
  test(`on Cora the fused GRU kernels equal the per-gate ops (${aggregate}): step, Jᵀu, J v bit for bit, weight gradient to 2e-6`, { skip: skipCora }, (t) => {
    const skip = kernelSkip();
    if (skip) return t.skip(skip);
    checkKernelsAgainstOps(cora().graph, aggregate, 2, 2e-6);
  });
}

test('the fused GRU kernels: every gradient method equals the op path, without leaks (random multigraph, sum and avg)', (t) => {
  const skip = kernelSkip();
  if (skip) return t.skip(skip);
  for (const aggregate of ['sum', 'avg'] as const) {
    const [fast, ops] = kernelPair(randomGraph(), aggregate);
    assertMethodsAgree(fast, [{ sys: ops, tol: 1e-5, label: `per-gate ops (${aggregate})` }], { T: 8, K: 4 });
    assertNoLeaks(fast, { T: 6, K: 3 });
    fast.dispose();
    ops.dispose();
  }
});

test('the fused GRU kernels refuse inputs that do not match the graph (they read raw heap) and leave nothing behind', (t) => {
  const skip = kernelSkip();
  if (skip) return t.skip(skip);
  const [fast, ops] = kernelPair(randomGraph(), 'sum');
  const h0 = fast.initialState();
  const before = tf.memory().numTensors;
  const short = tf.zeros([fast.N - 1, fast.D]);
  assert.throws(() => gruPoint(short, fast.params, fast.csr), /the state has shape \[36, 13\] \(float32\), expected float32 \[37, 13\]/);
  const wide = tf.zeros([fast.D, 3 * fast.D + 1]);
  assert.throws(() => gruPoint(h0[0], [wide, ...fast.params.slice(1)], fast.csr), /W_i has shape \[13, 40\]/);
  const shortBias = tf.slice(fast.params[2], [1], [3 * fast.D - 1]);
  assert.throws(() => gruPoint(h0[0], [fast.params[0], fast.params[1], shortBias, fast.params[3]], fast.csr), /b_i has shape \[38\]/);
  dispose([short, wide, shortBias]);
  assert.equal(tf.memory().numTensors, before, 'nothing left behind');
  dispose(h0);
  fast.dispose();
  ops.dispose();
});

test('a recorded step: its next state and its linearisation (vjp, vjpParams, vjpBoth, J v twice inside a tidy) equal the step and a fresh linearisation bit for bit; nothing left behind (sum and avg, D = 13 and 16)', (t) => {
  const skip = kernelSkip();
  if (skip) return t.skip(skip);
  for (const graph of [randomGraph(), randomGraph(150, 16, 600)]) {
    for (const aggregate of ['sum', 'avg'] as const) {
      const before = tf.memory().numTensors;
      const [fast, ops] = kernelPair(graph, aggregate);
      const h = fast.initialState();
      const rec = fast.stepRecorded(h, fast.params)!;
      assert.ok(rec, 'the kernel path records');
      const plain = fast.step(h, fast.params, 0, 'unroll');
      assert.deepEqual(bits(rec.next[0]), bits(plain[0]), `next state (${aggregate}, D = ${graph.dim})`);
      const la = rec.linearize();
      const lb = fast.linearize(h, fast.params, 0, 'unroll');
      const [u] = randomDirection(h, 5);
      const [v] = randomDirection(h, 6);
      const what = `(${aggregate}, D = ${graph.dim})`;
      const pairs: [tf.Tensor[], tf.Tensor[], string][] = [
        [la.vjp([u]), lb.vjp([u]), 'vjp'],
        [la.vjpParams([u]), lb.vjpParams([u]), 'vjpParams'],
      ];
      const ba = la.vjpBoth([u]);
      const bb = lb.vjpBoth([u]);
      pairs.push([[...ba.h, ...ba.w], [...bb.h, ...bb.w], 'vjpBoth']);
      // J v made from the record on first use, kept for the next call although asked inside a tidy
      for (const i of [0, 1]) pairs.push([tf.tidy(() => la.jvp([v])), lb.jvp([v]), `jvp ${i}`]);
      for (const [a, b, name] of pairs) a.forEach((x, i) => assert.deepEqual(bits(x), bits(b[i]), `${name}[${i}] ${what}`));
      la.dispose();
      lb.dispose();
      rec.dispose(); // after linearize: nothing more to release
      dispose(h, rec.next, plain, [u, v], ...pairs.flatMap(([a, b]) => [a, b]));
      fast.dispose(); // and its caches (gate blocks, the avg scale)
      ops.dispose();
      assert.equal(tf.memory().numTensors, before, `recorded step ${what}: tensors left behind`);
    }
  }
});

test('a recorded step holds the state and weights it was made at without copying them: its record adds the buffers of r, z, hn, q, m and the next state only, and its VJPs are unchanged after the caller disposes h and the variables are assigned new values', (t) => {
  const skip = kernelSkip();
  if (skip) return t.skip(skip);
  for (const aggregate of ['sum', 'avg'] as const) {
    const before = tf.memory().numTensors;
    const [fast, ops] = kernelPair(randomGraph(), aggregate);
    const h = fast.initialState();
    const first = fast.stepRecorded(h, fast.params)!; // the first step builds the caches (avg scale)
    first.dispose();
    dispose(first.next);
    // data buffers, not tf.memory().numBytes, which counts every handle on a buffer
    const buffers = (tf.memory() as { numDataBuffers: number }).numDataBuffers;
    const rec = fast.stepRecorded(h, fast.params)!;
    // mutant: holding x and the weights through tf.clone (copies) makes this 11
    assert.equal((tf.memory() as { numDataBuffers: number }).numDataBuffers - buffers, 6, `${aggregate}: r, z, hn, q, m and the next state, no copy of h or the weights`);
    const lb = fast.linearize(h, fast.params, 0, 'unroll');
    const [u] = randomDirection(h, 7);
    const want = lb.vjpBoth([u]);
    // mutant: a handle that is the caller's tensor itself (no new reference) fails here: h is gone
    dispose(h);
    const rng = new Rng(41);
    fast.params.forEach((v) => {
      const next = tf.tensor(rng.normalArray(v.size, 0.4), v.shape);
      v.assign(next);
      next.dispose();
    });
    const la = rec.linearize();
    const got = la.vjpBoth([u]);
    [...got.h, ...got.w].forEach((x, i) => assert.deepEqual(bits(x), bits([...want.h, ...want.w][i]), `${aggregate}: VJP ${i} after h was disposed and the weights assigned`));
    la.dispose();
    lb.dispose();
    rec.dispose();
    dispose(rec.next, [u], want.h, want.w, got.h, got.w);
    fast.dispose();
    ops.dispose();
    assert.equal(tf.memory().numTensors, before, `${aggregate}: tensors left behind`);
  }
});

test('BPTT and TBPTT back-propagate through recorded steps: the step is not evaluated again, the gradients are bit for bit those of linearising anew; no leaks, also on a Stop (sum and avg)', (t) => {
  const skip = kernelSkip();
  if (skip) return t.skip(skip);
  for (const aggregate of ['sum', 'avg'] as const) {
    const [fast, ops] = kernelPair(randomGraph(), aggregate);
    const [plain, ops2] = kernelPair(randomGraph(), aggregate);
    Object.defineProperty(plain, 'stepRecorded', { value: undefined }); // linearises every kept step anew
    let linearized = 0;
    const own = fast.linearize.bind(fast);
    fast.linearize = (...a) => (linearized++, own(...a));
    for (const [m, K] of [['BPTT', 8], ['TBPTT', 3]] as const) {
      linearized = 0;
      const a = getMethod(m).compute(fast, { T: 8, K });
      assert.equal(linearized, 0, `${m} (${aggregate}): the recorded steps' linearisations were used`);
      const b = getMethod(m).compute(plain, { T: 8, K });
      assert.ok(linearized === 0 && b.vjps === a.vjps, `${m}: ${b.vjps} VJPs`);
      [...a.grads, ...a.lossGrads].forEach((g, i) => assert.deepEqual(bits(g), bits([...b.grads, ...b.lossGrads][i]), `${m} (${aggregate}): gradient ${i}`));
      dispose(a.grads, a.lossGrads, b.grads, b.lossGrads);
    }
    assertNoLeaks(fast, { T: 6, K: 3 }, ['BPTT', 'TBPTT']);
    // a Stop during the forward pass releases the recorded steps
    const before = tf.memory().numTensors;
    let calls = 0;
    assert.throws(() => getMethod('BPTT').compute(fast, { T: 8, K: 8, cancelled: () => ++calls > 5 }), /cancel/i);
    assert.equal(tf.memory().numTensors, before, `a Stop after 5 recorded steps (${aggregate}) leaves nothing behind`);
    for (const s of [fast, ops, plain, ops2]) s.dispose();
  }
});
