/**
 * Your own model from the command line: `rbp init-model DIR` then `rbp run DIR/…rbp.yaml` trains it
 * and `rbp gradcheck` checks it; a bad module is one line naming the user's file and line, exit
 * code 2, and the recorded run keeps the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readRun } from '../../src/run/recorder';
import { repoRoot } from '../helpers/setup';
import { writeBadModule, PATCH_LINE } from '../helpers/modules';

const cli = path.join(repoRoot, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-module-cli-'));

function rbp(args: string[], cwd = tmp) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120000, cwd });
}

test('rbp init-model DIR writes a model that rbp run trains and rbp gradcheck checks', () => {
  const init = rbp(['init-model', 'mine']);
  assert.equal(init.status, 0, init.stderr);
  assert.match(init.stdout, /run it: rbp run mine\/deq_two_moons\.rbp\.yaml/);
  for (const f of ['deq_two_moons.mjs', 'deq_two_moons.rbp.yaml', 'rbp-model.d.ts']) assert.ok(fs.existsSync(path.join(tmp, 'mine', f)), f);
  const again = rbp(['init-model', 'mine']);
  assert.equal(again.status, 2);
  assert.match(again.stderr.split('\n')[0], /^rbp: .*deq_two_moons\.mjs.* already exist; not overwriting/);

  const out = path.join(tmp, 'run1');
  const run = rbp(['run', 'mine/deq_two_moons.rbp.yaml', '--steps', '3', '--method', 'CG_RBP', '--truncate', '5', '--backend', 'wasm', '--out', out]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^completed in .* module=deq_two_moons\.mjs/);
  const rec = readRun(out);
  assert.equal(rec.description?.status, 'completed');
  assert.equal(rec.events.filter((e) => e.type === 'metrics' && e.kind === 'train').length, 3);

  // Issue 11's generic checkpoints cover it (parameters and the optimiser's state): resume, gradcheck --from.
  assert.ok(rec.events.some((e) => e.type === 'checkpoint'), 'a checkpoint was written');
  const resumed = rbp(['run', 'mine/deq_two_moons.rbp.yaml', '--steps', '5', '--backend', 'wasm', '--resume', out, '--out', path.join(tmp, 'run2')]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(readRun(path.join(tmp, 'run2')).events.filter((e) => e.type === 'metrics' && e.kind === 'train').length, 2, 'steps 4 and 5 after the 3 resumed');
  const from = rbp(['gradcheck', 'mine/deq_two_moons.rbp.yaml', '--from', out, '--truncate', '5', '--method', 'RBP', '--backend', 'wasm']);
  assert.equal(from.status, 0, from.stderr);

  const gc = rbp(['gradcheck', 'mine/deq_two_moons.rbp.yaml', '--truncate', '5,40', '--method', 'Neumann_RBP', '--backend', 'wasm', '--json']);
  assert.equal(gc.status, 0, gc.stderr);
  const report = JSON.parse(gc.stdout) as { rows: { method: string; K: number | null; relErrExact: number }[]; rho: number };
  const err = (K: number) => report.rows.find((r) => r.method === 'Neumann_RBP' && r.K === K)!.relErrExact;
  assert.ok(err(5) > err(40), `Neumann-RBP K=5 ${err(5)} vs K=40 ${err(40)}`);
  assert.ok(report.rho > 0 && report.rho < 1);
});

test('a bad model module: one line with the file and line, exit code 2, the reason recorded', () => {
  for (const [name, opts, line] of [
    ['syntax', { source: 'export default function () {\n  return 1 +;\n}\n' }, 2],
    ['impure', { patch: 'system.step = (h, w) => tf.tidy(() => [tf.add(tf.matMul(h[0], w[0]), tf.randomNormal([2, 4]))]);' }, undefined],
    ['throws', { patch: "const ok = system.step;\n  system.step = (h, w, t, p) => {\n    if (++calls > 200) throw new Error('step exploded');\n    return ok(h, w, t, p);\n  };", steps: 50 }, PATCH_LINE + 2],
  ] as const) {
    const { config, file } = writeBadModule(path.join(tmp, 'bad'), name, opts);
    const out = path.join(tmp, `bad-${name}`);
    const r = rbp(['run', config, '--backend', 'wasm', '--out', out]);
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    const first = r.stderr.trim().split('\n').filter((l) => l.startsWith('rbp: '));
    assert.equal(first.length, 1, r.stderr);
    assert.ok(first[0].startsWith(`rbp: ${file}${line ? `:${line}:` : ':'}`), `${name}: ${first[0]}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    const rec = readRun(out);
    assert.equal(rec.description?.status, 'failed', name);
    assert.ok(rec.description?.reason?.includes(file), `${name}: recorded reason ${rec.description?.reason}`);
    if (name === 'throws') assert.ok(rec.events.some((e) => e.type === 'metrics' && e.kind === 'train'), 'the steps before the throw are kept');
  }
});
