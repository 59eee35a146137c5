/**
 * Tests that need the shared Cora files skip without them on a developer's machine (saying so) and
 * fail without them in CI (CI=true), so that a CI run never passes with them skipped. Runs the
 * pickle suite (fast, with Cora and non-Cora tests) against a folder without the data. The same for
 * the webview tests without Chromium (the runs-list suite, RBP_CHROMIUM naming no binary).
 * Mutants caught: coraSkip returning its skip reason in CI as well (CI would pass, skipping);
 * chromiumSkip a plain skip reason, as it was (the webview tests skipped silently in CI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from '../helpers/setup';

const suite = path.join(repoRoot, 'out', 'test', 'experiments', 'pickle.test.js');

/** Run a test bundle with `CI` set or not and `env` added. */
function runSuite(file: string, ci: boolean, more: NodeJS.ProcessEnv): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, ...more };
  delete env.CI;
  delete env.NODE_TEST_CONTEXT; // set for test files run by node --test: the child would report to us, not print
  if (ci) env.CI = 'true';
  const r = spawnSync(process.execPath, ['--test', file], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function runWithout(ci: boolean): { status: number | null; out: string } {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-no-shared-'));
  try {
    return runSuite(suite, ci, { RBP_SHARED_DIR: empty });
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
}

test('without ../shared a local run skips the Cora tests and says which files are missing', () => {
  const r = runWithout(false);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /# SKIP the Planetoid Cora files ind\.cora\.x, .*ind\.cora\.test\.index are not in .*rbp-no-shared-.* \(a local run skips these tests; CI fails\)/);
  assert.match(r.out, /# skipped 2/);
  assert.match(r.out, /# fail 0/);
});

test('without ../shared a CI run fails, naming the missing files', () => {
  const r = runWithout(true);
  assert.notEqual(r.status, 0, r.out);
  assert.match(r.out, /not ok \d+ - the shared Cora data this suite needs is present \(required in CI\)/);
  assert.match(r.out, /ind\.cora\.graph.*CI runs every Cora test/);
  assert.match(r.out, /# fail 1/);
});

const webviewSuite = path.join(repoRoot, 'out', 'test', 'webview', 'runsUpdate.test.js');
const noChromium = { RBP_CHROMIUM: path.join(os.tmpdir(), 'rbp-no-chromium', 'chromium') };

test('without Chromium a local run skips the webview tests and says so', () => {
  const r = runSuite(webviewSuite, false, noChromium);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /# SKIP .*rbp-no-chromium\/chromium is absent \(apt-get install -y chromium\) \(a local run skips these tests; CI fails\)/);
  assert.match(r.out, /# fail 0/);
});

test('without Chromium a CI run fails', () => {
  const r = runSuite(webviewSuite, true, noChromium);
  assert.notEqual(r.status, 0, r.out);
  assert.match(r.out, /not ok \d+ - Chromium for the webview tests is installed \(required in CI\)/);
  assert.match(r.out, /# fail 1/);
});
