/** The runs store the dashboard (and later the runs tree) listen to: live runs, their events, the recorded list. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createRequire } from 'module';
import { RunsStore, runItemView, keyMetrics } from '../../src/extension/runsStore';
import { RunRecorder, recordedEvents, readRun, listRuns, processStartToken } from '../../src/run/recorder';
import type { WorkerEvent } from '../../src/protocol/messages';
import { startWorkerRun, chooseNode } from '../../src/extension/workerHost';
import { applyRunsUpdate } from '../../src/shared/runsUpdate';
import { repoRoot } from '../helpers/setup';

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

test('one bad run.json hides no other run: each is validated, a bad one is listed as unreadable with why', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-bad-'));
  record(root, 'good', 'BPTT', null, '2025-01-02T10:00:00.000Z', [{ type: 'metrics', step: 0, elapsedMs: 5, kind: 'train', values: { loss: 0.5 } }, { type: 'run/finished', status: 'completed', elapsedMs: 10, summary: {} }]);
  const good = JSON.parse(fs.readFileSync(path.join(root, 'good', 'run.json'), 'utf8'));
  const bad: [string, string, RegExp][] = [
    ['empty-object', '{}', /field 'runId' is missing/],
    ['list', '[]', /run.json is a list/],
    ['string', '"a run"', /run.json is a string/],
    ['null', 'null', /run.json is null/],
    ['not-json', '{"runId": "x", ', /not JSON/],
    ['no-startedAt', JSON.stringify({ ...good, startedAt: undefined }), /field 'startedAt' is missing/],
    ['numeric-startedAt', JSON.stringify({ ...good, startedAt: 5 }), /field 'startedAt' is not valid/],
    ['bad-date', JSON.stringify({ ...good, startedAt: 'yesterday' }), /field 'startedAt' is not valid/],
    ['bad-status', JSON.stringify({ ...good, status: 'exploded' }), /field 'status' is not valid/],
    ['bad-metrics', JSON.stringify({ ...good, finalMetrics: { loss: 'low' } }), /field 'finalMetrics' is not valid/],
    ['no-config', JSON.stringify({ ...good, config: null }), /field 'config' is not valid/],
  ];
  for (const [id, text] of bad) {
    fs.mkdirSync(path.join(root, id));
    fs.writeFileSync(path.join(root, id, 'run.json'), text);
  }
  fs.mkdirSync(path.join(root, 'dir-run-json', 'run.json'), { recursive: true });
  fs.mkdirSync(path.join(root, 'link-run-json'));
  fs.symlinkSync('/dev/zero', path.join(root, 'link-run-json', 'run.json'));
  const store = new RunsStore(root);
  // Mutant check: the old listRuns (JSON.parse as RunDescription, then sort on startedAt) threw on
  // the first three and on numeric-startedAt; with no validation the rest were shown as real runs.
  const list = store.list();
  assert.equal(list.length, 1 + bad.length + 2);
  const byId = new Map(list.map((r) => [r.runId, r]));
  assert.equal(byId.get('good')?.unreadable, undefined);
  assert.equal(byId.get('good')?.status, 'completed');
  for (const [id, , why] of bad) {
    const r = byId.get(id)!;
    assert.match(r.unreadable ?? '', why, id);
    assert.equal(r.status, 'failed');
    assert.match(r.reason ?? '', /^unreadable record: /);
    const v = runItemView(r);
    assert.equal(v.label, `${id} (unreadable)`);
    assert.equal(v.icon, 'warning');
    assert.match(v.tooltip, why);
    assert.equal(v.contextValue, 'rbpLab.run.failed.unreadable');
  }
  assert.match(byId.get('dir-run-json')?.unreadable ?? '', /not a regular file/);
  assert.match(byId.get('link-run-json')?.unreadable ?? '', /ELOOP/);
  assert.equal(store.summaries().length, list.length, 'the webview gets every run, unreadable ones as failed');
  // Reading a bad run: no description, the reason, no throw; overlays skip it; rename refuses it.
  const read = store.read('numeric-startedAt');
  assert.equal(read.description, undefined);
  assert.match(read.unreadable ?? '', /startedAt/);
  assert.throws(() => store.rename('list', 'x'), /run.json is a list/);
  assert.equal(fs.readFileSync(path.join(root, 'list', 'run.json'), 'utf8'), '[]');
  store.dispose();
});

test('events.jsonl is read as a stream of lines: chunk boundaries, multibyte text, over-long and torn lines', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-stream-'));
  const ev = (seq: number, text: string) => JSON.stringify({ type: 'log', level: 'info', text, runId: 'r', seq, t: seq });
  const lines: string[] = [];
  // ~3 MiB: lines straddle the 1 MiB reads, mostly ρ (2 bytes) and 🙂 (4 bytes), so a read ends inside a character.
  const textOf = (i: number) => `${i} ${'ρ🙂'.repeat(i % 997)}`;
  let bytes = 0;
  for (let i = 0; bytes < 3 * 2 ** 20; i++) {
    lines.push(ev(i, textOf(i)));
    bytes += Buffer.byteLength(lines[i]) + 1;
  }
  const n = lines.length;
  lines.push('{"type":"log"'); // not an event
  lines.push(ev(n + 1, 'y'.repeat(17 * 2 ** 20))); // longer than the 16 MiB cap
  lines.push(ev(n + 2, 'last'));
  lines.push('{"type":"log","lev'); // torn by a kill
  fs.writeFileSync(path.join(dir, 'events.jsonl'), lines.join('\n'));
  const counts = { skipped: 0 };
  let count = 0;
  let lastText = '';
  for (const e of recordedEvents(dir, counts)) {
    if (e.type === 'log') lastText = e.text;
    if (e.seq < n) assert.equal(e.type === 'log' && e.text, textOf(e.seq), `event ${e.seq}`);
    count++;
  }
  assert.equal(count, n + 1);
  assert.equal(lastText, 'last');
  assert.equal(counts.skipped, 3);
  // A link or a device in place of events.jsonl is not read (/dev/zero never ends).
  const linked = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-stream-'));
  fs.symlinkSync('/dev/zero', path.join(linked, 'events.jsonl'));
  const c2 = { skipped: 0 };
  assert.deepEqual([...recordedEvents(linked, c2)], []);
  assert.equal(c2.skipped, 1);
});

test('a running run whose pid is alive but belongs to another process is interrupted, not running forever', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-pid-'));
  const rec = new RunRecorder(path.join(root, 'mine'), 'mine', { experiment: 'h', title: 'h', method: 'BPTT', K: null, steps: 1 });
  const mine = readRun(path.join(root, 'mine')).description!;
  assert.equal(mine.status, 'running', 'this process records it: running');
  assert.equal(mine.pidStart, processStartToken(process.pid));
  assert.match(mine.pidStart ?? '', /^[0-9a-f-]{36}:\d+$/);
  // The same pid, recorded with another start: a recycled pid (or a copied record).
  const other = { ...JSON.parse(fs.readFileSync(path.join(root, 'mine', 'run.json'), 'utf8')), runId: 'other', pidStart: 'another-boot:123' };
  fs.mkdirSync(path.join(root, 'other'));
  fs.writeFileSync(path.join(root, 'other', 'run.json'), JSON.stringify(other));
  // pid 1 is alive (EPERM to signal) and is not the recorder.
  fs.mkdirSync(path.join(root, 'init'));
  fs.writeFileSync(path.join(root, 'init', 'run.json'), JSON.stringify({ ...other, runId: 'init', pid: 1, pidStart: `${processStartToken(process.pid)!.split(':')[0]}:1` }));
  const byId = new Map(listRuns(root).map((r) => [r.runId, r]));
  assert.equal(byId.get('mine')?.status, 'running');
  // Mutant check: with liveness by kill(pid, 0) alone both stayed 'running'.
  assert.equal(byId.get('other')?.status, 'failed');
  assert.match(byId.get('other')?.reason ?? '', /^interrupted: /);
  assert.equal(byId.get('init')?.status, 'failed');
  rec.close();
});

test('run ids from the webview are checked at the boundary: an unknown or malformed id is dropped, never selected', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-ids-'));
  record(root, 'known', 'BPTT', null, '2025-01-01T10:00:00.000Z', []);
  const store = new RunsStore(root);
  assert.deepEqual(store.checkWebviewMessage({ type: 'select', runId: 'known' }), { type: 'select', runId: 'known' });
  // Mutant check: without the check the dashboard took these as its selection and threw later,
  // outside its message handler (dirOf), or showed an empty run.
  for (const runId of ['../known', '..', '.', '', 'no-such-run', 'a/b', 'x'.repeat(300), '__proto__', 'known\n']) {
    for (const type of ['select', 'openRun', 'stop'] as const) assert.throws(() => store.checkWebviewMessage({ type, runId }), /no run/, `${type} ${JSON.stringify(runId)}`);
  }
  // A restored state keeps what is known and drops the rest.
  assert.deepEqual(store.checkWebviewMessage({ type: 'ready', state: { runId: '../etc', overlayRunIds: ['known', 'gone', '..'], overlay: { smoothing: 0.5 } } }), { type: 'ready', state: { overlayRunIds: ['known'], overlay: { smoothing: 0.5 } } });
  assert.deepEqual(store.checkWebviewMessage({ type: 'export', format: 'csv', chart: 'loss', data: 'x' }), { type: 'export', format: 'csv', chart: 'loss', data: 'x' });
  store.dispose();
});

test('the manifest: rbpLab.nodePath (the program RBP Lab runs) is machine-scoped and restricted in untrusted workspaces', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  const props = pkg.contributes.configuration.properties as Record<string, { scope?: string; description?: string; markdownDescription?: string }>;
  const restricted: string[] = pkg.capabilities.untrustedWorkspaces.restrictedConfigurations;
  // Every setting that names a program or a path to code (its description says executable or program).
  const programs = Object.entries(props).filter(([, p]) => /executable|program/i.test(`${p.description ?? ''} ${p.markdownDescription ?? ''}`)).map(([k]) => k);
  assert.deepEqual(programs, ['rbpLab.nodePath']);
  for (const k of programs) {
    assert.equal(props[k].scope, 'machine', `${k}: a workspace's settings cannot set it`);
    assert.ok(restricted.includes(k), `${k} in restrictedConfigurations`);
  }
});

test('issue 19: the runs table’s picks are checked at the boundary (unknown ids dropped) and rows() lists every run with its summary', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-store-rows-'));
  const rec = new RunRecorder(path.join(root, 'r1'), 'r1', { experiment: 'hopfield', title: 'h', method: 'BPTT', K: null, steps: 4 });
  rec.record({ type: 'run/failed', kind: 'error', reason: 'boom', elapsedMs: 7 });
  rec.close();
  const store = new RunsStore(root);
  assert.deepEqual(store.checkWebviewMessage({ type: 'pickRuns', runIds: ['r1', 'nope', '../etc'] }), { type: 'pickRuns', runIds: ['r1'] });
  const rows = store.rows();
  assert.equal(rows.length, 1);
  assert.equal(rows[0].status, 'failed');
  assert.equal(rows[0].reason, 'boom');
  assert.deepEqual([rows[0].stepsDone, rows[0].stepsPlanned, rows[0].durationMs], [0, 4, 7]);
});

test('the dashboard’s incremental runs list: a change to one run reads that run alone, and the rows and summaries merged equal a fresh listing (changed, removed, added)', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-store-update-'));
  const N = 40;
  const id = (i: number) => `run-${String(i).padStart(3, '0')}`;
  const at = (i: number, s = 0) => new Date(Date.UTC(2026, 0, 1, 0, i, s)).toISOString();
  const train = (loss: number): WorkerEvent[] => [{ type: 'metrics', step: 0, elapsedMs: 5, kind: 'train', values: { loss } }, { type: 'run/finished', status: 'completed', elapsedMs: 6, summary: {} }];
  for (let i = 0; i < N; i++) record(root, id(i), 'RBP', 5, at(i), train(1 / (i + 1)));
  const store = new RunsStore(root);
  const changes: unknown[] = [];
  store.onDidChange((c) => changes.push(c));
  let rows = store.rows();
  let runs = store.summaries();
  assert.equal(rows.length, N);
  // Count the run.json files read (readDescription opens each with fs.openSync; the module object, as the store sees it).
  const nodeFs = createRequire(__filename)('fs') as { openSync: typeof fs.openSync };
  const opened: string[] = [];
  const openSync = nodeFs.openSync;
  nodeFs.openSync = ((p: fs.PathLike, ...rest: unknown[]) => {
    if (String(p).endsWith('run.json')) opened.push(path.basename(path.dirname(String(p))));
    return (openSync as (...a: unknown[]) => number)(p, ...rest);
  }) as typeof fs.openSync;
  const merge = (runIds: string[]) => {
    opened.length = 0;
    const u = store.update(runIds);
    assert.deepEqual(opened.sort(), runIds.filter((r) => fs.existsSync(path.join(root, r))).sort(), 'only the changed runs are read');
    rows = applyRunsUpdate(rows, u.rows, u.removed);
    runs = applyRunsUpdate(runs, u.runs, u.removed);
    opened.length = 0;
    assert.deepEqual(rows, store.rows(), 'the merged rows are a fresh listing');
    assert.deepEqual(runs, store.summaries(), 'the merged summaries are a fresh listing');
    assert.equal(opened.length, 2 * rows.length, 'the check itself lists every run (rows and summaries: each run.json twice)');
  };
  try {
    // run.json rewritten (another process's run went on: its summary and label).
    const file = path.join(root, id(17), 'run.json');
    const d = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...d, label: 'relabelled', finalMetrics: { loss: 0.125 }, summary: { ...d.summary, stepsDone: 9, finalLoss: { step: 8, value: 0.125 } } }));
    store.refresh([id(17)]);
    assert.deepEqual(changes.at(-1), { runIds: [id(17)] });
    merge([id(17)]);
    assert.equal(rows.find((r) => r.runId === id(17))?.name, 'relabelled');
    // Removed on disk; then one added between two others (its place in the newest-first order), and one newest.
    fs.rmSync(path.join(root, id(3)), { recursive: true });
    merge([id(3)]);
    assert.equal(rows.length, N - 1);
    record(root, 'added-mid', 'TBPTT', 3, at(20, 30), train(0.5));
    record(root, 'added-new', 'BPTT', null, at(N + 5), train(0.25));
    merge(['added-mid', 'added-new']);
    assert.equal(rows.length, N + 1);
    // The store's own rename and delete name their run.
    store.rename(id(5), 'five');
    assert.deepEqual(changes.at(-1), { runIds: [id(5)] });
    merge([id(5)]);
    store.delete(id(6));
    assert.deepEqual(changes.at(-1), { runIds: [id(6)] });
    merge([id(6)]);
    // A refresh without runs: anything may have changed (the dashboard lists every run again).
    store.refresh();
    assert.equal(changes.at(-1), undefined);
    assert.equal(changes.length, 4);
  } finally {
    nodeFs.openSync = openSync;
    store.dispose();
  }
});

test('applyRunsUpdate: in place for a known run, newest-first for a new one, removed ones gone', () => {
  const r = (runId: string, startedAt: string, v = 0) => ({ runId, startedAt, v });
  const list = [r('c', '2026-03'), r('b', '2026-02'), r('a', '2026-01')];
  assert.deepEqual(applyRunsUpdate(list, [r('b', '2026-02', 1)], []), [r('c', '2026-03'), r('b', '2026-02', 1), r('a', '2026-01')]);
  assert.deepEqual(applyRunsUpdate(list, [r('d', '2026-04'), r('ab', '2026-01-15')], ['c']), [r('d', '2026-04'), r('b', '2026-02'), r('ab', '2026-01-15'), r('a', '2026-01')]);
  assert.deepEqual(applyRunsUpdate(list, [r('z', '2025-12')], ['a', 'nope']), [r('c', '2026-03'), r('b', '2026-02'), r('z', '2025-12')]);
  assert.deepEqual(list.map((x) => x.runId), ['c', 'b', 'a'], 'the input is not changed');
});
