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
import { tf } from '../tf';
import { arrayCtor, produce, sizeOf as size, view, type KernelArgs } from '../kernelViews';

type TensorInfo = tf.TensorInfo;
type KernelConfig = tf.KernelConfig;

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
