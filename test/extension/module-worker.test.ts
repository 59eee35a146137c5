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
