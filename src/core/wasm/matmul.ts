/**
 * The wasm `gemm` kernel (`./kernels-wat.mjs`) registered in place of tfjs-backend-wasm's
 * `BatchMatMul` and `_FusedMatMul` for the shapes where it is faster; every other case goes to
 * the original kernel, kept at registration.
 *
 * Why: this project's hot products are tall and skinny — [2708, 64]×[64, 64] per GRU gate on Cora,
 * [200, 784]×[784, 50] in the hypergradient MLP — and their transposed-operand versions in every
 * vector-Jacobian product. tfjs runs them through XNNPACK at ~20–25 GFLOP/s, and Aᵀ·B at ~2 GFLOP/s
 * (it transposes first); `gemm` measured ~30–45 GFLOP/s on the GNN shapes, with Aᵀ·B at the same
 * speed, on one core (bench/README.md).
 *
 * Taken: float32; any rank with equal batch sizes or a batch of one on either side; a fused
 * activation of linear, sigmoid, relu, relu6 or elu (applied by the backend's own kernel after
 * the product) and a bias of length N or none; B at most `MAX_B_BYTES` (a large B — the
 * Hopfield W, 2592² — streams from memory once per 4 rows, where XNNPACK's cached packing wins).
 * B is read in place when it is row-major with N a multiple of 8 (`inPlacePanels`), else it is
 * packed (transposed or not, through strides) into 8-column panels first; the bias is packed.
 * Tuning knobs for experiments: RBP_LAB_GEMM_MAXB (bytes, the B size limit), RBP_LAB_GEMM_KC and
 * RBP_LAB_GEMM_KC_T (the reduction blocks of A·B and Aᵀ·B).
 */
import { tf } from '../tf';
import { wasmKernels, offsetOf, withHeapTemps, orRelease, wasmKernelsNote, setKernelRequest } from './module';
import { sizeOf } from '../kernelViews';
import { gemmPacked, inPlacePanels, packBias, packedBytes, packedPanels, positiveInt, rowMajorStrides } from './gemm';
import type { WasmBackendLike, KernelRequest, KernelVariant } from './module';

type TensorInfo = tf.TensorInfo;


export interface MatMulStatus {
  active: boolean;
  variant?: KernelVariant;
  note?: string;
  /** Products computed by `gemm` / handed to tfjs's kernel since it was enabled. */
  calls: number;
  fallbacks: number;
}

/** Right operands larger than this go to XNNPACK. */
export const MAX_B_BYTES = positiveInt(process.env.RBP_LAB_GEMM_MAXB, 4 << 20);

interface MatMulArgs {
  inputs: { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  backend: WasmBackendLike;
  attrs?: { transposeA?: boolean; transposeB?: boolean; activation?: string };
}

const KERNELS = ['BatchMatMul', '_FusedMatMul'] as const;
/** Fused activations taken: applied after the product by the backend's own elementwise kernel. */
const ACTIVATIONS: Record<string, string | undefined> = { linear: undefined, sigmoid: 'Sigmoid', relu: 'Relu', relu6: 'Relu6', elu: 'Elu' };
const originals = new Map<string, tf.KernelConfig>();
const ours = new WeakSet<object>();
const status: MatMulStatus = { active: false, calls: 0, fallbacks: 0 };

/** The product's geometry if `gemm` takes it, else undefined. */
function plan(args: MatMulArgs, fused: boolean) {
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const tA = !!args.attrs?.transposeA;
  const tB = !!args.attrs?.transposeB;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const activation = fused ? (args.attrs?.activation ?? 'linear') : 'linear';
  if (preluActivationWeights || !(activation in ACTIVATIONS)) return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = tA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = tA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = tB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = tB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== Kb) return undefined; // the original kernel reports the mismatch
  if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== N)) return undefined;
  if (K * N * 4 > MAX_B_BYTES) return undefined;
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return undefined;
  }
  if (sizeOf(outer) !== Math.max(batchA, batchB)) return undefined;
  return { tA, tB, M, K, N, batchA, batchB, batch: Math.max(batchA, batchB), outShape: [...outer, M, N], activation: ACTIVATIONS[activation] };
}

function kernelFor(name: (typeof KERNELS)[number]) {
  const fused = name === '_FusedMatMul';
  return (args: MatMulArgs): TensorInfo => {
    const kernels = wasmKernels(args.backend);
    const p = kernels ? plan(args, fused) : undefined;
    if (!p || !kernels) {
      status.fallbacks++;
      const original = originals.get(name);
      if (!original) throw new Error(`wasm matMul: no original ${name} kernel to fall back to`);
      return original.kernelFunc(args as never) as TensorInfo;
    }
    status.calls++;
    const { backend, inputs } = args;
    const { fns } = kernels;
    const { tA, tB, M, K, N, batchA, batchB, batch } = p;
    const packedB = packedBytes(K, N);
    const out = backend.makeOutput(p.outShape, 'float32');
    orRelease(backend, [out], () =>
      withHeapTemps(backend, packedB + (inputs.bias ? packedBytes(1, N) : 0), (scratch) => {
        // offsets after every allocation (they do not move, but views would)
        const b0 = offsetOf(backend, inputs.b);
        const biasP = scratch + packedB;
        if (inputs.bias) packBias(kernels, offsetOf(backend, inputs.bias), biasP, N);
        const a0 = offsetOf(backend, inputs.a);
        const c0 = offsetOf(backend, out);
        const { sai, sak, sbk, sbn } = rowMajorStrides(M, K, N, tA, tB);
        for (let q = 0; q < batch; q++) {
          // B read in place where it can be; else one packed B for the whole batch when B is
          // broadcast, else each B packed just before its product
          const b = b0 + (batchB > 1 ? q * K * N * 4 : 0);
          const inPlace = inPlacePanels(b, sbk, sbn, N);
          if (!inPlace && (q === 0 || batchB > 1)) fns.pack(b, scratch, K, N, sbk, sbn);
          const a = a0 + (batchA > 1 ? q * M * K * 4 : 0);
          gemmPacked(kernels, inPlace ?? packedPanels(scratch, K), biasP, { a, sai, sak, c: c0 + q * M * N * 4, M, K, N, bias: inputs.bias ? biasP : undefined });
        }
      }),
    );
    if (!p.activation) return out;
    const act = tf.getKernel(p.activation, 'wasm');
    if (!act) throw new Error(`wasm matMul: no ${p.activation} kernel on the wasm backend`);
    try {
      return act.kernelFunc({ inputs: { x: out }, backend: backend as never, attrs: {} }) as TensorInfo;
    } finally {
      backend.disposeData(out.dataId);
    }
  };
}

/**
 * Register `gemm` for the wasm backend, which must be initialised (its heap is the kernel's
 * memory). Idempotent; `off` (or RBP_LAB_WASM_KERNELS=off) puts tfjs's kernels back.
 */
export function enableWasmMatMul(request?: KernelRequest): MatMulStatus {
  if (request) setKernelRequest(request);
  const backend = tf.findBackend('wasm');
  const kernels = wasmKernels(backend);
  if (!kernels) {
    disableWasmMatMul();
    status.note = wasmKernelsNote() ?? 'off (the wasm backend is not initialised)';
    return matMulStatus();
  }
  for (const name of KERNELS) {
    const current = tf.getKernel(name, 'wasm');
    if (!current || ours.has(current.kernelFunc)) continue;
    originals.set(name, current);
    tf.unregisterKernel(name, 'wasm');
    const kernelFunc = kernelFor(name) as unknown as tf.KernelFunc;
    ours.add(kernelFunc);
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
  }
  status.active = true;
  status.variant = kernels.variant;
  status.note = wasmKernelsNote();
  return matMulStatus();
}

/** Put tfjs's own matMul kernels back (comparisons, tests). */
export function disableWasmMatMul(): void {
  for (const name of KERNELS) {
    const current = tf.getKernel(name, 'wasm');
    if (!current || !ours.has(current.kernelFunc)) continue;
    tf.unregisterKernel(name, 'wasm');
    const orig = originals.get(name);
    if (orig) tf.registerKernel(orig); // its setupFunc ran when the backend was initialised
  }
  status.active = false;
  status.variant = undefined;
}

export function matMulStatus(): MatMulStatus {
  return { ...status };
}

/** Reset the call counters (tests use them to see which kernel ran). */
export function resetMatMulCounters(): void {
  status.calls = 0;
  status.fallbacks = 0;
}

/** For logs: "wasm kernels: relaxed-simd" / "wasm kernels: off (…)". */
export function describeMatMul(s: MatMulStatus): string {
  return s.active ? `wasm kernels: ${s.variant}${s.note ? `, ${s.note}` : ''}` : `wasm kernels: ${s.note ?? 'not enabled'}`;
}
