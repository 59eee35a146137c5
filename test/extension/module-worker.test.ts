/**
 * Your own model through the extension's worker host (real forked workers, dist/worker.js): a bad
 * module is a failed run whose reason names the file, the next run works, and an endless step in
 * the user's code is stopped by Stop (the host kills the worker after the grace time).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startWorkerRun, chooseNode, type WorkerRun, type WorkerHostOptions } from '../../src/extension/workerHost';
import { readRun } from '../../src/run/recorder';
import type { Envelope, RunSpec } from '../../src/protocol/messages';
import { repoRoot } from '../helpers/setup';
import { writeBadModule } from '../helpers/modules';
import { listCheckpoints, resolveCheckpoint } from '../../src/run/checkpoint';
import { RunsStore, compareAtRequest } from '../../src/extension/runsStore';

const workerScript = path.join(repoRoot, 'dist', 'worker.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-module-worker-'));
const runsRoot = path.join(tmp, 'runs');

function start(spec: Partial<RunSpec> & { experiment: string }, opts: Partial<WorkerHostOptions> = {}, onEvent?: (e: Envelope, run: WorkerRun) => void): WorkerRun {
  let run: WorkerRun | undefined = undefined;
  run = startWorkerRun(
    { method: 'Neumann_RBP', K: 5, backend: 'wasm', ...spec },
    { workerScript, runsRoot, node: chooseNode(undefined), ...opts },
    { onEvent: (e) => onEvent?.(e, run!), onLog: () => undefined },
  );
  return run;
}

test('a module that throws while loading fails the run with its file and line; the next run works', async () => {
  const bad = writeBadModule(tmp, 'throws-at-load', { source: 'const a = 1;\nthrow new Error("broken at load " + a);\n' });
  const o = await start({ experiment: bad.config }).done;
  assert.equal(o.status, 'failed');
  assert.equal(o.kind, 'bad-config');
  assert.match(o.reason ?? '', new RegExp(`^${bad.file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2:7: loading the model module failed: broken at load 1`));
  assert.equal(readRun(o.dir).description?.status, 'failed');
  const good = writeBadModule(tmp, 'good', {});
  const o2 = await start({ experiment: good.config }).done;
  assert.equal(o2.status, 'completed', o2.reason);
});

test('an endless step in the user’s code: Stop kills the worker after the grace time, the run is cancelled and its record kept', { timeout: 60_000 }, async () => {
  // Validation calls step a few times; the 61st call (in the step-0 diagnosis) never returns.
  const { config } = writeBadModule(tmp, 'endless', { patch: 'const ok = system.step;\n  system.step = (h, w, t, p) => {\n    if (++calls > 60) for (;;);\n    return ok(h, w, t, p);\n  };' });
  let stopAt = 0;
  const run = start({ experiment: config }, { cancelGraceMs: 500 }, (e, r) => {
    if (e.type === 'run/started') {
      // Set-up and validation take well under a second; the worker is then inside the endless loop.
      setTimeout(() => {
        stopAt = Date.now();
        r.cancel();
      }, 2000);
    }
  });
  const o = await run.done;
  assert.ok(stopAt > 0, 'the run started');
  assert.equal(o.status, 'cancelled');
  assert.equal(o.signal, 'SIGKILL');
  assert.ok(Date.now() - stopAt < 3000, `stopped ${Date.now() - stopAt} ms after Stop`);
  const rec = readRun(o.dir);
  assert.equal(rec.description?.status, 'cancelled');
  assert.ok(rec.events.some((e) => e.type === 'run/started'), 'what was recorded is kept');
});

// ---- Stop while a checkpoint is being written ----

/**
 * TINY whose evaluation after a step sleeps 1 s (a window in which Stop lands between steps, so the
 * run writes a 'stopped' checkpoint), with an evaluation after every step and checkpoints only at the
 * end or on Stop. The worker writes checkpoints slowly on demand (RBP_TEST_CHECKPOINT_CHUNK_DELAY_MS).
 */
function slowEvalModel(name: string, evalMs = 1000): string {
  const { config } = writeBadModule(tmp, name, {
    patch: `model.evaluate = (step) => {\n    if (step >= 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${evalMs});\n    return { ok: 1 };\n  };`,
  });
  fs.writeFileSync(config, `exp_name: ${name}\nrunner: ModuleRunner\nmodel:\n  module: ./model.mjs\n  num_update: 10\ntrain:\n  max_steps: 50\n  valid_epoch: 1\n  snapshot_epoch: 1000\n`);
  return config;
}

function stopAtFirstStep(): (e: Envelope, r: WorkerRun) => void {
  let stopped = false;
  return (e, r) => {
    if (!stopped && e.type === 'metrics' && e.kind === 'train') {
      stopped = true;
      r.cancel();
    }
  };
}

test('Stop just before a slow checkpoint write: the host waits for the write (past its 3 s grace), the stopped checkpoint is whole and a gradient check loads it', { timeout: 90_000 }, async () => {
  const config = slowEvalModel('slow-write');
  // The write takes 6 s (one chunk, then the delay), starting about 1 s after Stop: without the
  // host's wait for an announced write (mutant: killIfStuck ignoring `writing`) the worker is killed
  // at 3 s, the run is cancelled with SIGKILL and the checkpoint is only a .tmp file.
  const events: Envelope[] = [];
  const stop = stopAtFirstStep();
  const run = start({ experiment: config }, { cancelGraceMs: 3000, env: { RBP_TEST_CHECKPOINT_CHUNK_DELAY_MS: '6000' } }, (e, r) => {
    events.push(e);
    stop(e, r);
  });
  const o = await run.done;
  assert.equal(o.status, 'cancelled', o.reason);
  assert.equal(o.signal, null, 'the worker exited by itself, after writing');
  const writing = events.find((e) => e.type === 'checkpoint/writing');
  const written = events.find((e) => e.type === 'checkpoint');
  assert.ok(writing?.type === 'checkpoint/writing' && writing.reason === 'stopped' && writing.step === 1, JSON.stringify(writing));
  assert.ok(written?.type === 'checkpoint' && written.reason === 'stopped' && written.bytes === writing.bytes, JSON.stringify(written));
  assert.ok(events.some((e) => e.type === 'log' && /^stopping: waiting for the worker to finish writing checkpoints\/step-000001\.rbpck \(0\.0 MiB; at most 10 s\)$/.test(e.text)), 'the host says why it waits');
  assert.deepEqual(listCheckpoints(o.dir).map((c) => c.step), [1]);
  assert.ok(!fs.existsSync(path.join(o.dir, 'checkpoints', 'step-000001.rbpck.tmp')));
  // Loadable: a gradient check through the worker host at that checkpoint's weights.
  const gc = start({ experiment: config, gradcheck: { Ks: [2], methods: ['TBPTT'], from: o.dir } });
  const g = await gc.done;
  assert.equal(g.status, 'completed', g.reason);
  const result = readRun(g.dir).events.find((e) => e.type === 'gradcheck/result');
  assert.ok(result?.type === 'gradcheck/result' && result.report.from?.step === 1, JSON.stringify(result?.type === 'gradcheck/result' ? result.report.from : result));
});

test('Stop during an evaluation longer than the 1 s grace: the worker says it will checkpoint, the host waits, the stopped checkpoint is written and the worker exits by itself', { timeout: 90_000 }, async () => {
  // The evaluation after step 0 takes 3 s; Stop lands in it (at step 0's train metrics), with the
  // default 1 s grace. The worker answers Stop at once with saving: true (step 0 is finished, no
  // checkpoint holds it). Mutant: the host ignoring `saving` → SIGKILL at 1 s, no checkpoint.
  const config = slowEvalModel('slow-eval-stop', 3000);
  const events: Envelope[] = [];
  const stop = stopAtFirstStep();
  let stopAt = 0;
  const run = start({ experiment: config }, {}, (e, r) => {
    events.push(e);
    if (!stopAt && e.type === 'metrics' && e.kind === 'train') stopAt = Date.now();
    stop(e, r);
  });
  const o = await run.done;
  assert.equal(o.status, 'cancelled', o.reason);
  assert.equal(o.signal, null, 'the worker exited by itself, after writing');
  assert.ok(Date.now() - stopAt > 1500, 'the evaluation outlasted the grace');
  const written = events.find((e) => e.type === 'checkpoint');
  assert.ok(written?.type === 'checkpoint' && written.reason === 'stopped' && written.step === 1, JSON.stringify(written));
  assert.deepEqual(listCheckpoints(o.dir).map((c) => c.step), [1]);
  assert.ok(events.some((e) => e.type === 'log' && /^stopping: waiting for the worker to finish what it computes and checkpoint its finished steps \(at most 60 s\)$/.test(e.text)), 'the host says why it waits');
  const last = readRun(o.dir).events.at(-1);
  assert.ok(last?.type === 'run/finished' && last.status === 'cancelled' && last.summary.steps_done === 1, JSON.stringify(last));
});

test('Stop during an evaluation that never ends: killed at stopSaveGraceMs, the run cancelled with the warning', { timeout: 90_000 }, async () => {
  const config = slowEvalModel('endless-eval-stop', 600_000);
  const events: Envelope[] = [];
  const stop = stopAtFirstStep();
  const t0 = Date.now();
  const run = start({ experiment: config }, { stopSaveGraceMs: 2000 }, (e, r) => {
    events.push(e);
    stop(e, r);
  });
  const o = await run.done;
  assert.equal(o.status, 'cancelled');
  assert.equal(o.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 < 60_000, 'killed at the bound');
  assert.ok(events.some((e) => e.type === 'log' && e.level === 'warn' && /did not start its checkpoint within 2 s of Stop: killing it/.test(e.text)));
  assert.deepEqual(listCheckpoints(o.dir), []);
});

test('a checkpoint write that never ends is killed at its bound: the run is cancelled, nothing is taken for a checkpoint', { timeout: 90_000 }, async () => {
  const config = slowEvalModel('endless-write');
  const events: Envelope[] = [];
  const stop = stopAtFirstStep();
  const t0 = Date.now();
  const run = start({ experiment: config }, { cancelGraceMs: 3000, checkpointGraceMs: 2000, env: { RBP_TEST_CHECKPOINT_CHUNK_DELAY_MS: '600000' } }, (e, r) => {
    events.push(e);
    stop(e, r);
  });
  const o = await run.done;
  assert.equal(o.status, 'cancelled');
  assert.equal(o.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 < 60_000, 'killed at the bound, not after the write');
  assert.ok(events.some((e) => e.type === 'checkpoint/writing'));
  assert.ok(!events.some((e) => e.type === 'checkpoint'));
  assert.ok(events.some((e) => e.type === 'log' && e.level === 'warn' && /was not written within 2 s: killing the worker/.test(e.text)));
  // The unfinished write is a .tmp that no reader lists: the run has no checkpoint to resume or compare at.
  assert.ok(fs.existsSync(path.join(o.dir, 'checkpoints', 'step-000001.rbpck.tmp')));
  assert.deepEqual(listCheckpoints(o.dir), []);
  assert.throws(() => resolveCheckpoint(o.dir), /has no checkpoints/);
});

test('Compare at a checkpoint of a config-file run finds the config’s relative model.module: the run records its config folder and the check is launched with it', { timeout: 90_000 }, async () => {
  // The worker runs in the test's working directory (the repo root), where ./model.mjs does not exist.
  const { config } = writeBadModule(tmp, 'relative-module', { steps: 2 });
  const o = await start({ experiment: config }).done;
  assert.equal(o.status, 'completed', o.reason);
  const store = new RunsStore(runsRoot);
  assert.equal(store.read(o.runId).description?.configDir, path.dirname(config), 'run.json names the config folder');
  const req = compareAtRequest(store, o.runId, undefined, [2]);
  assert.ok(!('error' in req), JSON.stringify(req));
  // What runCompareAt launches (src/extension/compare.ts): the recorded config and its folder.
  // Mutant caught: compareAtRequest without configDir → "model.module: cannot find './model.mjs' (… relative to the working directory)".
  const g = await start({ experiment: req.experiment, config: req.config, configDir: req.configDir, method: req.method, K: req.K, gradcheck: req.gradcheck }).done;
  assert.equal(g.status, 'completed', g.reason);
  const result = readRun(g.dir).events.find((e) => e.type === 'gradcheck/result');
  assert.ok(result?.type === 'gradcheck/result' && result.report.from?.step === 2 && result.report.from.runId === o.runId);
});
