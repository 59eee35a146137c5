/** The runs store the dashboard (and later the runs tree) listen to: live runs, their events, the recorded list. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunsStore, runItemView, keyMetrics } from '../../src/extension/runsStore';
import { RunRecorder } from '../../src/run/recorder';
import type { WorkerEvent } from '../../src/protocol/messages';
import { startWorkerRun, chooseNode } from '../../src/extension/workerHost';

test('a tracked run is active until it ends; its events and changes are published; it is listed', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-store-'));
  // A tiny worker speaking the protocol: run/started, one metric, run/finished.
  const worker = path.join(root, 'tiny-worker.js');
  fs.writeFileSync(
    worker,
    `let seq = 0;
     const env = (runId, e) => ({ ...e, runId, seq: seq++, t: Date.now() });
     process.on('message', (m) => {
       if (m.type !== 'run/start') return;
       const b = { name: 'cpu', description: 'cpu', skipped: [], nodeVersion: process.version, execPath: process.execPath };
       process.send(env(m.runId, { type: 'run/started', experiment: 'tiny', title: 'Tiny', runner: 'HopfieldRunner', method: 'RBP', K: 3, T: 2, steps: 1, stepLabel: 'step', backend: b, config: {}, startedAt: new Date().toISOString(), notes: [] }));
       process.send(env(m.runId, { type: 'metrics', step: 0, elapsedMs: 1, values: { loss: 0.5 }, kind: 'train' }));
       process.send(env(m.runId, { type: 'run/finished', status: 'completed', elapsedMs: 2, summary: {} }));
       setTimeout(() => process.exit(0), 20);
     });
     process.send({ type: 'worker/ready', pid: process.pid });`,
  );
  const store = new RunsStore(path.join(root, 'runs'));
  let changes = 0;
  const seen: string[] = [];
  store.onDidChange(() => changes++);
  const sub = store.onRunEvent(({ event }) => seen.push(event.type));
  const run = startWorkerRun({ experiment: 'tiny', method: 'RBP', K: 3 }, { workerScript: worker, runsRoot: store.root, node: chooseNode(undefined) }, { onEvent: (e) => store.publish(e.runId, e) });
  store.track(run);
  assert.ok(store.isActive(run.runId));
  assert.equal(store.activeRuns.length, 1);
  const o = await run.done;
  await new Promise((r) => setImmediate(r));
  assert.equal(o.status, 'completed');
  assert.equal(store.isActive(run.runId), false);
  assert.deepEqual(seen, ['log', 'run/started', 'metrics', 'run/finished']);
  assert.ok(changes >= 3, `start, run/started and end fire onDidChange (${changes})`);
  const [summary] = store.summaries();
  assert.equal(summary.runId, run.runId);
  assert.equal(summary.status, 'completed');
  assert.equal(summary.finalMetrics.loss, 0.5);
  assert.equal(store.read(run.runId).events.length, 4);
  sub.dispose();
  store.dispose();
});

const backend = { name: 'cpu', description: 'cpu', skipped: [], nodeVersion: 'v20', execPath: 'node' };
function record(root: string, id: string, method: string, K: number | null, startedAt: string, tail: WorkerEvent[]): void {
  const r = new RunRecorder(path.join(root, id), id);
  r.record({ type: 'run/started', experiment: 'hopfield', title: 'Hopfield', runner: 'HopfieldRunner', method, K, T: 30, steps: 2, stepLabel: 'step', backend, config: {}, startedAt, notes: [] });
  for (const e of tail) r.record(e);
  r.close();
}

test('the runs tree data: listing newest first, labels, status icons, final metrics; rename and delete on disk; changes fire', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-tree-'));
  record(root, 'r-old', 'TBPTT', 10, '2025-01-01T10:00:00.000Z', [
    { type: 'metrics', step: 0, elapsedMs: 5, kind: 'train', values: { loss: 0.5 } },
    { type: 'metrics', step: 1, elapsedMs: 9, kind: 'train', values: { loss: 0.25 } },
    { type: 'run/finished', status: 'completed', elapsedMs: 10, summary: {} },
  ]);
  record(root, 'r-new', 'Neumann_RBP', 20, '2025-01-02T10:00:00.000Z', [{ type: 'run/failed', kind: 'diverged', reason: 'loss NaN', elapsedMs: 3 }]);
  record(root, 'r-gc', 'gradcheck', null, '2025-01-01T12:00:00.000Z', [{ type: 'run/finished', status: 'completed', elapsedMs: 10, summary: { rho: 0.0148, verdict: 'ok' } }]);
  fs.mkdirSync(path.join(root, 'not-a-run'));
  const store = new RunsStore(root);
  let changes = 0;
  store.onDidChange(() => changes++);
  const list = store.list();
  assert.deepEqual(list.map((r) => r.runId), ['r-new', 'r-gc', 'r-old'], 'newest first, non-runs skipped');

  const old = runItemView(list[2]);
  assert.equal(old.label, 'hopfield · TBPTT K=10');
  assert.match(old.description, /loss 0\.25/);
  assert.equal(old.icon, 'pass');
  assert.equal(old.contextValue, 'rbpLab.run.completed');
  assert.match(old.tooltip, /status: completed/);
  assert.match(old.tooltip, /run: r-old/);
  const failed = runItemView(list[0]);
  assert.equal(failed.icon, 'error');
  assert.match(failed.tooltip, /failed — loss NaN/);
  const gc = runItemView(list[1]);
  assert.equal(gc.label, 'hopfield · gradient check');
  assert.deepEqual(keyMetrics(list[1]), ['ρ 0.0148', 'ok']);
  assert.equal(gc.contextValue, 'rbpLab.run.completed.gradcheck');
  assert.equal(runItemView(list[2], true).icon, 'sync~spin', 'a live run spins');

  // Rename: a label in run.json, shown first; the rest moves to the description.
  store.rename('r-old', '  baseline TBPTT  ');
  assert.equal(JSON.parse(fs.readFileSync(path.join(root, 'r-old', 'run.json'), 'utf8')).label, 'baseline TBPTT');
  const renamed = runItemView(store.list().find((r) => r.runId === 'r-old')!);
  assert.equal(renamed.label, 'baseline TBPTT');
  assert.match(renamed.description, /^hopfield · TBPTT K=10 · /);
  assert.equal(store.summaries().find((r) => r.runId === 'r-old')!.label, 'baseline TBPTT');
  store.rename('r-old', '');
  assert.equal(JSON.parse(fs.readFileSync(path.join(root, 'r-old', 'run.json'), 'utf8')).label, undefined, 'an empty label clears it');

  // Delete: the folder goes, the list shrinks.
  store.delete('r-new');
  assert.equal(fs.existsSync(path.join(root, 'r-new')), false);
  assert.deepEqual(store.list().map((r) => r.runId), ['r-gc', 'r-old']);
  assert.throws(() => store.delete('../x'), /not a run (folder|id)/);
  assert.equal(changes, 3, 'rename, rename, delete each fire onDidChange');
  store.dispose();
});

test('the tree refreshes live: a run recorded while watching appears with its latest metrics', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-tree-live-'));
  const store = new RunsStore(root);
  const seen: string[][] = [];
  store.onDidChange(() => seen.push(store.list().map((r) => `${r.runId}:${r.status}:${r.finalMetrics.loss ?? '-'}`)));
  const r = new RunRecorder(path.join(root, 'live'), 'live');
  const started = r.record({ type: 'run/started', experiment: 'hopfield', title: 'Hopfield', runner: 'HopfieldRunner', method: 'RBP', K: 5, T: 30, steps: 2, stepLabel: 'step', backend, config: {}, startedAt: new Date().toISOString(), notes: [] });
  store.publish('live', started);
  const m = r.record({ type: 'metrics', step: 0, elapsedMs: 1, kind: 'train', values: { loss: 0.75 } });
  store.publish('live', m);
  r.writeDescription();
  store.refresh();
  store.publish('live', r.record({ type: 'run/finished', status: 'completed', elapsedMs: 2, summary: {} }));
  r.close();
  store.refresh();
  assert.deepEqual(seen, [['live:running:-'], ['live:running:0.75'], ['live:completed:0.75']]);
  assert.match(runItemView(store.list()[0]).description, /loss 0\.75/);
  store.dispose();
});
