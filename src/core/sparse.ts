/**
 * Sparse matrices in compressed sparse rows, built from dense float32 data: the hypergradient's
 * sparse MNIST inputs (experiments/hypergrad) and the PCA of Cora's bag-of-words features
 * (experiments/citation-gnn/pca.ts). (The message-passing graph, which has no values, is `Csr` in
 * ./kernels/csr.ts.)
 */

/** Compressed sparse rows of an [n, d] matrix: row i's nonzeros are val[e] at column col[e], ptr[i] ≤ e < ptr[i + 1]. */
export interface CsrMatrix {
  rows: number;
  cols: number;
  ptr: Int32Array;
  col: Int32Array;
  val: Float32Array;
}

/** The CSR form of a row-major [n, d] matrix. */
export function toCsr(x: Float32Array, n: number, d: number): CsrMatrix {
  let nnz = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== 0) nnz++;
  const ptr = new Int32Array(n + 1);
  const col = new Int32Array(nnz);
  const val = new Float32Array(nnz);
  let e = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const v = x[i * d + j];
      if (v !== 0) {
        col[e] = j;
        val[e++] = v;
      }
    }
    ptr[i + 1] = e;
  }
  return { rows: n, cols: d, ptr, col, val };
}
