/**
 * Fast JS kernels for the two graph primitives of message passing: `GatherV2` (row gather) and
 * `UnsortedSegmentSum` (scatter-add), registered for the `cpu` and `wasm` backends.
 *
 * Why: tfjs-backend-wasm has no UnsortedSegmentSum at all, tfjs-backend-cpu's costs O(N·E·D) time
 * and memory (one mask per segment), and GatherV2 is slow on both. The gradients tfjs registers
 * (gather → unsortedSegmentSum, unsortedSegmentSum → gather) run through these kernels too.
 *
 * These replace the kernels for every caller, so they implement the general cases tfjs supports
 * (any rank, any axis, batchDims; segment ids of any rank that prefix x's shape; float32 / int32 /
 * bool data) and hand anything else (string, complex64, non-int32 indices) to the original kernel
 * looked up before replacing it.
 */
import { tf } from './tf';
import { wasmKernels, offsetOf, withHeapTemps, orRelease } from './wasm/module';
import type { WasmBackendLike } from './wasm/module';
import { arrayCtor, produce, sizeOf as size, view } from './kernelViews';

type TensorInfo = tf.TensorInfo;
type KernelConfig = tf.KernelConfig;
type KernelArgs = { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> };

export const GRAPH_KERNEL_BACKENDS = ['cpu', 'wasm'] as const;
const KERNEL_NAMES = ['GatherV2', 'UnsortedSegmentSum'] as const;
type KernelName = (typeof KERNEL_NAMES)[number];

const originals = new Map<string, KernelConfig | undefined>();
const ours = new WeakSet<object>();
const setupDone = new WeakMap<object, Set<string>>();
let registered = false;


function delegate(name: KernelName, backendName: string, args: KernelArgs, why: string): TensorInfo | TensorInfo[] {
  const orig = originals.get(`${backendName}/${name}`);
  if (!orig) throw new Error(`${name} on the ${backendName} backend: ${why}, and the backend has no kernel of its own for it`);
  if (orig.setupFunc && typeof args.backend === 'object' && args.backend !== null) {
    let done = setupDone.get(args.backend);
    if (!done) setupDone.set(args.backend, (done = new Set()));
    if (!done.has(name)) {
      orig.setupFunc(args.backend as never);
      done.add(name);
    }
  }
  return orig.kernelFunc(args as never);
}

function gatherV2(args: KernelArgs, backendName: string): TensorInfo | TensorInfo[] {
  const { x, indices } = args.inputs;
  const attrs = args.attrs ?? {};
  if (!arrayCtor(x.dtype)) return delegate('GatherV2', backendName, args, `dtype ${x.dtype} is not handled by the JS kernel`);
  if (indices.dtype !== 'int32') return delegate('GatherV2', backendName, args, `indices of dtype ${indices.dtype}`);
  const axis = tf.util.parseAxisParam((attrs.axis as number | undefined) ?? 0, x.shape)[0];
  const batchDims = (attrs.batchDims as number | undefined) ?? 0;
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x as never, indices as never, axis, batchDims);
  const { batchSize, outerSize, dimSize, sliceSize, outputShape } = info;
  const nIdx = size(indices.shape);
  {
    const iv = view(args.backend, indices);
    for (let i = 0; i < nIdx; i++) {
      const v = iv[i];
      if (!(v >= 0 && v <= dimSize - 1)) throw new Error(`GatherV2: the index value ${v} is not in [0, ${dimSize - 1}]`);
    }
  }
  const perBatch = batchSize > 0 ? nIdx / batchSize : 0;
  return produce(args.backend, outputShape, x.dtype, false, (out) => {
    const xv = view(args.backend, x);
    const iv = view(args.backend, indices);
    let d = 0;
    for (let b = 0; b < batchSize; b++) {
      for (let o = 0; o < outerSize; o++) {
        const xBase = (b * outerSize + o) * dimSize;
        const iBase = b * perBatch;
        if (sliceSize >= 16) {
          for (let i = 0; i < perBatch; i++, d += sliceSize) {
            const s = (xBase + iv[iBase + i]) * sliceSize;
            out.set(xv.subarray(s, s + sliceSize), d);
          }
        } else {
          for (let i = 0; i < perBatch; i++) {
            const s = (xBase + iv[iBase + i]) * sliceSize;
            for (let k = 0; k < sliceSize; k++) out[d++] = xv[s + k];
          }
        }
      }
    }
  });
}

function unsortedSegmentSum(args: KernelArgs, backendName: string): TensorInfo | TensorInfo[] {
  const { x, segmentIds } = args.inputs;
  const numSegments = (args.attrs ?? {}).numSegments as number;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return delegate('UnsortedSegmentSum', backendName, args, `dtype ${x.dtype} is not handled by the JS kernel`);
  if (segmentIds.dtype !== 'int32') return delegate('UnsortedSegmentSum', backendName, args, `segment ids of dtype ${segmentIds.dtype}`);
  const segRank = segmentIds.shape.length;
  const prefixOk = segRank <= x.shape.length && segmentIds.shape.every((d, i) => d === x.shape[i]);
  if (!prefixOk) {
    throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`);
  }
  if (!(Number.isInteger(numSegments) && numSegments >= 0)) throw new Error(`UnsortedSegmentSum: numSegments must be a non-negative integer, got ${numSegments}`);
  const inner = size(x.shape.slice(segRank));
  const n = size(segmentIds.shape);
  const outShape = [numSegments, ...x.shape.slice(segRank)];
  return produce(args.backend, outShape, x.dtype, true, (out) => {
    const xv = view(args.backend, x);
    const sv = view(args.backend, segmentIds);
    for (let e = 0; e < n; e++) {
      const s = sv[e];
      if (s < 0 || s >= numSegments) continue; // dropped, as in TensorFlow
      const o = s * inner;
      const xo = e * inner;
      for (let k = 0; k < inner; k++) out[o + k] += xv[xo + k];
    }
  });
}

/**
 * Gradient of UnsortedSegmentSum w.r.t. x: dy gathered at the segment ids, zero where an id was
 * dropped. tfjs's own builds the mask with a broadcast logicalAnd against ones([E, D]) that costs
 * ~60 ms for E = 10,858, D = 64 (40× the gather itself); this one skips the mask when every id is
 * in range (checked on the ids, which live in host memory on cpu and wasm). Built from ops, so it is
 * differentiable again (second order: gather → segment sum).
 */
const segmentSumGrad: tf.GradConfig = {
  kernelName: 'UnsortedSegmentSum',
  inputsToSave: ['segmentIds'],
  gradFunc: (dy, saved) => {
    const [segmentIds] = saved;
    const g = dy as tf.Tensor;
    return {
      x: () => {
        const numSegments = g.shape[0];
        const backendName = tf.getBackend();
        if (backendName === 'cpu' || backendName === 'wasm') {
          const ids = segmentIds.dataSync();
          let allValid = true;
          for (let i = 0; i < ids.length; i++) {
            if (!(ids[i] >= 0 && ids[i] < numSegments)) {
              allValid = false;
              break;
            }
          }
          if (allValid) return tf.gather(g, segmentIds);
        }
        const clipped = tf.clipByValue(segmentIds, 0, Math.max(0, numSegments - 1));
        const gathered = tf.gather(g, clipped);
        let mask: tf.Tensor = tf.cast(tf.logicalAnd(tf.greaterEqual(segmentIds, 0), tf.less(segmentIds, numSegments)), gathered.dtype);
        while (mask.rank < gathered.rank) mask = tf.expandDims(mask, -1);
        return tf.mul(gathered, mask);
      },
    };
  },
};
let originalSegmentSumGrad: tf.GradConfig | undefined;
let gradReplaced = false;

const IMPLS: Record<KernelName, (args: KernelArgs, backendName: string) => TensorInfo | TensorInfo[]> = {
  GatherV2: gatherV2,
  UnsortedSegmentSum: unsortedSegmentSum,
};

/**
 * Register the JS GatherV2 / UnsortedSegmentSum kernels for cpu and wasm. Idempotent: a kernel
 * already ours is left alone; the replaced kernel is kept and used for cases the JS one does not handle.
 */
export function registerGraphKernels(backends: readonly string[] = GRAPH_KERNEL_BACKENDS): void {
  for (const b of backends) {
    for (const name of KERNEL_NAMES) {
      const current = tf.getKernel(name, b);
      if (current && ours.has(current.kernelFunc)) continue;
      originals.set(`${b}/${name}`, current);
      if (current) tf.unregisterKernel(name, b);
      const impl = IMPLS[name];
      const kernelFunc = ((args: KernelArgs) => impl(args, b)) as unknown as tf.KernelFunc;
      ours.add(kernelFunc);
      tf.registerKernel({ kernelName: name, backendName: b, kernelFunc });
    }
  }
  if (!gradReplaced) {
    originalSegmentSumGrad = tf.getGradient('UnsortedSegmentSum');
    tf.registerGradient(segmentSumGrad);
    gradReplaced = true;
  }
  registered = true;
}

/** Put back the kernels registerGraphKernels replaced (for comparisons and tests). */
export function restoreOriginalKernels(backends: readonly string[] = GRAPH_KERNEL_BACKENDS): void {
  for (const b of backends) {
    for (const name of KERNEL_NAMES) {
      const current = tf.getKernel(name, b);
      if (!current || !ours.has(current.kernelFunc)) continue;
      tf.unregisterKernel(name, b);
      const orig = originals.get(`${b}/${name}`);
      if (orig) {
        tf.registerKernel(orig);
        // A backend initialised while ours was registered never ran the original's setup.
        const instance = tf.findBackend(b);
        if (orig.setupFunc && instance) orig.setupFunc(instance as never);
      }
    }
  }
  if (gradReplaced && originalSegmentSumGrad && backends.length === GRAPH_KERNEL_BACKENDS.length) {
    tf.registerGradient(originalSegmentSumGrad);
    gradReplaced = false;
  }
  registered = false;
}

/** True when the JS kernels are the ones registered for this backend. */
export function graphKernelsActive(backendName: string): boolean {
  return KERNEL_NAMES.every((name) => {
    const k = tf.getKernel(name, backendName);
    return !!k && ours.has(k.kernelFunc);
  });
}

/** x[idx] along axis 0 (rows of a matrix). */
export function gatherRows<T extends tf.Tensor>(x: T, idx: tf.Tensor1D | Int32Array | number[]): T {
  if (!registered) registerGraphKernels();
  if (idx instanceof tf.Tensor) return tf.gather(x, idx, 0) as T;
  // The engine keeps its own reference for the gradient, so the temporary can go at once.
  const t = tf.tensor1d(idx instanceof Int32Array ? idx : Int32Array.from(idx), 'int32');
  try {
    return tf.gather(x, t, 0) as T;
  } finally {
    t.dispose();
  }
}

/** out[s] = Σ_{e: segIds[e] = s} x[e], for s < numSegments (rows of a matrix). */
export function segmentSumRows<T extends tf.Tensor>(x: T, segIds: tf.Tensor1D | Int32Array | number[], numSegments: number): T {
  if (!registered) registerGraphKernels();
  if (segIds instanceof tf.Tensor) return tf.unsortedSegmentSum(x, segIds, numSegments);
  const t = tf.tensor1d(segIds instanceof Int32Array ? segIds : Int32Array.from(segIds), 'int32');
  try {
    return tf.unsortedSegmentSum(x, t, numSegments);
  } finally {
    t.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Fused message passing: a CSR "sum of in-neighbour rows" kernel, and a fused squared residual.
// ---------------------------------------------------------------------------------------------

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
export const RESIDUAL_KERNEL = 'RbpSquaredResidual';
const FUSED_BACKENDS = new Set<string>();

function csrRowSumKernel(args: KernelArgs): TensorInfo {
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
    // the CSR arrays are copied into scratch heap per call (~50 KB for Cora: microseconds)
    return orRelease(backend, [out], () =>
      withHeapTemps(backend, (csr.ptr.length + csr.col.length) * 4, (s) => {
        const heap = new Int32Array(wk.memory.buffer);
        heap.set(csr.ptr, s / 4);
        heap.set(csr.col, s / 4 + csr.ptr.length);
        wk.fns.csr_rowsum(s, s + csr.ptr.length * 4, offsetOf(backend, x), offsetOf(backend, out), csr.rows, inner);
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

/** [Σ (a − b)², Σ a²] in one pass, accumulated in float64. */
function squaredResidualKernel(args: KernelArgs): TensorInfo {
  const { a, b } = args.inputs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`${RESIDUAL_KERNEL}: float32 only`);
  const n = size(a.shape);
  if (size(b.shape) !== n) throw new Error(`${RESIDUAL_KERNEL}: shapes [${a.shape}] and [${b.shape}] differ`);
  const wk = wasmKernels(args.backend);
  if (wk) {
    const backend = args.backend as WasmBackendLike; // wasmKernels answers only for the wasm backend
    const out = backend.makeOutput([2], 'float32');
    wk.fns.sq_residual(offsetOf(backend, a), offsetOf(backend, b), n, offsetOf(backend, out));
    return out;
  }
  return produce(args.backend, [2], 'float32', false, (out) => {
    const av = view(args.backend, a) as Float32Array;
    const bv = view(args.backend, b) as Float32Array;
    let d2 = 0;
    let n2 = 0;
    for (let i = 0; i < n; i++) {
      const x = av[i];
      const d = x - bv[i];
      d2 += d * d;
      n2 += x * x;
    }
    out[0] = d2;
    out[1] = n2;
  });
}

/** Register the fused kernels (CSR row sum with its gradient, squared residual) for cpu and wasm. Idempotent. */
export function registerFusedKernels(backends: readonly string[] = GRAPH_KERNEL_BACKENDS): void {
  for (const b of backends) {
    if (FUSED_BACKENDS.has(b)) continue;
    if (!tf.getKernel(CSR_KERNEL, b)) tf.registerKernel({ kernelName: CSR_KERNEL, backendName: b, kernelFunc: csrRowSumKernel as unknown as tf.KernelFunc });
    if (!tf.getKernel(RESIDUAL_KERNEL, b)) tf.registerKernel({ kernelName: RESIDUAL_KERNEL, backendName: b, kernelFunc: squaredResidualKernel as unknown as tf.KernelFunc });
    FUSED_BACKENDS.add(b);
  }
  if (!tf.getGradient(CSR_KERNEL)) {
    // d/dx ⟨A x, dy⟩ = Aᵀ dy: the same kernel on the transposed graph (linear, so any order works).
    tf.registerGradient({
      kernelName: CSR_KERNEL,
      gradFunc: (dy, _saved, attrs) => {
        const a = attrs as unknown as { graph: CsrGraph; transpose: boolean };
        return { x: () => csrRowSum(dy as tf.Tensor, a.graph, !a.transpose) };
      },
    });
  }
}

/** True when the fused kernels run on the active backend (cpu or wasm). */
export function fusedKernelsAvailable(): boolean {
  const b = tf.getBackend();
  if (!FUSED_BACKENDS.has(b) && (GRAPH_KERNEL_BACKENDS as readonly string[]).includes(b)) registerFusedKernels([b]);
  return !!tf.getKernel(CSR_KERNEL, b);
}

/**
 * (A x)_i = Σ_{j→i} x_j (or Aᵀ x with `transpose`) over the rows of x, through the CSR kernel
 * where it is registered (cpu, wasm), else through gather + unsortedSegmentSum. Differentiable to
 * any order (its gradient is the transposed product).
 */
export function csrRowSum<T extends tf.Tensor>(x: T, graph: CsrGraph, transpose = false): T {
  if (x.dtype === 'float32' && fusedKernelsAvailable()) {
    return tf.engine().runKernel(CSR_KERNEL, { x }, { graph, transpose } as never) as T;
  }
  const csr = transpose ? graph.bwd : graph.fwd;
  return tf.tidy(() => {
    const rowOf = new Int32Array(csr.col.length);
    for (let i = 0; i < csr.rows; i++) rowOf.fill(i, csr.ptr[i], csr.ptr[i + 1]);
    return segmentSumRows(gatherRows(x, csr.col), rowOf, csr.rows);
  });
}

/**
 * [Σ (a − b)², Σ a²] as two numbers: one pass on cpu / wasm (float64 accumulation), elsewhere
 * from tf ops. `a` and `b` must have the same size.
 */
export function squaredResidual(a: tf.Tensor, b: tf.Tensor): [number, number] {
  const fused = a.dtype === 'float32' && b.dtype === 'float32' && fusedKernelsAvailable();
  const v = fused ? (tf.engine().runKernel(RESIDUAL_KERNEL, { a, b }, {}) as tf.Tensor) : tf.tidy(() => tf.stack([tf.sum(tf.square(tf.sub(a, b))), tf.sum(tf.square(a))]));
  const d = v.dataSync();
  v.dispose();
  return [d[0], d[1]];
}
