import * as fs from 'fs';
import * as path from 'path';
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

/** ../shared/data/planetoid beside the checkout (tests and CI read Cora from there). */
export const planetoidDir = path.resolve(repoRoot, '..', 'shared', 'data', 'planetoid');
