/** The `rbp` command line, run as a user would: exit codes, messages, recorded runs, gradcheck. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readRun } from '../../src/run/recorder';
import { repoRoot } from '../helpers/setup';

const cli = path.join(repoRoot, 'dist', 'cli.js');
const smoke = ['--set', 'model.num_update=10', '--set', 'dataset.num_imgs=2', '--backend', 'wasm'];

function rbp(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120000 });
}

test('bad arguments: one clear line, exit code 2, no stack trace', () => {
  for (const [args, msg] of [
    [['run', 'hopfield', '--truncate', 'abc'], /--truncate must be an integer ≥ 1; got 'abc'/],
    [['run', 'hopfield', '--method', 'SGD'], /unknown method 'SGD'/],
    [['run', 'nosuch'], /unknown experiment 'nosuch'/],
    [['run', 'hopfield', '--set', 'model.truncat_iter=3'], /unknown field \(did you mean 'truncate_iter'\?\)/],
    [['frobnicate'], /unknown command/],
    [['run', 'hopfield', '--backend', 'tpu'], /unknown backend 'tpu'/],
  ] as const) {
    const r = rbp([...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0], msg);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('a bad config file names the file, line and column', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cli-'));
  const f = path.join(dir, 'bad.yaml');
  fs.writeFileSync(f, 'exp_name: x\nrunner: HopfieldRunner\nmodel:\n  num_updates: 5\n');
  const r = rbp(['run', f]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`${f.replace(/[/.]/g, '\\$&')}:4:3: unknown field 'model.num_updates' \\(did you mean 'num_update'\\?\\)`));
});

test('rbp run records the run as it goes and prints JSON lines with --json', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-run-'));
  const r = rbp(['run', 'hopfield', '--steps', '3', '--method', 'neumann-rbp', '--truncate', '4', '--out', out, '--json', ...smoke]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines[0].type, 'run/started');
  assert.equal(lines[lines.length - 1].type, 'run/finished');
  const { description, events, skipped } = readRun(out);
  assert.equal(skipped, 0);
  assert.equal(description?.status, 'completed');
  assert.equal(description?.method, 'Neumann_RBP');
  assert.equal(description?.K, 4);
  assert.equal(events.filter((e) => e.type === 'trace/forward').length, 3);
  const fwd = events.find((e) => e.type === 'trace/forward');
  assert.ok(fwd && fwd.type === 'trace/forward' && fwd.rel.length === 10, 'one forward residual per step');
  assert.ok(Number.isFinite(description?.finalMetrics.loss));
});

test('a killed run keeps everything it recorded', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-kill-'));
  const child = spawn(process.execPath, [cli, 'run', 'hopfield', '--steps', '500', '--out', out, ...smoke], { stdio: 'ignore' });
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    const n = fs.existsSync(path.join(out, 'events.jsonl')) ? fs.readFileSync(path.join(out, 'events.jsonl'), 'utf8').split('\n').length : 0;
    if (n > 8) break;
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const { description, events, skipped } = readRun(out);
  assert.equal(description?.status, 'failed', 'a run whose process is gone is reported as interrupted');
  assert.match(description?.reason ?? '', /^interrupted: the process that recorded it \(pid \d+\) ended/);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')).status, 'running', 'the record on disk is untouched');
  assert.ok(events.length >= 8, `events kept: ${events.length}`);
  assert.ok(skipped <= 1, 'at most the torn last line is lost');
});

test('rbp gradcheck --json prints one JSON document with every method at every K', () => {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-gc-'));
  const r = rbp(['gradcheck', 'hopfield', '--truncate', '2,8', '--json', '--runs-dir', runsDir, ...smoke]);
  assert.equal(r.status, 0, r.stderr);
  // recorded under the same name and description as the extension's Compare runs
  const [dir, ...more] = fs.readdirSync(runsDir);
  assert.equal(more.length, 0);
  assert.match(dir, /^\d{8}-\d{6}-hopfield-gradcheck-[a-z0-9]{4}$/);
  assert.equal(readRun(path.join(runsDir, dir)).description?.method, 'gradcheck');
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.Ks, [2, 8]);
  const methods = report.rows.map((x: { method: string; K: number | null }) => `${x.method}:${x.K}`);
  assert.deepEqual(methods, ['exact:null', 'BPTT:null', 'TBPTT:2', 'RBP:2', 'CG_RBP:2', 'Neumann_RBP:2', 'TBPTT:8', 'RBP:8', 'CG_RBP:8', 'Neumann_RBP:8']);
  const neumann8 = report.rows.find((x: { method: string; K: number }) => x.method === 'Neumann_RBP' && x.K === 8);
  assert.ok(neumann8.relErrExact < 1e-4 && neumann8.cosBptt > 0.9999, JSON.stringify(neumann8));
  assert.ok(report.rho >= 0 && report.rho < 1);
  assert.equal(report.verdict.level, 'ok');
  for (const row of report.rows) assert.ok(row.peakBytes > 0 && row.timeMs > 0);
});

test('rbp run --out records from the start: set-up log lines, and a run that fails before it starts', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-early-'));
  const r = rbp(['run', 'hypergrad', '--steps', '1', '--method', 'TBPTT', '--truncate', '2', '--set', 'model.num_sgd_step=3', '--out', out, '--backend', 'wasm']);
  assert.equal(r.status, 0, r.stderr);
  const { description, events } = readRun(out);
  const started = events.findIndex((e) => e.type === 'run/started');
  assert.ok(started > 0, 'events before run/started are recorded');
  assert.ok(events.slice(0, started).some((e) => e.type === 'log' && /training images/.test(e.text)), 'the experiment’s set-up log line is in events.jsonl');
  assert.equal(description?.status, 'completed');
  assert.equal(description?.runner, 'HypergradRunner', 'run/started completes the description');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cli-'));
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'exp_name: x\nrunner: HopfieldRunner\nmodel:\n  num_updates: 5\n');
  const failedOut = path.join(dir, 'rec');
  const f = rbp(['run', bad, '--method', 'BPTT', '--out', failedOut]);
  assert.equal(f.status, 2);
  const rec = readRun(failedOut);
  assert.equal(rec.description?.status, 'failed');
  assert.equal(rec.description?.experiment, 'bad');
  assert.equal(rec.description?.method, 'BPTT');
  assert.match(rec.description?.reason ?? '', /bad\.yaml:4:3: unknown field/);
});

test('an --out the CLI cannot write to is one clear line and exit code 2', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cli-'));
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'not a folder');
  for (const cmd of [['run', 'hopfield', '--steps', '1'], ['gradcheck', 'hopfield', '--truncate', '2']]) {
    const r = rbp([...cmd, '--out', path.join(file, 'sub')]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr.split('\n')[0], /^rbp: cannot record the (run|gradient check): /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('rbp run --final-check closes with a summary: evaluation vs untrained, the gradient against exact, ρ(J), memory', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-check-'));
  const r = rbp(['run', 'hopfield', '--steps', '3', '--method', 'Neumann_RBP', '--truncate', '4', '--final-check', '--out', out, ...smoke]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const at = lines.indexOf('summary:');
  assert.ok(at > 0, r.stdout);
  assert.match(lines[at + 1], /^ {2}evaluation, untrained → trained: eval_l1 [0-9.]+ → [0-9.]+, retrieval_bit_err [0-9.]+ → [0-9.]+, .*log10_l1_binary_vs_corrupted -?[0-9.]+ → -?[0-9.]+$/);
  assert.match(lines[at + 2], /^ {2}gradient at the final weights, Neumann_RBP K=4 against exact: relative error \S+, cosine [01]\.\d{6}; cosine with BPTT \S+$/);
  assert.match(lines[at + 3], /^ {2}at the final weights: ρ\(J\) = /);
  assert.match(lines[at + 4], /^ {2}memory: at most \d+ MB of tensors above the live ones in a training step, peak RSS \d+ MB$/);
  assert.doesNotMatch(lines[at - 1], /check_/, 'the check is in the summary block, not the one-line summary');
  const { description } = readRun(out);
  const s = description?.summary ?? {};
  assert.equal(s.check_method, 'Neumann_RBP K=4');
  assert.ok(Number(s.check_rel_err_vs_exact) < 1e-2, `Neumann-RBP on the contractive Hopfield net (T = 10): ${s.check_rel_err_vs_exact}`);
  assert.ok(Number(s.peak_rss_mb) > 10 && Number(s.peak_step_tensor_mb) > 0, JSON.stringify(s));
  // without the flag: no check
  const plain = rbp(['run', 'hopfield', '--steps', '1', ...smoke]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.doesNotMatch(plain.stdout, /summary:|check_/);
  const bad = rbp(['gradcheck', 'hopfield', '--final-check']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--final-check is an option of run/);
});
