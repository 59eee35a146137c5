/**
 * The library on its own: examples/library.mjs imports 'rbp-lab' (package.json `exports` →
 * dist/lib.js) in plain Node — no VS Code, no CLI — and gets a fixed point, ρ(J) and every method's
 * gradient against `exact`, which this test holds to what the methods must do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../helpers/setup';

test('examples/library.mjs runs on the library entry and its numbers are right', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { main: string; exports: Record<string, { default?: string; types: string }> };
  assert.equal(pkg.main, './dist/extension.js', "VS Code's entry is unchanged");
  assert.equal(pkg.exports['.'].default, './dist/lib.js');
  for (const e of Object.values(pkg.exports)) if (typeof e === 'object') assert.ok(fs.existsSync(path.join(repoRoot, e.types)), `${e.types} exists`);
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'examples', 'library.mjs'), '--json'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const { rho, rows } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { rho: number; rows: { method: string; K: number | null; relErr: number }[] };
  assert.ok(rho > 0.5 && rho < 1, `ρ(J) = ${rho}`);
  const err = (m: string, K: number | null) => rows.find((x) => x.method === m && x.K === K)!.relErr;
  assert.ok(err('BPTT', null) < 1e-4, `BPTT ${err('BPTT', null)}`);
  for (const m of ['TBPTT', 'RBP', 'CG_RBP', 'Neumann_RBP']) {
    assert.ok(err(m, 20) < 1e-2, `${m} K=20: ${err(m, 20)}`);
    assert.ok(err(m, 5) > err(m, 20), `${m}: K=5 is worse than K=20`);
  }
});
