/** The run recorder: run.json and events.jsonl as a run goes, labels, failures before the start. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunRecorder, readRun, listRuns, runProgress } from '../../src/run/recorder';
import { progressFromTail } from '../../src/run/runSummary';
import { RunsStore } from '../../src/extension/runsStore';

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

test('the recorder refuses a folder that holds a run or is a link, and never writes through a link', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-rec-'));
  const target = path.join(root, 'target.txt');
  fs.writeFileSync(target, 'keep');
  const done = path.join(root, 'done');
  new RunRecorder(done, 'done', { experiment: 'h', title: 'h', method: 'BPTT', K: null, steps: 1 }).close();
  const runJson = fs.readFileSync(path.join(done, 'run.json'), 'utf8');
  assert.throws(() => new RunRecorder(done, 'again'), /already holds a run \(run\.json, events\.jsonl\)/);
  assert.equal(fs.readFileSync(path.join(done, 'run.json'), 'utf8'), runJson);
  const linked = path.join(root, 'linked');
  fs.mkdirSync(linked);
  fs.symlinkSync(target, path.join(linked, 'events.jsonl'));
  assert.throws(() => new RunRecorder(linked, 'l'), /already holds a run \(events\.jsonl\)/);
  fs.symlinkSync(linked, path.join(root, 'dirlink'));
  assert.throws(() => new RunRecorder(path.join(root, 'dirlink'), 'l'), /is a symbolic link/);
  fs.writeFileSync(path.join(root, 'file'), 'x');
  assert.throws(() => new RunRecorder(path.join(root, 'file'), 'l'), /is not a folder/);
  assert.throws(() => new RunRecorder(path.join(root, 'file', 'sub'), 'l'), /ENOTDIR/);
  assert.throws(() => new RunRecorder('/proc/rbp-lab-test/x', 'l'), /ENOENT/);
  // Links planted while a run records: run.json and its temporary file are replaced, not written through.
  const live = path.join(root, 'live');
  const rec = new RunRecorder(live, 'live', { experiment: 'h', title: 'h', method: 'BPTT', K: null, steps: 1 });
  fs.symlinkSync(target, path.join(live, 'run.json.tmp'));
  rec.writeDescription();
  fs.rmSync(path.join(live, 'run.json'));
  fs.symlinkSync(target, path.join(live, 'run.json'));
  rec.record({ type: 'run/failed', kind: 'error', reason: 'x', elapsedMs: 1 });
  rec.close();
  assert.equal(fs.readFileSync(target, 'utf8'), 'keep');
  assert.equal(fs.lstatSync(path.join(live, 'run.json')).isFile(), true);
  assert.equal(readRun(live).description?.status, 'failed');
  // New folders are made, parents included.
  new RunRecorder(path.join(root, 'a', 'b', 'c'), 'c').close();
  assert.ok(fs.existsSync(path.join(root, 'a', 'b', 'c', 'events.jsonl')));
});

// ---- issue 19: run.json `summary` (the run's progress) kept current, and the tail read for old runs ----

const startedAt = new Date(Date.now() - 5000).toISOString();
const started = (steps: number) => ({
  type: 'run/started' as const, experiment: 'cora', title: 'C', runner: 'CitationRunner', method: 'Neumann_RBP', K: 5, T: 5, steps, stepLabel: 'epoch',
  backend: { name: 'wasm', description: 'wasm', skipped: [], nodeVersion: process.version, execPath: process.execPath }, config: {}, startedAt, notes: [],
});
const verdict = (rho: number) => ({ level: 'ok' as const, trustRbp: true, rho, forwardConverged: true, finalRelResidual: 1e-6, message: 'fine' });
const probeEv = (step: number, relErrExact: number) => ({ type: 'probe' as const, step, method: 'Neumann_RBP', K: 5, relErrExact, cosExact: 1, relErrBptt: null, cosBptt: null, rho: 0.5, exactResidual: null, exactConverged: true, ms: 3 });

test('run.json summary follows the run: steps done of planned, last loss, headline eval, ρ(J) and probe at their steps, then the end', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-rec-'));
  const dir = path.join(root, 's');
  const rec = new RunRecorder(dir, 's', { experiment: 'cora', title: 'cora', method: 'Neumann_RBP', K: 5, steps: 10 });
  assert.equal(readRun(dir).description?.summary?.stepsPlanned, 10, 'from the request, before the worker starts');
  rec.record(started(10));
  rec.record({ type: 'diagnostics', step: 0, rho: 0.4, verdict: verdict(0.4) });
  rec.record({ type: 'metrics', step: 0, elapsedMs: 10, kind: 'train', values: { loss: 2.5, grad_norm: 1 } });
  rec.record({ type: 'metrics', step: 1, elapsedMs: 20, kind: 'train', values: { loss: 2.0, grad_norm: 1 } });
  rec.record(probeEv(1, 3e-4));
  // An evaluation is written at once (train steps alone at most once a second), with the steps before it.
  rec.record({ type: 'metrics', step: 1, elapsedMs: 30, kind: 'eval', values: { train_acc: 0.5, val_acc: 0.6, test_acc: 0.55 } });
  rec.record({ type: 'diagnostics', step: 1, rho: null, verdict: verdict(NaN) });
  let s = readRun(dir).description?.summary;
  assert.equal(s?.stepsDone, 2);
  assert.equal(s?.stepsPlanned, 10);
  assert.deepEqual(s?.finalLoss, { step: 1, value: 2.0 });
  assert.deepEqual(s?.finalEval, { step: 1, name: 'test_acc', value: 0.55 }, 'the citation GNN’s headline: test accuracy');
  assert.deepEqual(s?.lastRho, { step: 1, value: null, verdict: 'ok' }, 'a ρ(J) that could not be estimated is null, at its step');
  assert.deepEqual(s?.lastProbe, { step: 1, relErrExact: 3e-4, method: 'Neumann_RBP' });
  assert.equal(s?.durationMs, 30);
  assert.ok(typeof s?.lastStepAt === 'string' && !Number.isNaN(Date.parse(s.lastStepAt)));
  rec.record({ type: 'run/finished', status: 'completed', elapsedMs: 40, summary: { best_val_acc: 0.6, check_rho: 0.3 } });
  rec.close();
  s = readRun(dir).description?.summary;
  assert.equal(s?.durationMs, 40);
  assert.equal(s?.best_val_acc, 0.6, 'the run/finished summary’s keys are kept beside the progress');
  assert.equal(s?.check_rho, 0.3);
  assert.equal(s?.stepsDone, 2);
});

test('a run recorded without a summary: its progress comes from the end of events.jsonl only (a bounded read)', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-rec-'));
  const dir = path.join(root, 'old');
  const rec = new RunRecorder(dir, 'old');
  rec.record(started(500));
  rec.record(probeEv(0, 0.5)); // early in the log, beyond the tail read below
  for (let i = 0; i < 400; i++) rec.record({ type: 'metrics', step: i, elapsedMs: i * 10, kind: 'train', values: { loss: 1 / (i + 1), grad_norm: 1 } });
  rec.record({ type: 'metrics', step: 399, elapsedMs: 4000, kind: 'eval', values: { test_acc: 0.7 } });
  rec.record({ type: 'diagnostics', step: 399, rho: 0.8, verdict: verdict(0.8) });
  rec.close();
  // What a record from before the summary looks like: run.json without one.
  const file = path.join(dir, 'run.json');
  const d = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  delete d.summary;
  fs.writeFileSync(file, JSON.stringify(d));
  const desc = readRun(dir).description!;
  const p = runProgress(dir, desc);
  assert.equal(p.stepsDone, 400);
  assert.equal(p.stepsPlanned, 500, 'from run.json (run/started is far back in the log)');
  assert.deepEqual(p.finalLoss, { step: 399, value: 1 / 400 });
  assert.deepEqual(p.finalEval, { step: 399, name: 'test_acc', value: 0.7 });
  assert.deepEqual(p.lastRho, { step: 399, value: 0.8, verdict: 'ok' });
  // The log is ~60 KB, inside the default 512 KiB tail; a 4 KiB tail shows the bound (mutant: reading the whole file finds the probe).
  const short = progressFromTail(dir, 500, Date.parse(startedAt), 4096);
  assert.equal(short.lastProbe, null, 'a probe before the tail is not read: the whole log is not scanned');
  assert.equal(short.stepsDone, 400);
  assert.deepEqual(p.lastProbe, { step: 0, relErrExact: 0.5, method: 'Neumann_RBP' }, 'within the default tail it is found');
});
