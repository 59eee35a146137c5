/**
 * The extension's worker host, without VS Code: real forked workers (dist/worker.js — `npm test`
 * builds it first) running Hopfield smoke runs that finish, are cancelled, are SIGKILLed, diverge,
 * never start, run out of memory, or talk nonsense. Every run must end recorded with a clear status.
 * Also measures the event stream's cost (messages/s, bytes/s).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startWorkerRun, chooseNode, findOnPath, WorkerRun, WorkerHostOptions } from '../../src/extension/workerHost';
import { readRun } from '../../src/run/recorder';
import type { Envelope, RunSpec } from '../../src/protocol/messages';
import { repoRoot } from '../helpers/setup';

const root = repoRoot;
const workerScript = path.join(root, 'dist', 'worker.js');
const runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-workerhost-'));
const SMOKE = ['model.num_update=10'];

function start(spec: Partial<RunSpec>, opts: Partial<WorkerHostOptions> = {}, onEvent?: (e: Envelope, run: () => WorkerRun) => void): { run: WorkerRun; events: Envelope[]; logs: string[] } {
  const events: Envelope[] = [];
  const logs: string[] = [];
  let run: WorkerRun | undefined = undefined;
  run = startWorkerRun(
    { experiment: 'hopfield', method: 'Neumann_RBP', K: 5, backend: 'auto', ...spec },
    { workerScript, runsRoot, node: chooseNode(undefined), ...opts },
    {
      onEvent: (e) => {
        events.push(e);
        onEvent?.(e, () => run!);
      },
      onLog: (l) => logs.push(l),
    },
  );
  return { run, events, logs };
}

function firstTrainStep(run: () => WorkerRun, act: (r: WorkerRun) => void): (e: Envelope) => void {
  let done = false;
  return (e) => {
    if (!done && e.type === 'metrics' && e.kind === 'train') {
      done = true;
      act(run());
    }
  };
}

test('worker.js is built', () => {
  assert.ok(fs.existsSync(workerScript), `${workerScript} is missing: run npm run build`);
});

test('chooseNode: the setting, else node on PATH, else VS Code’s runtime on wasm', () => {
  assert.equal(chooseNode('/opt/node/bin/node').origin, 'setting');
  const onPath = chooseNode(undefined);
  if (findOnPath('node')) assert.equal(onPath.origin, 'path');
  const own = chooseNode('', { pathEnv: '/nonexistent-dir', execPath: '/vscode/code', isElectron: true });
  assert.equal(own.origin, 'vscode');
  assert.equal(own.execPath, '/vscode/code');
  assert.equal(own.env.ELECTRON_RUN_AS_NODE, '1');
  assert.ok(own.wasmOnly);
  assert.match(own.description, /wasm/);
});

test('a Hopfield smoke run finishes and its record is complete; the stream cost is measured', async () => {
  const { run, events } = start({ steps: 3, overrides: SMOKE });
  const o = await run.done;
  assert.equal(o.status, 'completed', o.reason);
  const started = events.find((e) => e.type === 'run/started');
  assert.ok(started && started.type === 'run/started');
  assert.match(started.backend.description, /^(wasm|cpu|tensorflow)/);
  assert.equal(events.filter((e) => e.type === 'trace/forward').length, 3);
  assert.equal(events.filter((e) => e.type === 'trace/backward').length, 3);
  assert.equal(events.at(-1)?.type, 'run/finished');
  assert.ok(events.some((e) => e.type === 'log' && /worker Node:/.test(e.text)));
  // The record on disk is the same stream, in order, ending in a clear status.
  const rec = readRun(o.dir);
  assert.equal(rec.description?.status, 'completed');
  assert.equal(rec.description?.method, 'Neumann_RBP');
  assert.equal(rec.events.length, events.length);
  assert.deepEqual(
    rec.events.map((e) => e.seq),
    events.map((_, i) => i),
  );
  assert.equal(rec.skipped, 0);
  // Stream cost: per-step events are batched (one trace/forward per training step).
  const s = o.stats;
  assert.ok(s.messages >= 3 * 4 && s.invalid === 0);
  const perStep = s.messages / 3;
  console.log(
    `stream cost: ${s.messages} messages, ${(s.bytes / 1024).toFixed(1)} KiB in ${(s.durationMs / 1000).toFixed(2)} s → ${s.messagesPerSec.toFixed(1)} msg/s, ${(s.bytesPerSec / 1024).toFixed(1)} KiB/s; ${perStep.toFixed(1)} messages and ${(s.bytes / 3 / 1024).toFixed(1)} KiB per training step (T=10)`,
  );
  assert.ok(perStep < 10, 'the worker batches per-step events');
});

test('cancel ends the worker within about a second, status cancelled, events kept', async () => {
  let cancelAt = 0;
  const { run, events } = start({ steps: 500, overrides: ['model.num_update=50'] }, {}, (e, r) =>
    firstTrainStep(r, (w) => {
      cancelAt = Date.now();
      w.cancel();
    })(e),
  );
  const o = await run.done;
  const took = Date.now() - cancelAt;
  assert.ok(cancelAt > 0);
  assert.equal(o.status, 'cancelled');
  assert.ok(took < 1600, `stopping took ${took} ms`);
  const rec = readRun(o.dir);
  assert.equal(rec.description?.status, 'cancelled');
  assert.ok(rec.events.some((e) => e.type === 'trace/forward'), 'recorded events are kept');
  assert.equal(rec.events.at(-1)?.type, 'run/finished');
  assert.ok(events.length === rec.events.length);
});

test('Stop inside a 100,000-update step: the worker stops itself (no SIGKILL) and records the cancellation', async () => {
  // The worker computes on a run thread: run/cancel reaches the forward loop mid-step. Before, the
  // IPC message waited for the step to end and the host killed the worker after its grace time.
  const { run } = start({ steps: 3, overrides: ['model.num_update=100000'] }, { cancelGraceMs: 20000 }, (e, r) => {
    if (e.type === 'run/started') setTimeout(() => r().cancel(), 1500);
  });
  const o = await run.done;
  assert.equal(o.status, 'cancelled');
  assert.equal(o.signal, null, 'the worker exited by itself');
  assert.equal(o.exitCode, 0);
  const last = readRun(o.dir).events.at(-1);
  assert.ok(last?.type === 'run/finished' && last.status === 'cancelled' && last.summary.steps_done === 0, JSON.stringify(last));
});

test('a worker that ignores cancel is killed after the grace time and the run is cancelled', async () => {
  const fake = path.join(runsRoot, 'stubborn-worker.js');
  fs.writeFileSync(fake, `process.on('message', () => {}); process.send({ type: 'worker/ready', pid: process.pid }); setInterval(() => {}, 1000);`);
  const { run } = start({}, { workerScript: fake, cancelGraceMs: 300 });
  await new Promise((r) => setTimeout(r, 400));
  const t0 = Date.now();
  run.cancel();
  const o = await run.done;
  assert.equal(o.status, 'cancelled');
  assert.equal(o.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 < 1500);
});

test('a run stopped before the worker started is recorded as cancelled, with what was asked', async () => {
  const { run } = start({ steps: 5, overrides: SMOKE });
  run.cancel();
  const o = await run.done;
  assert.equal(o.status, 'cancelled');
  const rec = readRun(o.dir);
  assert.equal(rec.description?.status, 'cancelled');
  assert.equal(rec.description?.experiment, 'hopfield');
  assert.equal(rec.description?.method, 'Neumann_RBP');
  assert.equal(rec.events.at(-1)?.type, 'run/finished');
});

test('a worker killed with SIGKILL mid-run: failed run with the reason, record kept', async () => {
  let pid: number | undefined;
  const { run, events } = start({ steps: 500, overrides: ['model.num_update=50'] }, {}, (e, r) =>
    firstTrainStep(r, (w) => {
      pid = w.pid;
      process.kill(w.pid!, 'SIGKILL');
    })(e),
  );
  const o = await run.done;
  assert.ok(pid);
  assert.equal(o.status, 'failed');
  assert.equal(o.kind, 'killed');
  assert.match(o.reason!, /SIGKILL/);
  const rec = readRun(o.dir);
  assert.equal(rec.description?.status, 'failed');
  assert.match(rec.description?.reason ?? '', /killed/);
  assert.equal(rec.description?.experiment, 'hopfield', 'run.json keeps what the worker recorded');
  assert.ok(rec.events.some((e) => e.type === 'trace/forward'));
  assert.equal(rec.events.at(-1)?.type, 'run/failed');
  assert.equal(events.at(-1)?.type, 'run/failed');
});

test('a run that diverges to NaN/Inf fails as diverged', async () => {
  const { run } = start({ method: 'BPTT', K: undefined, steps: 5, overrides: [...SMOKE, 'train.lr=1e38'] });
  const o = await run.done;
  assert.equal(o.status, 'failed');
  assert.equal(o.kind, 'diverged');
  assert.match(o.reason!, /NaN|Inf/);
  assert.equal(readRun(o.dir).description?.status, 'failed');
});

test('a worker that never starts (bad nodePath) fails as no-start with a clear message', async () => {
  const { run } = start({ steps: 2, overrides: SMOKE }, { node: chooseNode('/nonexistent/node') });
  const o = await run.done;
  assert.equal(o.status, 'failed');
  assert.equal(o.kind, 'no-start');
  assert.match(o.reason!, /\/nonexistent\/node/);
  assert.match(o.reason!, /rbpLab\.nodePath/);
  const rec = readRun(o.dir);
  assert.equal(rec.description?.status, 'failed');
  assert.equal(rec.description?.experiment, 'hopfield');
  assert.match(rec.description?.reason ?? '', /could not start the worker/);
});

test('a worker that runs out of heap fails as out-of-memory', async () => {
  const fake = path.join(runsRoot, 'hungry-worker.js');
  fs.writeFileSync(fake, `process.on('message', () => { const keep = []; for (;;) keep.push(new Array(1e6).fill(Math.random())); }); process.send({ type: 'worker/ready', pid: process.pid });`);
  const { run } = start({}, { workerScript: fake, maxOldSpaceMB: 64 });
  const o = await run.done;
  assert.equal(o.status, 'failed');
  assert.equal(o.kind, 'out-of-memory', o.reason);
  assert.match(o.reason!, /out of memory/);
});

test('invalid worker messages are dropped; a crash is reported with the worker’s last words', async () => {
  const fake = path.join(runsRoot, 'garbage-worker.js');
  fs.writeFileSync(fake, `process.on('message', () => { process.send({ type: 'bogus' }); process.send({ type: 'metrics', runId: 'x' }); console.error('something broke'); setTimeout(() => process.exit(3), 50); }); process.send({ type: 'worker/ready', pid: process.pid });`);
  const { run } = start({}, { workerScript: fake });
  const o = await run.done;
  assert.equal(o.status, 'failed');
  assert.equal(o.kind, 'crashed');
  assert.match(o.reason!, /code 3.*something broke/);
  assert.equal(o.stats.invalid, 2);
});

test('a bad experiment fails cleanly as bad-config, and the next run works', async () => {
  const bad = start({ experiment: 'no-such-experiment' });
  const o = await bad.run.done;
  assert.equal(o.status, 'failed');
  assert.equal(o.kind, 'bad-config');
  const good = start({ steps: 1, overrides: SMOKE });
  assert.equal((await good.run.done).status, 'completed');
});

test('the worker gets MALLOC_ARENA_MAX=1 by default (flat RSS over long runs); the caller’s environment wins', async () => {
  const fake = path.join(runsRoot, 'env-worker.js');
  fs.writeFileSync(fake, `require('fs').writeFileSync(process.env.ENV_OUT, String(process.env.MALLOC_ARENA_MAX)); process.exit(0);`);
  for (const [env, expected] of [[{}, '1'], [{ MALLOC_ARENA_MAX: '4' }, '4']] as const) {
    const out = path.join(runsRoot, `env-${expected}.txt`);
    const { run } = start({ steps: 1 }, { workerScript: fake, env: { ...env, ENV_OUT: out } });
    const o = await run.done;
    assert.equal(o.kind, 'no-start', 'the fake worker exits before it is ready');
    assert.equal(fs.readFileSync(out, 'utf8'), expected);
  }
});

test('a Compare run (a gradient check) is described as one from the start, even when its worker never starts', async () => {
  const fake = path.join(runsRoot, 'exit-worker.js');
  fs.writeFileSync(fake, `process.exit(3);`);
  const { run } = start({ method: 'Neumann_RBP', K: 20, gradcheck: { Ks: [5, 20] } }, { workerScript: fake });
  const o = await run.done;
  assert.equal(o.kind, 'no-start');
  const d = readRun(o.dir).description;
  assert.equal(d?.method, 'gradcheck');
  assert.match(path.basename(o.dir), /^\d{8}-\d{6}-hopfield-gradcheck-[a-z0-9]{4}$/, 'named as the CLI names a gradient check');
  assert.equal(d?.K, null);
  assert.equal(d?.status, 'failed');
});
