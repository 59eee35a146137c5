/**
 * Checkpoints, resuming and probes: the format round-trips bit-exactly, a resumed run repeats the
 * uninterrupted one step for step (each experiment), probes change nothing and equal a gradient
 * check at the same weights and batch, and every bad checkpoint gets one line naming the file.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { useBackend, repoRoot, coraSkip, planetoidDir } from '../helpers/setup';
import { runExperiment } from '../../src/run/runner';
import { runGradcheck } from '../../src/run/gradcheck';
import { RunRecorder } from '../../src/run/recorder';
import { decodeCheckpoint, encodeCheckpoint, listCheckpoints, readCheckpoint, crc32 } from '../../src/run/checkpoint';
import { applyOverride, builtinConfig } from '../../src/config/load';
import { loadExperiment } from '../../src/experiments';
import { captureState, restoreState } from '../../src/experiments/state';
import type { RunSpec, WorkerEvent } from '../../src/protocol/messages';

before(useBackend);

const backend = process.env.RBP_TEST_BACKEND ?? 'wasm';
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), `rbp-ck-${p}-`));

// A small Hopfield network (n = 2·40 + 16 = 96 units), 3 images: 3 steps per epoch, shuffled, Adam.
const HOP = ['model.num_update=8', 'dataset.num_imgs=3', 'model.input_dim=40', 'model.hidden_dim=16', 'train.valid_epoch=1', 'train.snapshot_epoch=1'];
const hop = (extra: Partial<RunSpec> = {}): RunSpec => ({ experiment: 'hopfield', method: 'TBPTT', K: 3, steps: 7, backend, overrides: HOP, ...extra });

/** Train, recording into a fresh folder (the run folder is the checkpoint folder, as in the CLI). */
async function train(spec: RunSpec, stopAfter?: number): Promise<{ dir: string; events: WorkerEvent[] }> {
  const dir = tmp('run');
  const rec = new RunRecorder(dir, path.basename(dir));
  const events: WorkerEvent[] = [];
  let steps = 0;
  await runExperiment(
    { ...spec, checkpointDir: dir },
    (e) => {
      rec.record(e);
      events.push(e);
      if (e.type === 'metrics' && e.kind === 'train') steps++;
    },
    { cancelled: () => stopAfter !== undefined && steps >= stopAfter },
  );
  rec.close();
  return { dir, events };
}

const losses = (evs: WorkerEvent[]) => new Map(evs.flatMap((e) => (e.type === 'metrics' && e.kind === 'train' ? [[e.step, e.values.loss] as const] : [])));
const evals = (evs: WorkerEvent[]) => evs.flatMap((e) => (e.type === 'metrics' && e.kind === 'eval' ? [[e.step, e.values] as const] : []));

/** The resumed run's losses are the uninterrupted run's, bit for bit, and so are its final weights and optimiser state. */
function assertSameContinuation(full: { dir: string; events: WorkerEvent[] }, resumed: { dir: string; events: WorkerEvent[] }, from: number): void {
  const a = losses(full.events);
  const b = losses(resumed.events);
  assert.deepEqual([...b.keys()], [...a.keys()].filter((s) => s >= from), 'the resumed run trains exactly the remaining steps');
  for (const [s, l] of b) assert.equal(l, a.get(s), `loss at step ${s}`);
  // Evaluations after the resume point match too (the one at resume time is the baseline of the new run).
  const ea = new Map(evals(full.events).slice(1).map(([s, v]) => [s, v]));
  for (const [s, v] of evals(resumed.events).slice(1)) assert.deepEqual(v, ea.get(s), `evaluation at step ${s}`);
  const fa = listCheckpoints(full.dir).at(-1)!;
  const fb = listCheckpoints(resumed.dir).at(-1)!;
  assert.equal(fa.step, fb.step);
  const sa = readCheckpoint(fa.file).state;
  const sb = readCheckpoint(fb.file).state;
  assert.deepEqual(sb.tensors, sa.tensors, 'final weights and optimiser buffers');
  assert.deepEqual(sb.optimizer, sa.optimizer);
  assert.deepEqual(sb.extra, sa.extra);
}

let hopFull: { dir: string; events: WorkerEvent[] };

test('Hopfield: periodic, final and stopped checkpoints; resuming at each repeats the uninterrupted run step for step', async () => {
  hopFull = await train(hop());
  const ck = hopFull.events.filter((e) => e.type === 'checkpoint');
  // snapshot_epoch 1 = every 3 steps here; the last one is the final.
  assert.deepEqual(
    ck.map((e) => e.type === 'checkpoint' && [e.step, e.reason]),
    [
      [3, 'periodic'],
      [6, 'periodic'],
      [7, 'final'],
    ],
  );
  assert.deepEqual(listCheckpoints(hopFull.dir).map((c) => c.step), [3, 6, 7]);
  // Resuming at an epoch boundary (step 3: the shuffle generator draws the next order).
  const r3 = await train(hop({ resume: `${hopFull.dir}@3` }));
  assertSameContinuation(hopFull, r3, 3);
  const started = r3.events.find((e) => e.type === 'run/started');
  assert.ok(started?.type === 'run/started' && started.resumedFrom?.step === 3 && started.resumedFrom.runId === path.basename(hopFull.dir));
  assert.ok(started.notes.some((n) => n.includes('resumed from') && n.includes('step-000003.rbpck')));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(r3.dir, 'run.json'), 'utf8')).resumedFrom, { runId: path.basename(hopFull.dir), step: 3 });
  // Stopped mid-epoch (after 2 steps: the epoch's order is half used), then resumed from the stopped checkpoint.
  const stopped = await train(hop(), 2);
  const sck = stopped.events.filter((e) => e.type === 'checkpoint');
  assert.deepEqual(sck.map((e) => e.type === 'checkpoint' && [e.step, e.reason]), [[2, 'stopped']]);
  assertSameContinuation(hopFull, await train(hop({ resume: stopped.dir })), 2);
});

test('Cora: resuming (SGD with momentum) repeats the uninterrupted run', { skip: coraSkip() }, async () => {
  const spec: RunSpec = { experiment: 'cora', method: 'Neumann_RBP', K: 3, steps: 4, backend, dataDir: planetoidDir, overrides: ['model.num_prop=5', 'train.valid_epoch=1', 'train.snapshot_epoch=2'] };
  const full = await train(spec);
  assertSameContinuation(full, await train({ ...spec, resume: `${full.dir}@2` }), 2);
});

test('hypergrad: resuming (meta-parameters, Adam meta-optimiser) repeats the uninterrupted run', async () => {
  const spec: RunSpec = {
    experiment: 'hypergrad',
    method: 'Neumann_RBP',
    K: 3,
    steps: 4,
    backend,
    overrides: ['model.num_sgd_step=4', 'model.batch_size=20', 'model.mlp_hidden=[784, 10]', 'model.last_step=minibatch', 'train.snapshot_epoch=2'],
  };
  const full = await train(spec);
  assertSameContinuation(full, await train({ ...spec, resume: `${full.dir}@2` }), 2);
});

test('the format round-trips bit-exactly, and a session restored from it captures the same state', async () => {
  const file = listCheckpoints(hopFull.dir).find((c) => c.step === 6)!.file;
  const buf = fs.readFileSync(file);
  const { header, state } = decodeCheckpoint(buf, file);
  assert.equal(header.runner, 'HopfieldRunner');
  assert.equal(header.optimizer.kind, 'Adam');
  assert.equal(header.optimizer.scalars.t, 6);
  assert.deepEqual(state.tensors.map((t) => t.name), ['w.0', 'opt.m.0', 'opt.v.0']);
  // Re-encoding the decoded state gives the same bytes (same creation time).
  assert.ok(encodeCheckpoint(header, state, new Date(header.createdAt)).equals(buf), 'encode(decode(x)) = x');
  // Into a fresh session and out again: the same arrays (NaN-free float32, compared bit for bit).
  const config = HOP.reduce((c, o) => applyOverride(c, o), builtinConfig('hopfield')!);
  const exp = (await loadExperiment(config.runner))!;
  const session = await exp.create(config, 'TBPTT', 3, { log: () => undefined });
  restoreState(session, state);
  const again = captureState(session, 6);
  assert.deepEqual(again.tensors, state.tensors);
  assert.deepEqual(again.extra, state.extra);
  session.dispose();
});

test('probes change nothing in training, and each equals a gradient check at the same weights and batch', async () => {
  const probed = await train(hop({ probeEvery: 3 }));
  const probes = probed.events.filter((e) => e.type === 'probe');
  assert.deepEqual(probes.map((p) => p.type === 'probe' && p.step), [0, 3, 6]);
  // Same losses, bit for bit, and the same final state, as without probes.
  assert.deepEqual(losses(probed.events), losses(hopFull.events));
  assert.deepEqual(readCheckpoint(listCheckpoints(probed.dir).at(-1)!.file).state.tensors, readCheckpoint(listCheckpoints(hopFull.dir).at(-1)!.file).state.tensors);
  // The probe at step 6 saw the weights of checkpoint step-6 and step 6's batch: a gradient check from that checkpoint.
  const p6 = probes.find((p) => p.type === 'probe' && p.step === 6);
  assert.ok(p6?.type === 'probe');
  const report = (await runGradcheck({ experiment: 'hopfield', backend, overrides: HOP, gradcheck: { Ks: [3], methods: ['TBPTT'], from: `${probed.dir}@6` } }, () => undefined))!;
  const row = report.rows.find((r) => r.method === 'TBPTT' && r.K === 3)!;
  assert.deepEqual(report.from, { runId: path.basename(probed.dir), step: 6 });
  assert.equal(p6.relErrExact, row.relErrExact);
  assert.equal(p6.cosExact, row.cosExact);
  assert.equal(p6.relErrBptt, row.relErrBptt);
  assert.equal(p6.cosBptt, row.cosBptt);
  assert.equal(p6.rho, report.rho);
  assert.equal(p6.exactConverged, report.exactConverged);
  assert.ok(p6.relErrExact > 1e-6, `a trained network's TBPTT(3) is not exact (${p6.relErrExact})`);
  assert.ok(p6.ms > 0);
});

test('a gradient check from a trained Hopfield checkpoint is non-trivial: ρ(J) ≥ 0.7 and TBPTT(5) at least 10× further from exact than TBPTT(40)', async () => {
  // n = 2·40 + 16 = 96 units, 3 images, T = 100; BPTT with Adam at lr 3e-2: 40 steps (~10 s) take
  // ρ(J) from 0.015 to about 0.91 (measured: TBPTT(5) 0.10, TBPTT(40) 4.1e-3 from exact).
  const TRAINED = ['model.input_dim=40', 'model.hidden_dim=16', 'dataset.num_imgs=3', 'model.num_update=100', 'train.lr=3e-2'];
  const run = await train({ experiment: 'hopfield', method: 'BPTT', steps: 40, backend, overrides: TRAINED });
  const check = async (from?: string) => (await runGradcheck({ experiment: 'hopfield', backend, overrides: TRAINED, gradcheck: { Ks: [5, 40], methods: ['TBPTT'], ...(from ? { from } : {}) } }, () => undefined))!;
  const tbptt = (r: Awaited<ReturnType<typeof check>>, K: number) => r.rows.find((x) => x.method === 'TBPTT' && x.K === K)!.relErrExact;
  // Through the checkpoint file, as `rbp gradcheck --from RUN_DIR` (its newest: step 40).
  // Mutant caught: loadCheckpoint not restoring the state (the initial weights: ρ(J) 0.015, ratio ≈ 1).
  const r = await check(run.dir);
  assert.deepEqual(r.from, { runId: path.basename(run.dir), step: 40 });
  assert.ok(r.exactConverged, 'exact is a reference there');
  assert.ok(r.rho >= 0.7, `ρ(J) = ${r.rho} at the trained weights`);
  assert.ok(tbptt(r, 5) >= 10 * tbptt(r, 40), `TBPTT(5) ${tbptt(r, 5)} vs TBPTT(40) ${tbptt(r, 40)}`);
  // At the initial weights the same check is trivial: the difference is the training.
  const init = await check();
  assert.ok(init.rho < 0.1 && tbptt(init, 5) < 1e-5, `untrained: ρ(J) = ${init.rho}, TBPTT(5) ${tbptt(init, 5)}`);
});

const cli = path.join(repoRoot, 'dist', 'cli.js');
const rbp = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120000 });

/** Every file of a folder and its bytes' checksum: to show nothing recorded changed. */
function snapshot(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = crc32(fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

test('bad checkpoints: one line naming the file and what is wrong, exit code 2, nothing recorded overwritten', () => {
  const src = hopFull.dir;
  const before = snapshot(src);
  const good = listCheckpoints(src).find((c) => c.step === 3)!.file;
  const bad = tmp('bad');
  const buf = fs.readFileSync(good);
  const put = (name: string, b: Buffer) => {
    const f = path.join(bad, name);
    fs.writeFileSync(f, b);
    return f;
  };
  const truncated = put('truncated.rbpck', buf.subarray(0, buf.length - 100));
  const flipped = Buffer.from(buf);
  flipped[flipped.length - 5] ^= 0x40;
  const dataCorrupt = put('data.rbpck', flipped);
  const hflip = Buffer.from(buf);
  hflip[30] ^= 0x01;
  const headerCorrupt = put('header.rbpck', hflip);
  const notOurs = put('text.rbpck', Buffer.from('{"hello": "world"}\n'));
  const { header, state } = decodeCheckpoint(buf, good);
  const otherExp = put('other.rbpck', encodeCheckpoint({ ...header, runner: 'HypergradRunner', experiment: 'hypergrad' }, state));
  const smoke = ['--steps', '4', '--backend', 'wasm', ...HOP.flatMap((o) => ['--set', o])];
  const cases: [string[], RegExp][] = [
    [['run', 'hopfield', '--resume', path.join(bad, 'nosuch')], /no run folder .*nosuch/],
    [['run', 'hopfield', '--resume', bad], /run .* has no checkpoints/],
    [['run', 'hopfield', '--resume', `${src}@5`], /has no checkpoint at step 5 \(it has 3, 6, 7\)/],
    [['run', 'hopfield', '--resume', truncated], /checkpoint .*truncated\.rbpck: truncated: \d+ of its \d+ data bytes/],
    [['run', 'hopfield', '--resume', dataCorrupt], /checkpoint .*data\.rbpck: corrupted: the data does not match its checksum/],
    [['run', 'hopfield', '--resume', headerCorrupt], /checkpoint .*header\.rbpck: corrupted: the header does not match its checksum/],
    [['run', 'hopfield', '--resume', notOurs], /checkpoint .*text\.rbpck: not an RBP Lab checkpoint/],
    [['run', 'hopfield', '--resume', otherExp], /checkpoint .*other\.rbpck: it is from a HypergradRunner run \(hypergrad\); this run is HopfieldRunner/],
    // Another model shape: 20 hidden units instead of 16.
    [['run', 'hopfield', '--resume', `${src}@3`, '--set', 'model.hidden_dim=20'], /checkpoint .*step-000003\.rbpck: it does not fit this model: tensor 'w\.0' is \[96, 96\], this model's is \[100, 100\]/],
    [['gradcheck', 'hopfield', '--from', dataCorrupt, '--truncate', '3'], /checkpoint .*data\.rbpck: corrupted/],
    [['run', 'hopfield', '--resume', src, '--out', src], /--out .* is the run being resumed/],
  ];
  for (const [args, msg] of cases) {
    const out = tmp('out');
    // The case's own options after the small model's (a later --set wins).
    const r = rbp([...args.slice(0, 2), ...smoke, ...args.slice(2), ...(args.includes('--out') ? [] : ['--out', out])]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    const line = lines.find((l) => l.startsWith('rbp: '));
    assert.match(line ?? '', msg, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.deepEqual(snapshot(src), before, 'the source run is unchanged');
  // A torn write leaves a .tmp beside whole checkpoints: it is not listed, and the newest whole one is used.
  fs.writeFileSync(path.join(src, 'checkpoints', 'step-000009.rbpck.tmp'), buf.subarray(0, 100));
  assert.deepEqual(listCheckpoints(src).map((c) => c.step), [3, 6, 7]);
});
