/**
 * A data batch's inputs in sparse form for the fused kernels (`./fused`): x = raw − 1·μᵀ with raw
 * mostly zeros (`Dataset.sparse`), so the first layer's products become a sparse product plus a
 * rank-one correction,
 *   x·V + b = raw·V + (b − μᵀV),      xᵀD = rawᵀD − μ·(1ᵀD),
 * each a call of the `csr_mm` wasm kernel: raw by rows, raw by columns (its transpose, for xᵀD),
 * and μ as a 1 × d row (μᵀV) and as a d × 1 column (μ·(1ᵀD)), all held on the heap as two kept
 * tensors (int32 indices, float32 values, −μ for the correction) for the batch's lifetime.
 * The transpose is cut into blocks of `T_BLOCK` batch rows (raw's rows: rawᵀ's columns), one CSR
 * each, summed one after another: each gathers rows of D from a block of ≤ T_BLOCK·N floats that
 * stays in the core's L2 cache, instead of from all of D (2 MB for the full set's 10,000 × 50).
 */
import { tf, Tensor } from '../../core/tf';
import { SparseInputs, csrColumnBlocks, csrRows, csrTranspose } from './data';
import type { CsrMatrix } from '../../core/sparse';

/** Where each CSR's arrays start (elements) in the batch's index and value tensors. */
export interface SparseLayout {
  /** Rows of the batch and features. */
  n: number;
  d: number;
  /**
   * raw [n, d] by rows, rawᵀ [d, n] by rows in blocks of T_BLOCK columns (rawᵀ = Σ blocks; column
   * indices stay those of rawᵀ), μᵀ as one row [1, d], μ as one column [d, 1]: ptr and col in
   * `idx`, values in `val` (μ's negated).
   */
  raw: CsrAt;
  rawT: CsrAt[];
  meanRow: CsrAt;
  meanCol: CsrAt;
  idxLength: number;
  valLength: number;
}

export interface CsrAt {
  rows: number;
  ptr: number;
  col: number;
  val: number;
}

export interface SparseBatch {
  layout: SparseLayout;
  /** int32: every CSR's ptr and col. */
  idx: Tensor;
  /** float32: raw's values (by rows, by columns) and −μ. */
  val: Tensor;
}

/**
 * Batch rows per block of the transpose. rawᵀ·D of the full MNIST set (784 × 10,000 at 19 %
 * nonzero, N = 50), CPU ms per product, median of 6 × 10, load 6–7: one block 10.5–12.1; blocks
 * of 2048 rows 7.9, 1024 7.6, 512 7.2, 256 6.5, 128 6.8, 64 7.8 (256 × 50 floats of D, 50 KiB,
 * stay in L1/L2 while every row of rawᵀ gathers from them). Cutting raw·V by columns the same way
 * gained nothing (5.8 ms whole, 5.8–6.3 in blocks): V (157 KiB) already stays in L2.
 */
export const T_BLOCK = 256;

/** The sparse form of the rows `rows` of a dataset's inputs (kept tensors: dispose with the batch). */
export function sparseBatch(sp: SparseInputs, rows: ArrayLike<number>, tBlock = T_BLOCK): SparseBatch {
  const raw = csrRows(sp.raw, rows);
  const rawT = csrColumnBlocks(csrTranspose(raw), tBlock);
  const d = sp.raw.cols;
  const iota = (m: number) => Int32Array.from({ length: m }, (_, i) => i);
  const neg = sp.mean.map((v) => -v);
  const meanRow: CsrMatrix = { rows: 1, cols: d, ptr: Int32Array.of(0, d), col: iota(d), val: neg };
  const meanCol: CsrMatrix = { rows: d, cols: 1, ptr: iota(d + 1), col: new Int32Array(d), val: neg };
  const idxParts: Int32Array[] = [];
  const valParts: Float32Array[] = [];
  let ni = 0;
  let nv = 0;
  const place = (m: CsrMatrix, shareValues?: CsrAt): CsrAt => {
    const at = { rows: m.rows, ptr: ni, col: ni + m.ptr.length, val: shareValues?.val ?? nv };
    idxParts.push(m.ptr, m.col);
    ni += m.ptr.length + m.col.length;
    if (!shareValues) {
      valParts.push(m.val);
      nv += m.val.length;
    }
    return at;
  };
  const rawAt = place(raw);
  const rawTAt = rawT.map((m) => place(m));
  const rowAt = place(meanRow);
  const colAt = place(meanCol, rowAt); // the same −μ values
  const idx = new Int32Array(ni);
  const val = new Float32Array(nv);
  let o = 0;
  for (const p of idxParts) {
    idx.set(p, o);
    o += p.length;
  }
  o = 0;
  for (const p of valParts) {
    val.set(p, o);
    o += p.length;
  }
  return {
    layout: { n: raw.rows, d, raw: rawAt, rawT: rawTAt, meanRow: rowAt, meanCol: colAt, idxLength: ni, valLength: nv },
    idx: tf.keep(tf.tensor1d(idx, 'int32')),
    val: tf.keep(tf.tensor1d(val, 'float32')),
  };
}
