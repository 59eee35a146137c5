/**
 * The graph of message passing in compressed sparse rows (both directions), and the kernel that
 * sums in-neighbour rows over it (wasm SIMD where the kernels load, else JS; registered in `./fused.ts`).
 */
import { tf } from '../tf';
import { wasmKernels, offsetOf, withHeapTemps, orRelease, usablePool, K_CSR } from '../wasm/module';
import { splitRows } from '../wasm/pool';
import { positiveInt } from '../wasm/gemm';
import type { WasmBackendLike, WasmKernels } from '../wasm/module';
import { produce, sizeOf as size, view, type KernelArgs } from '../kernelViews';

type TensorInfo = tf.TensorInfo;

/** Compressed sparse rows: row i sums the rows col[ptr[i]] … col[ptr[i+1] − 1] of x. */
export interface Csr {
  rows: number;
  ptr: Int32Array;
  col: Int32Array;
}

/** A directed graph in both directions: `fwd` is A (row i = Σ_{j→i} x_j), `bwd` is Aᵀ. */
export interface CsrGraph {
  numNodes: number;
  fwd: Csr;
  bwd: Csr;
}

/**
 * Group edges by `row` keeping their original order within a row (a stable counting sort), so
 * that each output row adds its terms in the same order as a segment sum over the edge list: the
 * CSR product is bit-identical to gather + unsortedSegmentSum.
 */
function csrBy(row: Int32Array, col: Int32Array, n: number): Csr {
  const ptr = new Int32Array(n + 1);
  for (let e = 0; e < row.length; e++) ptr[row[e] + 1]++;
  for (let i = 0; i < n; i++) ptr[i + 1] += ptr[i];
  const fill = ptr.slice(0, n);
  const out = new Int32Array(row.length);
  for (let e = 0; e < row.length; e++) out[fill[row[e]]++] = col[e];
  return { rows: n, ptr, col: out };
}

/** The CSR forms of the edge list src[e] → dst[e] over numNodes nodes (ids must be in range). */
export function csrGraph(src: Int32Array, dst: Int32Array, numNodes: number): CsrGraph {
  if (src.length !== dst.length) throw new Error('csrGraph: src and dst differ in length');
  for (let e = 0; e < src.length; e++) {
    if (!(src[e] >= 0 && src[e] < numNodes && dst[e] >= 0 && dst[e] < numNodes)) throw new Error(`csrGraph: edge ${e} (${src[e]} → ${dst[e]}) is not in [0, ${numNodes})`);
  }
  return { numNodes, fwd: csrBy(dst, src, numNodes), bwd: csrBy(src, dst, numNodes) };
}

export const CSR_KERNEL = 'RbpCsrRowSum';

/** Sums of at least this many floats (edges × row width) are split across the kernel pool (RBP_LAB_SPLIT_CSR). */
export const SPLIT_CSR = positiveInt(process.env.RBP_LAB_SPLIT_CSR, 1 << 18);

/** Heap bytes `csrRowSumHeap` needs for a CSR's ptr and col arrays. */
export const csrHeapBytes = (csr: Csr): number => (csr.ptr.length + csr.col.length) * 4;

/**
 * out = A x on the heap (x and out byte offsets, rows of `inner` floats) through the wasm kernel
 * `csr_rowsum`, the CSR arrays copied to `at` first (≥ csrHeapBytes; ~50 KB for Cora: microseconds).
 * With a kernel pool and at least SPLIT_CSR floats to sum, rows are split by edge count across its
 * threads; each row is summed by the same code in the same edge order, so the result is the same.
 */
export function csrRowSumHeap(wk: WasmKernels, at: number, csr: Csr, x: number, out: number, inner: number): void {
  const heap = new Int32Array(wk.memory.buffer);
  heap.set(csr.ptr, at / 4);
  heap.set(csr.col, at / 4 + csr.ptr.length);
  const col = at + csr.ptr.length * 4;
  const pool = usablePool(wk);
  if (pool && csr.col.length * inner >= SPLIT_CSR) {
    const parts = splitRows(csr.rows, pool.threads, 1, (i0, i1) => csr.ptr[i1] - csr.ptr[i0]);
    pool.run(parts.map(([i0, i1]) => [[K_CSR, at + i0 * 4, col, x, out + i0 * inner * 4, i1 - i0, inner]]));
  } else wk.fns.csr_rowsum(at, col, x, out, csr.rows, inner);
}

/** (A x)_i, or (Aᵀ x)_i with `transpose`, over the rows of x: the wasm kernel where it is loaded, else JS. */
export function csrRowSumKernel(args: KernelArgs): TensorInfo {
  const { x } = args.inputs;
  const attrs = (args.attrs ?? {}) as { graph: CsrGraph; transpose: boolean };
  const csr = attrs.transpose ? attrs.graph.bwd : attrs.graph.fwd;
  if (x.dtype !== 'float32') throw new Error(`${CSR_KERNEL}: float32 only, got ${x.dtype}`);
  if (x.shape[0] !== attrs.graph.numNodes) throw new Error(`${CSR_KERNEL}: x has ${x.shape[0]} rows, the graph ${attrs.graph.numNodes} nodes`);
  const inner = size(x.shape.slice(1));
  const wk = wasmKernels(args.backend);
  if (wk) {
    const backend = args.backend as WasmBackendLike; // wasmKernels answers only for the wasm backend
    const out = backend.makeOutput([csr.rows, ...x.shape.slice(1)], 'float32');
    return orRelease(backend, [out], () =>
      withHeapTemps(backend, csrHeapBytes(csr), (s) => {
        csrRowSumHeap(wk, s, csr, offsetOf(backend, x), offsetOf(backend, out), inner);
        return out;
      }),
    );
  }
  return produce(args.backend, [csr.rows, ...x.shape.slice(1)], 'float32', false, (o32) => csrRowSumInto(o32 as Float32Array, view(args.backend, x) as Float32Array, csr, inner));
}

/**
 * out[i] = Σ_e x[col[e]] over row i's edges, in edge order with float32 rounding after every
 * addition (as the segment-sum kernel): the first term copied, the others added, 8 lanes unrolled.
 */
function csrRowSumInto(out: Float32Array, xv: Float32Array, csr: Csr, inner: number): void {
  const { ptr, col, rows } = csr;
  const i8 = inner - (inner % 8);
  for (let i = 0; i < rows; i++) {
    const o = i * inner;
    const e0 = ptr[i];
    const end = ptr[i + 1];
    if (e0 === end) {
      out.fill(0, o, o + inner);
      continue;
    }
    const s0 = col[e0] * inner;
    out.set(xv.subarray(s0, s0 + inner), o);
    for (let e = e0 + 1; e < end; e++) {
      const s = col[e] * inner;
      let k = 0;
      for (; k < i8; k += 8) {
        const a = o + k;
        const b = s + k;
        out[a] += xv[b];
        out[a + 1] += xv[b + 1];
        out[a + 2] += xv[b + 2];
        out[a + 3] += xv[b + 3];
        out[a + 4] += xv[b + 4];
        out[a + 5] += xv[b + 5];
        out[a + 6] += xv[b + 6];
        out[a + 7] += xv[b + 7];
      }
      for (; k < inner; k++) out[o + k] += xv[s + k];
    }
  }
}
