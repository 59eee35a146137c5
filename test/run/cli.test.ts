/** The `rbp` command line, run as a user would: exit codes, messages, recorded runs, gradcheck. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readRun } from '../../src/run/recorder';
import { repoRoot, planetoidDir } from '../helpers/setup';

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
    // Prototype pollution through --set (these completed with exit 0, or crashed mid-run, before).
    [['run', 'hopfield', '--steps', '1', '--set', '__proto__.toString=1'], /--set __proto__.toString: unknown section/],
    [['run', 'hopfield', '--steps', '1', '--set', 'constructor.keys=1'], /--set constructor.keys: unknown section/],
    [['run', 'hopfield', '--steps', '1', '--set', 'model.constructor=1'], /--set model.constructor: unknown field/],
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

  // A run that fails after its request was checked (here: no data) is recorded as failed.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cli-'));
  const failedOut = path.join(dir, 'rec');
  const f = rbp(['run', 'cora', '--method', 'BPTT', '--data', dir, '--out', failedOut]);
  assert.equal(f.status, 2, f.stderr);
  const rec = readRun(failedOut);
  assert.equal(rec.description?.status, 'failed');
  assert.equal(rec.description?.experiment, 'cora');
  assert.equal(rec.description?.method, 'BPTT');
  assert.match(rec.description?.reason ?? '', /ind\.cora\.x/);

  // A bad request is refused before anything is created.
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'exp_name: x\nrunner: HopfieldRunner\nmodel:\n  num_updates: 5\n');
  const neverOut = path.join(dir, 'never');
  const b = rbp(['run', bad, '--method', 'BPTT', '--out', neverOut]);
  assert.equal(b.status, 2);
  assert.match(b.stderr, /bad\.yaml:4:3: unknown field/);
  assert.equal(fs.existsSync(neverOut), false, 'no folder for a request that was refused');
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
  assert.match(lines[at + 4], /^ {2}memory: at most \d+ MiB of tensors above the live ones in a training step, peak RSS \d+ MiB$/);
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

test('config problems print one escaped line per problem with file:line:column, exit code 2', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cli-'));
  const write = (name: string, text: string | Buffer) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  let bomb = 'exp_name: x\nrunner: HopfieldRunner\na0: &a0 [x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i <= 6; i++) bomb += `a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]\n`;
  const cases: [string, RegExp][] = [
    // An alias bomb exited 1 with yaml's message and no position.
    [write('bomb.yaml', bomb), /bomb\.yaml:4:10: YAML aliases expand too much/],
    // Escape sequences and C1 controls in a key were echoed raw.
    [write('esc.yaml', 'exp_name: x\nrunner: HopfieldRunner\n"\x1b[2J\u009b31m\u202e": 1\n'), /esc\.yaml:3:1: unknown field '\\u001b\[2J\\u009b31m\\u202e'/],
    [write('mlp.yaml', 'exp_name: x\nrunner: HypergradRunner\nmodel:\n  mlp_hidden: [784, 0, 10]\n'), /mlp\.yaml:4:15: model\.mlp_hidden item 1 must be ≥ 1, got 0/],
    [write('seed.yaml', 'exp_name: x\nrunner: HopfieldRunner\nseed: 4294967297\n'), /seed\.yaml:3:7: seed must be ≤ 4294967295/],
    [write('binary.yaml', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x0a])), /binary\.yaml:1:1: /],
  ];
  for (const [file, msg] of cases) {
    const r = rbp(['run', file, '--steps', '1']);
    assert.equal(r.status, 2, `${file}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/, 'nothing raw reaches the terminal');
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('a recorded run is never overwritten, no link is followed, and --out under /proc does not hang', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-keep-'));
  const runs = path.join(root, 'runs');
  const first = rbp(['run', 'hopfield', '--steps', '2', '--runs-dir', runs, ...smoke]);
  assert.equal(first.status, 0, first.stderr);
  const [id] = fs.readdirSync(runs);
  const runDir = path.join(runs, id);
  const before = Object.fromEntries(['run.json', 'events.jsonl'].map((f) => [f, fs.readFileSync(path.join(runDir, f), 'utf8')]));
  // Mutant check: with the old recorder (mkdir -p, open 'w') the first two replaced the record with a failed stub.
  for (const args of [
    ['run', 'nosuchexp', '--out', runDir],
    ['run', 'hopfield', '--steps', '1', '--out', runDir, ...smoke],
    ['gradcheck', 'hopfield', '--truncate', '2', '--out', runDir, ...smoke],
  ]) {
    const r = rbp(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n')[0].startsWith('rbp: '), true);
    for (const [f, text] of Object.entries(before)) assert.equal(fs.readFileSync(path.join(runDir, f), 'utf8'), text, `${f} kept after ${args.join(' ')}`);
  }
  assert.match(rbp(['run', 'hopfield', '--steps', '1', '--out', runDir, ...smoke]).stderr, /already holds a run \(run\.json, events\.jsonl\)/);

  // A link where the record would go: its target is never written.
  const target = path.join(root, 'precious.txt');
  fs.writeFileSync(target, 'keep me');
  for (const name of ['events.jsonl', 'run.json', 'run.json.tmp']) {
    const d = path.join(root, `linked-${name}`);
    fs.mkdirSync(d);
    fs.symlinkSync(target, path.join(d, name));
    const r = rbp(['run', 'hopfield', '--steps', '1', '--out', d, ...smoke]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /already holds a run/);
  }
  const linkDir = path.join(root, 'link-to-folder');
  fs.symlinkSync(fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-elsewhere-')), linkDir);
  assert.match(rbp(['run', 'hopfield', '--steps', '1', '--out', linkDir, ...smoke]).stderr, /is a symbolic link/);
  assert.equal(fs.readFileSync(target, 'utf8'), 'keep me');

  // mkdir -p under /proc spun forever (ENOENT, then EEXIST on /proc, again).
  for (const out of ['/proc/rbp-lab-x', '/proc/self/rbp-lab', '/proc/self']) {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [cli, 'run', 'hopfield', '--steps', '1', '--out', out], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 2, `${out}: ${r.signal ?? ''} ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0], /^rbp: cannot record the run: /);
    assert.ok(Date.now() - t0 < 30000);
  }
});

test('Ctrl-C stops a run or a gradient check inside a long step: recorded as cancelled, exit code 130', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cancel-'));
  // 100,000 forward updates: about a minute per step (the issue's case, where two SIGINTs did nothing).
  const config = path.join(dir, 'long.yaml');
  fs.writeFileSync(config, 'exp_name: long\nrunner: HopfieldRunner\nmodel:\n  num_update: 100000\n  grad_method: Neumann_RBP\n');
  for (const cmd of [['run', config, '--steps', '3'], ['gradcheck', config, '--truncate', '5']]) {
    const out = path.join(dir, cmd[0]);
    const child = spawn(process.execPath, [cli, ...cmd, '--out', out, '--backend', 'wasm'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // Wait until the computation is under way (run/started recorded), then a moment more.
    for (let i = 0; i < 300 && !(fs.existsSync(path.join(out, 'events.jsonl')) && fs.readFileSync(path.join(out, 'events.jsonl'), 'utf8').includes('"run/started"')); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGINT');
    // A guard against the hang, not a speed target: the step itself would take a minute.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 130, `${cmd[0]}: ${stderr}`);
    assert.match(stderr, /SIGINT: stopping the (run|gradient check)/);
    const { description, events } = readRun(out);
    assert.equal(description?.status, 'cancelled', cmd[0]);
    const last = events[events.length - 1];
    assert.ok(last.type === 'run/finished' && last.status === 'cancelled');
  }
});

test('a training that diverges while staying finite warns, then fails as diverged (it ended "completed", exit 0)', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-div-'));
  const r = rbp(['run', 'hopfield', '--steps', '20', '--set', 'train.lr=1.0e6', '--out', out, ...smoke]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /warning: step 1: the loss grew from 0\.15 to .* the training is diverging/);
  assert.match(r.stderr.trim().split('\n').pop() ?? '', /^rbp: step 5: the loss grew .* for 5 steps: the training diverged; lower the learning rate$/);
  const { description, events } = readRun(out);
  assert.equal(description?.status, 'failed');
  assert.match(description?.reason ?? '', /the training diverged/);
  assert.ok(events.some((e) => e.type === 'log' && e.level === 'warn'), 'the warning is in the record (the dashboard shows it)');
  const failed = events[events.length - 1];
  assert.ok(failed.type === 'run/failed' && failed.kind === 'diverged');
});

test('gradcheck fails as cleanly as run: one line, exit 2 for bad input, no internal error or stack trace', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-gcbad-'));
  let bomb = 'exp_name: x\nrunner: HopfieldRunner\na0: &a0 [x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i <= 6; i++) bomb += `a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]\n`;
  fs.writeFileSync(path.join(dir, 'bomb.yaml'), bomb);
  fs.writeFileSync(path.join(dir, 'unknown.yaml'), 'exp_name: x\nrunner: HopfieldRunner\nmodel:\n  num_updates: 5\n');
  const cases: [string[], RegExp][] = [
    // Before: "rbp: internal error: ReferenceError: Excessive alias count ..." and a stack trace.
    [['gradcheck', path.join(dir, 'bomb.yaml')], /bomb\.yaml:4:10: YAML aliases expand too much/],
    [['gradcheck', path.join(dir, 'unknown.yaml')], /unknown\.yaml:4:3: unknown field 'model\.num_updates'/],
    [['gradcheck', 'nosuch'], /unknown experiment 'nosuch'/],
    [['gradcheck', 'hopfield', '--set', 'model.hidden_dim=1000000'], /needs at least .* GiB of tensor memory/],
    [['gradcheck', 'cora', '--data', path.join(dir, 'nodata')], /the cora data files were not found/],
  ];
  if (fs.existsSync(path.join(planetoidDir, 'ind.cora.graph'))) {
    // A Planetoid pickle that is not one (before: exit 1 from run, an internal error from gradcheck).
    const data = path.join(dir, 'cora');
    fs.mkdirSync(data);
    for (const f of fs.readdirSync(planetoidDir)) if (f.startsWith('ind.cora.')) fs.copyFileSync(path.join(planetoidDir, f), path.join(data, f));
    fs.chmodSync(path.join(data, 'ind.cora.y'), 0o644);
    fs.writeFileSync(path.join(data, 'ind.cora.y'), 'not a pickle');
    cases.push([['gradcheck', 'cora', '--data', data], /ind\.cora\.y: not a valid pickle: unknown opcode 0x6e at byte 0/]);
    cases.push([['run', 'cora', '--data', data], /ind\.cora\.y: not a valid pickle/]);
  }
  for (const [args, msg] of cases) {
    const r = rbp([...args, '--backend', 'wasm']);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('rbp: '));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], msg);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, 'no internal error, no stack trace');
  }
});

test('--json | head -c 100: a closed output (EPIPE) stops the run, recorded as cancelled; no crash, nothing left running', async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-pipe-')), 'rec');
  const child = spawn(process.execPath, [cli, 'run', 'hopfield', '--json', '--steps', '200', '--out', out, ...smoke], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // What `head -c 100` does: read 100 bytes, then close the pipe.
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.destroy();
  const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
  const code = await exited;
  clearTimeout(timer);
  // Mutant check: without the stream 'error' handler the process died of an unhandled 'error'
  // event (exit 1, a stack trace) and run.json stayed 'running'.
  assert.equal(code, 141, stderr);
  assert.doesNotMatch(stderr, /Unhandled|\n\s+at /);
  const { description, events } = readRun(out);
  assert.equal(description?.status, 'cancelled');
  assert.ok(events.some((e) => e.type === 'log' && /the output was closed \(EPIPE\)/.test(e.text)));
  assert.ok((description?.summary?.steps_done as number) < 200);
});
