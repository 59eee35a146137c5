/**
 * README's generated result blocks stay machine-checkable: every `<!-- results NAME: COMMAND -->`
 * block has a renderer in scripts/readme-results.mjs and its commands are quoted in the text next to
 * it (`--lint` runs no command; `npm run readme:check` reruns them). Mutant caught: a README edit that
 * changes a quoted command without its marker (or the reverse), so that the check would rerun
 * something else than what a reader sees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from '../helpers/setup';

const script = path.join(repoRoot, 'scripts', 'readme-results.mjs');

test('every results block of the README has a renderer and its command quoted beside it', () => {
  const r = spawnSync(process.execPath, [script, '--lint'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const n = Number(/^(\d+) blocks/m.exec(r.stdout)?.[1]);
  assert.ok(n >= 8, `README blocks: ${r.stdout}`);
});

test('a marker whose command the README does not quote is reported', () => {
  // The script reads README.md beside it: run a copy of both in a scratch folder.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-readme-'));
  try {
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(script, path.join(dir, 'scripts', 'readme-results.mjs'));
    const text = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8').replace('`node dist/cli.js gradcheck hopfield --truncate 5,20`', '`node dist/cli.js gradcheck hopfield --truncate 5,10`');
    fs.writeFileSync(path.join(dir, 'README.md'), text);
    const r = spawnSync(process.execPath, [path.join(dir, 'scripts', 'readme-results.mjs'), '--lint'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /gradcheck-hopfield: the command 'node dist\/cli\.js gradcheck hopfield --truncate 5,20' is not quoted in the README next to its block/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
