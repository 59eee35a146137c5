/** The runs store the dashboard (and later the runs tree) listen to: live runs, their events, the recorded list. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunsStore } from '../src/extension/runsStore';
import { startWorkerRun, chooseNode } from '../src/extension/workerHost';

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
