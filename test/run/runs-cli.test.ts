/** `rbp runs`: the runs table of a runs root from real recorded runs, as text and as JSON; an unreadable record hides nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readRun } from '../../src/run/recorder';
import { fmtValue, type RunRow } from '../../src/shared/runsTable';
import { repoRoot } from '../helpers/setup';

const cli = path.join(repoRoot, 'dist', 'cli.js');
const smoke = ['--set', 'dataset.num_imgs=2', '--backend', 'wasm', '--steps', '3'];
const rbp = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 180000 });

test('rbp runs lists every recorded run with its numbers from run.json, the differing config keys, and an unreadable record as such', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-runs-'));
  const recorded = [
    ['--method', 'BPTT', '--set', 'train.lr=1e-3', '--set', 'model.num_update=10', '--probe-every', '1'],
    ['--method', 'Neumann_RBP', '--truncate', '4', '--set', 'train.lr=1e-4', '--set', 'model.num_update=10'],
    ['--method', 'TBPTT', '--truncate', '3', '--set', 'train.lr=1e-2', '--set', 'model.num_update=12'],
  ];
  for (const args of recorded) {
    const r = rbp(['run', 'hopfield', ...smoke, ...args, '--runs-dir', root]);
    assert.equal(r.status, 0, r.stderr);
  }
  // A folder whose run.json is torn: listed as unreadable, and every other run still listed.
  fs.mkdirSync(path.join(root, 'broken-run'));
  fs.writeFileSync(path.join(root, 'broken-run', 'run.json'), '{"runId": "broken-run", "sta');

  const j = rbp(['runs', '--runs-dir', root, '--json']);
  assert.equal(j.status, 0, j.stderr);
  const out = JSON.parse(j.stdout) as { differingKeys: string[]; runs: RunRow[] };
  assert.equal(out.runs.length, 4);
  const broken = out.runs.find((r) => r.runId === 'broken-run');
  assert.match(broken?.unreadable ?? '', /not JSON/);
  assert.deepEqual(out.differingKeys, ['model.num_update'], 'the one config key that differs besides the columns of their own (lr, method, K)');
  const dirs = fs.readdirSync(root).filter((n) => n !== 'broken-run');
  for (const id of dirs) {
    const row = out.runs.find((r) => r.runId === id)!;
    const { description, events } = readRun(path.join(root, id));
    const train = events.filter((e) => e.type === 'metrics' && e.kind === 'train');
    const lastTrain = train.at(-1)!;
    assert.equal(row.status, 'completed');
    assert.equal(row.method, description!.method);
    assert.equal(row.K, description!.K);
    assert.equal(row.lr, (description!.config.train as { lr: number }).lr);
    assert.equal(row.seed, 1234);
    assert.equal(row.T, description!.T);
    assert.deepEqual([row.stepsDone, row.stepsPlanned], [3, 3]);
    assert.ok(lastTrain.type === 'metrics');
    assert.deepEqual(row.finalLoss, { step: 2, value: lastTrain.values.loss }, 'the last recorded train loss');
    const lastEval = events.filter((e) => e.type === 'metrics' && e.kind === 'eval').at(-1)!;
    assert.ok(lastEval.type === 'metrics');
    assert.deepEqual(row.finalEval, { step: lastEval.step, name: 'retrieval_bit_err', value: lastEval.values.retrieval_bit_err });
    const diag = events.filter((e) => e.type === 'diagnostics').at(-1)!;
    assert.ok(diag.type === 'diagnostics');
    assert.deepEqual(row.lastRho, { step: diag.step, value: diag.rho, verdict: diag.verdict.level });
    const probes = events.filter((e) => e.type === 'probe');
    if (row.method === 'BPTT') {
      assert.equal(probes.length, 3, 'a probe every step');
      const p = probes.at(-1)!;
      assert.ok(p.type === 'probe');
      assert.deepEqual(row.lastProbe, { step: 2, relErrExact: p.relErrExact, method: 'BPTT' });
    } else assert.equal(row.lastProbe, null);
    assert.deepEqual(row.checkpoints, [3], 'the final checkpoint');
    assert.equal(row.config['model.num_update'], row.method === 'TBPTT' ? 12 : 10);
  }

  const t = rbp(['runs', '--runs-dir', root]);
  assert.equal(t.status, 0, t.stderr);
  const lines = t.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 5, 'a header and one line per run');
  for (const h of ['name', 'experiment', 'status', 'method', 'K', 'T', 'lr', 'seed', 'steps', 'duration', 'final loss', 'final eval', 'ρ(J) @ step', 'grad err vs exact @ step', 'model.num_update']) assert.ok(lines[0].includes(h), `header has ${h}: ${lines[0]}`);
  assert.match(t.stdout, /broken-run\s+broken-run\s+unreadable/);
  for (const r of out.runs.filter((x) => !x.unreadable)) {
    const line = lines.find((l) => l.startsWith(r.runId))!;
    assert.ok(line, `a line for ${r.runId}`);
    assert.match(line, new RegExp(`\\s${r.method}\\s+${r.K ?? '–'}\\s+${r.T}\\s+${fmtValue(r.lr).replace('.', '\\.')}\\s+1234\\s+3/3\\s`));
    assert.match(line, new RegExp(`retrieval_bit_err \\S+ +\\S+ @ 2`), 'the eval, then ρ(J) as of step 2');
  }
});

test('rbp runs: a missing runs folder or a foreign option is one line and exit code 2', () => {
  const missing = path.join(os.tmpdir(), 'rbp-runs-none-' + process.pid);
  const r = rbp(['runs', '--runs-dir', missing]);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /no runs folder at .*rbp-runs-none/);
  const f = rbp(['runs', '--steps', '3']);
  assert.equal(f.status, 2);
  assert.match(f.stderr.split('\n')[0], /runs takes --runs-dir and --json; got --steps/);
});
