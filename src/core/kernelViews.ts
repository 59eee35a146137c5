/**
 * What JS kernels need of the cpu and wasm backend objects (duck-typed, structurally checked):
 * zero-copy views of a tensor's data (the wasm heap, the cpu backend's values) and outputs written
 * in place. Shared by the graph kernels (`./kernels`) and the models' own JS kernels.
 */
import { tf } from './tf';

type TensorInfo = tf.TensorInfo;
export type NumericArray = Float32Array | Int32Array | Uint8Array;
/** What tfjs passes a kernel function. */
export type KernelArgs = { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> };

interface CpuLike {
  readSync(dataId: unknown): unknown;
  makeTensorInfo(shape: number[], dtype: string, values?: unknown): TensorInfo;
}
interface WasmLike {
  makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: unknown): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): NumericArray;
}

/** The wasm backend (the cpu one also has a `makeOutput`, with another signature). */
function isWasm(b: unknown): b is WasmLike {
  return typeof (b as WasmLike).typedArrayFromHeap === 'function' && typeof (b as WasmLike).makeOutput === 'function';
}

export function arrayCtor(dtype: string): (new (n: number) => NumericArray) | undefined {
  if (dtype === 'float32') return Float32Array;
  if (dtype === 'int32') return Int32Array;
  if (dtype === 'bool') return Uint8Array;
  return undefined;
}

/** Number of elements of a shape. */
export function sizeOf(shape: number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}

/**
 * Zero-copy view of a tensor's data where the backend allows it (wasm heap / cpu values). On
 * wasm, take views after allocating outputs: a heap growth detaches views taken earlier.
 */
export function view(backend: unknown, t: TensorInfo): NumericArray {
  if (isWasm(backend)) return backend.typedArrayFromHeap(t);
  const v = (backend as CpuLike).readSync(t.dataId);
  if (v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array) return v;
  const Ctor = arrayCtor(t.dtype);
  if (!Ctor) throw new Error(`JS kernels: unsupported dtype ${t.dtype}`);
  return Ctor === Float32Array ? Float32Array.from(v as ArrayLike<number>) : Ctor === Int32Array ? Int32Array.from(v as ArrayLike<number>) : Uint8Array.from(v as ArrayLike<number>);
}

/**
 * Allocate outputs and let `fill` write them (zero-filled if asked). On wasm the outputs are
 * allocated on the heap first and `fill` takes its input views afterwards.
 */
export function produceMany(backend: unknown, outs: { shape: number[]; dtype: string }[], zero: boolean, fill: (out: NumericArray[]) => void): TensorInfo[] {
  if (isWasm(backend)) {
    const infos = outs.map((o) => backend.makeOutput(o.shape, o.dtype));
    const arrays = infos.map((i) => backend.typedArrayFromHeap(i));
    if (zero) for (const a of arrays) a.fill(0);
    fill(arrays);
    return infos;
  }
  const arrays = outs.map((o) => {
    const Ctor = arrayCtor(o.dtype);
    if (!Ctor) throw new Error(`JS kernels: unsupported dtype ${o.dtype}`);
    return new Ctor(sizeOf(o.shape));
  });
  fill(arrays);
  return arrays.map((a, i) => (backend as CpuLike).makeTensorInfo(outs[i].shape, outs[i].dtype, a));
}

/** `produceMany` for one output. */
export function produce(backend: unknown, shape: number[], dtype: string, zero: boolean, fill: (out: NumericArray) => void): TensorInfo {
  return produceMany(backend, [{ shape, dtype }], zero, ([o]) => fill(o))[0];
}
