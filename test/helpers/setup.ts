import * as fs from 'fs';
import * as path from 'path';
import { test } from 'node:test';
import { selectBackend, BackendName } from '../../src/core/backend';
import { tf } from '../../src/core/tf';

/** Use the project's default fast backend (wasm), or RBP_TEST_BACKEND. */
export async function useBackend(): Promise<void> {
  const name = (process.env.RBP_TEST_BACKEND ?? 'wasm') as BackendName;
  await selectBackend(name);
}

/** Random direction(s) shaped like the given tensors, unit norm overall. */
export function randomDirection(like: tf.Tensor[], seed = 11): tf.Tensor[] {
  return tf.tidy(() => {
    const ds = like.map((x, i) => tf.randomNormal(x.shape, 0, 1, 'float32', seed + i));
    const n = Math.sqrt(ds.reduce((s, d) => s + tf.sum(tf.square(d)).dataSync()[0], 0));
    return ds.map((d) => tf.div(d, n));
  });
}

export function dotAll(a: tf.Tensor[], b: tf.Tensor[]): number {
  return a.reduce((s, x, i) => s + tf.tidy(() => tf.sum(tf.mul(x, b[i])).dataSync()[0]), 0);
}

/** The repository root (the folder with package.json above the running test bundle). */
export const repoRoot = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

/** ../shared beside the checkout (read-only data: Planetoid files); RBP_SHARED_DIR points elsewhere. */
export const sharedDir = path.resolve(process.env.RBP_SHARED_DIR ?? path.join(repoRoot, '..', 'shared'));

/** ../shared/data/planetoid (tests and CI read Cora from there). */
export const planetoidDir = path.join(sharedDir, 'data', 'planetoid');

/** The Planetoid Cora files the Cora tests read. */
export const CORA_FILES = ['x', 'y', 'tx', 'ty', 'allx', 'ally', 'graph', 'test.index'].map((s) => `ind.cora.${s}`);

/**
 * The `skip` of tests that need what this machine lacks (`reason` says what): a local run skips
 * them and says why; a CI run (CI=true) skips them too but adds a failing test, "`what` (required
 * in CI)", whose error is `reason: ci`, so that CI never passes with them skipped. Call once per
 * suite, at load.
 */
export function skipOrFailInCi(what: string, reason: string, ci: string): string {
  if (process.env.CI === 'true') {
    test(`${what} (required in CI)`, () => {
      throw new Error(`${reason}: ${ci}`);
    });
  }
  return `${reason} (a local run skips these tests; CI fails)`;
}

/** The `skip` of the tests that need the Cora files of ../shared: false when they are all there, else skipOrFailInCi naming the missing files. */
export function coraSkip(): false | string {
  const missing = CORA_FILES.filter((f) => !fs.existsSync(path.join(planetoidDir, f)));
  if (!missing.length) return false;
  const reason = `the Planetoid Cora files ${missing.join(', ')} are not in ${planetoidDir}`;
  return skipOrFailInCi('the shared Cora data this suite needs is present', reason, 'CI runs every Cora test (.ci/run checks for the files up front)');
}
