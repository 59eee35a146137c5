/** Forward solvers (naive, Anderson) and the run recorder. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NaiveSolver, AndersonSolver } from '../src/core/solvers';
import { getMethod } from '../src/core/gradients';
import { compareGrads } from '../src/core/metrics';
import { dispose } from '../src/core/state';
import { RunRecorder, readRun, listRuns } from '../src/run/recorder';
import { RunsStore } from '../src/extension/runsStore';
import { parseWorkerEvent, parseHostCommand, parseWebviewMessage, ProtocolError } from '../src/protocol/messages';
import { ToySystem } from './helpers/toy';
import { tf } from '../src/core/tf';
import { Adam } from '../src/core/optim';
import { HopfieldSystem, HOPFIELD_DEFAULTS } from '../src/experiments/hopfield/model';
import { useBackend } from './helpers/setup';

before(useBackend);

test('the naive solver records absolute and relative residuals and stops at the tolerance', () => {
  const sys = new ToySystem({ scale: 1.0, seed: 7 });
  const h0 = sys.initialState();
  const r = new NaiveSolver().solve(sys, h0, { maxSteps: 500, tol: 1e-5, keep: 3 });
  assert.ok(r.stats.converged);
  assert.ok(r.stats.steps < 500);
  assert.equal(r.stats.absResidual.length, r.stats.steps);
  assert.ok(r.stats.finalRel < 1e-5);
  assert.ok(r.stats.relResidual.every((x, i) => Math.abs(x - r.stats.absResidual[i]) >= 0));
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

test('the recorder appends events as they come, keeps run.json current, and survives a torn line', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-rec-'));
  const dir = path.join(root, 'r1');
  const rec = new RunRecorder(dir, 'r1');
  rec.record({
    type: 'run/started', experiment: 'hopfield', title: 'H', runner: 'HopfieldRunner', method: 'BPTT', K: null, T: 5, steps: 2, stepLabel: 'step',
    backend: { name: 'wasm', description: 'wasm', skipped: [], nodeVersion: process.version, execPath: process.execPath }, config: {}, startedAt: new Date().toISOString(), notes: [],
  });
  rec.record({ type: 'metrics', step: 0, elapsedMs: 1, kind: 'train', values: { loss: 0.5 } });
  // Before close, what was recorded is already on disk.
  const mid = readRun(dir);
  assert.equal(mid.events.length, 2);
  assert.equal(mid.description?.status, 'running');
  fs.appendFileSync(path.join(dir, 'events.jsonl'), '{"type":"metrics","step":1,"elap');
  const torn = readRun(dir);
  assert.equal(torn.events.length, 2);
  assert.equal(torn.skipped, 1);
  rec.record({ type: 'run/failed', kind: 'killed', reason: 'worker killed (SIGKILL)', elapsedMs: 5 });
  rec.close();
  const done = readRun(dir);
  assert.equal(done.description?.status, 'failed');
  assert.equal(done.description?.reason, 'worker killed (SIGKILL)');
  assert.equal(done.description?.finalMetrics.loss, 0.5);
  assert.equal(listRuns(root).length, 1);
});

test('protocol validators reject malformed messages at each boundary', () => {
  assert.throws(() => parseWorkerEvent({ type: 'metrics', runId: 'x', seq: 1, t: 1, step: 'one' }), ProtocolError);
  assert.throws(() => parseWorkerEvent({ type: 'nope', runId: 'x', seq: 1, t: 1 }), /unknown event type/);
  assert.throws(() => parseWorkerEvent('hello'), ProtocolError);
  const ok = parseWorkerEvent({ type: 'trace/forward', runId: 'x', seq: 0, t: 1, step: 0, abs: [1, null], rel: [0.5, null], converged: false, diverged: true });
  assert.equal(ok.type, 'trace/forward');
  assert.throws(() => parseHostCommand({ type: 'run/start', runId: 'x', spec: { experiment: 3 } }), /experiment/);
  assert.equal(parseHostCommand({ type: 'run/cancel', runId: 'x' }).type, 'run/cancel');
  assert.throws(() => parseWebviewMessage({ type: 'export', format: 'exe', chart: 'c', data: '' }), /format/);
  assert.throws(() => parseWebviewMessage({ type: 'eval', code: 'alert(1)' }), /unknown webview message/);
});

test('gradient-check rows survive JSON: NaN and Inf come back as NaN, not null', () => {
  const row = { method: 'RBP', K: 5, relErrExact: Infinity, cosExact: NaN, relErrBptt: 1, cosBptt: 0.5, timeMs: 1, peakBytes: 2, loss: 3, residual: null, residualTrace: [], vjps: 1, jvps: 0 };
  const wire = JSON.parse(JSON.stringify({ type: 'gradcheck/row', runId: 'r', seq: 0, t: 0, row }));
  assert.equal(wire.row.cosExact, null);
  const e = parseWorkerEvent(wire);
  assert.ok(e.type === 'gradcheck/row' && Number.isNaN(e.row.cosExact) && Number.isNaN(e.row.relErrExact));
  assert.equal((e as { row: { cosExact: number } }).row.cosExact.toFixed(6), 'NaN');
  assert.throws(() => parseWorkerEvent({ ...wire, row: { ...wire.row, loss: 'x' } }), /loss/);
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

test('a recorder given the request writes run.json at once; run/started completes it, run/failed ends it', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-rec-'));
  const a = new RunRecorder(path.join(root, 'a'), 'a', { experiment: 'cora', title: 'cora', method: 'Neumann_RBP', K: 5, steps: 10 });
  let d = readRun(path.join(root, 'a')).description;
  assert.equal(d?.status, 'running');
  assert.equal(d?.experiment, 'cora');
  assert.equal(d?.K, 5);
  assert.equal(d?.pid, process.pid, 'the recording process until the worker names itself');
  a.record({ type: 'log', level: 'info', text: 'loading' });
  a.record({ type: 'run/failed', kind: 'no-start', reason: 'node not found', elapsedMs: 3 });
  a.close();
  d = readRun(path.join(root, 'a')).description;
  assert.equal(d?.status, 'failed');
  assert.equal(d?.reason, 'node not found');
  assert.equal(d?.method, 'Neumann_RBP', 'what was asked for is kept');
  assert.ok(d?.finishedAt);

  const b = new RunRecorder(path.join(root, 'b'), 'b', { experiment: 'h', title: 'h', method: '?', K: null, steps: 2 });
  b.record({
    type: 'run/started', experiment: 'hopfield', title: 'H', runner: 'HopfieldRunner', method: 'BPTT', K: null, T: 5, steps: 2, stepLabel: 'step',
    backend: { name: 'wasm', description: 'wasm', skipped: [], nodeVersion: process.version, execPath: process.execPath }, config: { a: 1 }, startedAt: new Date().toISOString(), notes: [], pid: 4242,
  });
  b.close();
  d = readRun(path.join(root, 'b')).description;
  assert.equal(d?.experiment, 'hopfield');
  assert.equal(d?.method, 'BPTT');
  assert.equal(d?.pid, 4242);
  assert.equal(d?.runner, 'HopfieldRunner');
});

test('a label given while the run records (Rename in the Runs view) survives the recorder’s later writes', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-rec-'));
  const dir = path.join(root, 'l');
  const rec = new RunRecorder(dir, 'l', { experiment: 'hopfield', title: 'h', method: 'BPTT', K: null, steps: 2 });
  new RunsStore(root).rename('l', 'baseline'); // what the Runs view's Rename does
  rec.record({
    type: 'run/started', experiment: 'hopfield', title: 'H', runner: 'HopfieldRunner', method: 'BPTT', K: null, T: 5, steps: 2, stepLabel: 'step',
    backend: { name: 'wasm', description: 'wasm', skipped: [], nodeVersion: process.version, execPath: process.execPath }, config: {}, startedAt: new Date().toISOString(), notes: [],
  });
  assert.equal(readRun(dir).description?.label, 'baseline', 'kept through run/started');
  rec.record({ type: 'run/finished', status: 'completed', elapsedMs: 5, summary: {} });
  rec.close();
  assert.equal(readRun(dir).description?.label, 'baseline', 'kept through run/finished and close');
  assert.equal(readRun(dir).description?.status, 'completed');
});
