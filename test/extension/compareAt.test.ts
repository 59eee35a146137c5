/**
 * "Compare TBPTT vs Neumann-RBP at this step" (rbpLab.compareAtCheckpoint), its vscode-free parts:
 * which checkpoint a request resolves to and what the gradient check is launched with (the run's
 * own config, `gradcheck.from` = RUN_DIR@STEP as `rbp gradcheck --from` takes it), the one-line
 * refusals, the runs tree's context value and the package.json menu that keys on it, and the
 * dashboard's `compareAt` message checked at the boundary. The numbers of a check from a
 * checkpoint equal `rbp gradcheck --from` (test/run/checkpoint.test.ts); the e2e test runs it in VS Code.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunsStore, runItemView, compareAtRequest } from '../../src/extension/runsStore';
import { RunRecorder } from '../../src/run/recorder';
import { parseWebviewMessage } from '../../src/protocol/messages';
import { COMPARE_DEFAULT_KS } from '../../src/shared/compareSummary';
import { repoRoot } from '../helpers/setup';

const backend = { name: 'cpu', description: 'cpu', skipped: [], nodeVersion: 'v20', execPath: 'node' };
const CONFIG = { runner: 'HopfieldRunner', model: { grad_method: 'BPTT', num_update: 30 }, train: { max_epoch: 3 } };

function record(root: string, id: string, method: string, steps: number[], config: Record<string, unknown> = CONFIG): string {
  const dir = path.join(root, id);
  const r = new RunRecorder(dir, id);
  r.record({ type: 'run/started', experiment: 'hopfield', title: 'Hopfield', runner: 'HopfieldRunner', method, K: null, T: 30, steps: 10, stepLabel: 'step', backend, config, startedAt: '2025-01-01T10:00:00.000Z', notes: [] });
  r.record({ type: 'run/finished', status: 'completed', elapsedMs: 10, summary: {} });
  r.close();
  if (!steps.length) return dir;
  fs.mkdirSync(path.join(dir, 'checkpoints'));
  // Listing only: the file names say which steps exist (the format is checkpoint.ts's, tested there).
  for (const s of steps) fs.writeFileSync(path.join(dir, 'checkpoints', `step-${String(s).padStart(6, '0')}.rbpck`), '');
  fs.writeFileSync(path.join(dir, 'checkpoints', 'step-000009.rbpck.tmp'), ''); // a write cut short: not a checkpoint
  return dir;
}

test('compareAtRequest: the newest checkpoint by default, a chosen one, the run’s config, RUN_DIR@STEP', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cmpat-'));
  const dir = record(root, 'r-train', 'BPTT', [10, 3, 100]);
  const store = new RunsStore(root);
  assert.deepEqual(store.checkpointSteps('r-train'), [3, 10, 100], 'ascending by step (not by name), no .tmp');
  const latest = compareAtRequest(store, 'r-train');
  assert.ok(!('error' in latest), JSON.stringify(latest));
  // Mutant caught: the first checkpoint instead of the newest (steps[0]).
  assert.equal(latest.step, 100);
  assert.equal(latest.gradcheck.from, `${dir}@100`);
  assert.deepEqual(latest.gradcheck.Ks, COMPARE_DEFAULT_KS);
  assert.deepEqual(latest.gradcheck.methods, ['TBPTT', 'Neumann_RBP']);
  assert.deepEqual(latest.config, CONFIG, 'the model of the run the checkpoint came from');
  assert.equal(latest.experiment, 'hopfield');
  const at = compareAtRequest(store, 'r-train', 10, [5, 40]);
  assert.ok(!('error' in at));
  assert.equal(at.step, 10);
  assert.equal(at.gradcheck.from, `${dir}@10`);
  assert.deepEqual(at.gradcheck.Ks, [5, 40]);
  assert.equal(at.K, 40, 'the run is named after the headline K');
});

test('compareAtRequest refuses in one line naming the run: no such step (listing those it has), no checkpoints, a gradient check, an unknown run', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cmpat-'));
  record(root, 'r-train', 'BPTT', [3, 6]);
  record(root, 'r-none', 'BPTT', []);
  record(root, 'r-gc', 'gradcheck', []);
  const store = new RunsStore(root);
  const err = (r: ReturnType<typeof compareAtRequest>) => ('error' in r ? r.error : `no error: ${JSON.stringify(r)}`);
  assert.equal(err(compareAtRequest(store, 'r-train', 5)), 'run r-train has no checkpoint at step 5 (it has 3, 6)');
  assert.match(err(compareAtRequest(store, 'r-none')), /^run r-none has no checkpoints \(none in .*r-none\/checkpoints\)$/);
  assert.match(err(compareAtRequest(store, 'r-gc')), /^run r-gc is a gradient check, not a training run/);
  assert.match(err(compareAtRequest(store, 'r-missing')), /^no run r-missing in /);
  assert.match(err(compareAtRequest(store, '../r-train')), /^no run \.\.\/r-train/, 'a path is not a run id');
  for (const e of ['r-train', 'r-none', 'r-gc'].map((id) => compareAtRequest(store, id, 5))) assert.ok(!err(e).includes('\n'));
});

test('runs tree: a training run with checkpoints offers Compare at a Checkpoint (package.json menu), others do not; a check at a checkpoint is labelled with it', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cmpat-'));
  record(root, 'r-train', 'BPTT', [3]);
  const store = new RunsStore(root);
  const [d] = store.list();
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { contributes: { commands: { command: string }[]; menus: Record<string, { command: string; when?: string }[]> } };
  const menu = pkg.contributes.menus['view/item/context'];
  const offered = (contextValue: string) =>
    menu.filter((m) => {
      // "view == rbpLab.runs && viewItem =~ /re/ && …": the item's regex decides.
      const re = /viewItem =~ \/(.*?)\/(?:\s|$)/.exec(m.when ?? '');
      return re ? new RegExp(re[1]).test(contextValue) : false;
    }).map((m) => m.command);
  const withCk = runItemView(d, false, true).contextValue;
  const without = runItemView(d, false, false).contextValue;
  assert.equal(withCk, 'rbpLab.run.completed.checkpoints');
  assert.ok(offered(withCk).includes('rbpLab.compareAtCheckpoint'));
  assert.ok(!offered(without).includes('rbpLab.compareAtCheckpoint'));
  // Mutant caught: the suffix breaking the older menu entries that end in `$`.
  assert.deepEqual(offered(withCk).filter((c) => c !== 'rbpLab.compareAtCheckpoint').sort(), offered(without).sort(), 'the other entries stay');
  assert.ok(pkg.contributes.commands.some((c) => c.command === 'rbpLab.compareAtCheckpoint'));
  const gc = runItemView({ ...d, method: 'gradcheck', K: null, from: { runId: 'r-train', step: 3 } }, false, true);
  assert.equal(gc.label, 'hopfield · gradient check at step 3 of r-train');
  assert.equal(gc.contextValue, 'rbpLab.run.completed.gradcheck', 'a gradient check has no checkpoints of its own');
});

test('the dashboard’s compareAt message: validated shape, and a run id the store knows', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cmpat-'));
  record(root, 'r-train', 'BPTT', [3]);
  const store = new RunsStore(root);
  const ok = store.checkWebviewMessage(parseWebviewMessage({ type: 'compareAt', runId: 'r-train', step: 3 }));
  assert.deepEqual(ok, { type: 'compareAt', runId: 'r-train', step: 3 });
  assert.throws(() => parseWebviewMessage({ type: 'compareAt', runId: 'r-train', step: '3' }), /step/);
  assert.throws(() => parseWebviewMessage({ type: 'compareAt', step: 3 }), /runId/);
  assert.throws(() => store.checkWebviewMessage(parseWebviewMessage({ type: 'compareAt', runId: 'r-other', step: 3 })), /compareAt: no run "r-other"/);
  assert.throws(() => store.checkWebviewMessage(parseWebviewMessage({ type: 'compareAt', runId: '../../etc', step: 3 })), /compareAt: no run/);
});

test('the runs overlay offers the probes: probe:relErrExact, probe:relErrBptt (where probed), probe:rho per probed step', async () => {
  const { overlaySeries, replaySelection } = await import('../../src/extension/replay');
  const d = { protocol: 1, runId: 'r1', experiment: 'hopfield', title: '', runner: '', method: 'TBPTT', K: 5, T: 30, steps: 30, status: 'completed' as const, startedAt: '', config: {}, finalMetrics: {} };
  const stamp = (seq: number) => ({ runId: 'r1', seq, t: 1000 + 100 * seq });
  const probe = (step: number, relErrExact: number, relErrBptt: number | null, rho: number) => ({ type: 'probe' as const, step, method: 'TBPTT', K: 5, relErrExact, cosExact: 0.9, relErrBptt, cosBptt: null, rho, exactResidual: null, exactConverged: true, ms: 5, ...stamp(step) });
  const events = [
    { type: 'metrics' as const, step: 0, elapsedMs: 100, kind: 'train' as const, values: { loss: 2 }, ...stamp(0) },
    probe(0, 1e-6, 2e-6, 0.1),
    { type: 'metrics' as const, step: 10, elapsedMs: 900, kind: 'train' as const, values: { loss: 1 }, ...stamp(10) },
    probe(10, 3e-3, null, 0.7),
    { type: 'checkpoint' as const, step: 11, file: 'checkpoints/step-000011.rbpck', bytes: 10, reason: 'final' as const, ...stamp(11) },
  ];
  const by = Object.fromEntries(overlaySeries(d, events).map((s) => [s.metric, s]));
  // issue 19: the probes' other fields and the checkpoint's size are series of the registry too.
  assert.deepEqual(Object.keys(by).sort(), ['checkpoint:bytes', 'loss', 'probe:cosExact', 'probe:ms', 'probe:relErrBptt', 'probe:relErrExact', 'probe:rho']);
  assert.deepEqual(by['probe:relErrExact'].points, [[0, 1e-6], [10, 3e-3]]);
  assert.deepEqual(by['probe:relErrBptt'].points, [[0, 2e-6]], 'no point where BPTT was not probed');
  assert.deepEqual(by['probe:rho'].points, [[0, 0.1], [10, 0.7]]);
  assert.deepEqual(by['probe:relErrExact'].wallMs, [0, 1000], 'at its own recorded time since the first event (no run/started here)');
  // The dashboard's replay keeps every probe and checkpoint (the chart and the picker need them).
  assert.deepEqual(replaySelection(events).map((e) => e.type), ['metrics', 'probe', 'metrics', 'probe', 'checkpoint']);
});

test('issue 19: the overlay offers every registry series of a run — gradient norm, step time, ρ(J), forward residual, memory — with the recorded values', async () => {
  const { overlaySeries } = await import('../../src/extension/replay');
  const { seriesInfo } = await import('../../src/shared/seriesRegistry');
  const d = { protocol: 1, runId: 'r2', experiment: 'hopfield', title: '', runner: '', method: 'RBP', K: 5, T: 3, steps: 2, status: 'completed' as const, startedAt: '', config: {}, finalMetrics: {} };
  const stamp = (seq: number) => ({ runId: 'r2', seq, t: 7000 + 50 * seq });
  const verdict = { level: 'warn' as const, trustRbp: false, rho: 0.97, forwardConverged: true, finalRelResidual: 1e-5, message: 'near 1' };
  const events = [
    { type: 'trace/forward' as const, step: 0, abs: [1, 0.1, 1e-3], rel: [1, 0.1, 1e-5], converged: true, diverged: false, ...stamp(0) },
    { type: 'metrics' as const, step: 0, elapsedMs: 100, kind: 'train' as const, values: { loss: 2, grad_norm: 0.75, step_ms: 40 }, ...stamp(1) },
    { type: 'memory' as const, step: 0, peakBytes: 3 * 2 ** 20, liveBytes: 2 ** 20, rssBytes: 2 ** 28, numTensors: 9, ...stamp(2) },
    { type: 'metrics' as const, step: 1, elapsedMs: 200, kind: 'train' as const, values: { loss: 1, grad_norm: 0.5, step_ms: 45 }, ...stamp(3) },
    { type: 'diagnostics' as const, step: 1, rho: 0.97, verdict, ...stamp(4) },
  ];
  const by = Object.fromEntries(overlaySeries(d, events).map((s) => [s.metric, s]));
  assert.deepEqual(by['train:grad_norm'].points, [[0, 0.75], [1, 0.5]]);
  assert.deepEqual(by['train:grad_norm'].wallMs, [50, 150], 'each event’s recorded time t since the first event');
  assert.deepEqual(by['diagnostics:rho'].wallMs, [200], 'its own time, not the last metrics event’s');
  assert.deepEqual(by['train:step_ms'].points, [[0, 40], [1, 45]]);
  assert.deepEqual(by['diagnostics:rho'].points, [[1, 0.97]]);
  assert.deepEqual(by['forward:finalRel'].points, [[0, 1e-5]]);
  assert.deepEqual(by['forward:stepsToTol'].points, [[0, 3]], 'the first solver step below 1e-4');
  assert.deepEqual(by['memory:peakBytes'].points, [[0, 3]], 'in MiB');
  assert.deepEqual(by.loss.points, [[0, 2], [1, 1]], 'the loss keeps its name');
  for (const k of Object.keys(by)) if (k !== 'loss') assert.ok(seriesInfo(k), `${k} is in the registry`);
});
