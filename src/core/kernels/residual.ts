/** The squared residual of a forward step, [Σ (a − b)², Σ a²], as one kernel (registered in `./fused.ts`). */
import { tf } from '../tf';
import { wasmKernels, offsetOf } from '../wasm/module';
import type { WasmBackendLike } from '../wasm/module';
import { produce, sizeOf as size, view, type KernelArgs } from '../kernelViews';

type TensorInfo = tf.TensorInfo;

export const RESIDUAL_KERNEL = 'RbpSquaredResidual';

/** [Σ (a − b)², Σ a²] in one pass, accumulated in float64. */
export function squaredResidualKernel(args: KernelArgs): TensorInfo {
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
