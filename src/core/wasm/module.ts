/**
 * The wasm kernels of `./kernels-wat.mjs`, instantiated on tfjs-backend-wasm's own heap (its
 * WebAssembly.Memory is imported), so that they read and write tensors in place: a tensor's data
 * is at `offsetOf(backend, t)`, scratch space comes from the backend's allocator (`scratch`).
 *
 * Variant: relaxed SIMD (fused multiply-add) where the engine validates it — Node 20 has it
 * behind a V8 flag, which is turned on here before validating; Electron has it by default —
 * otherwise plain SIMD. `RBP_LAB_WASM_KERNELS=off` keeps every kernel on its JS / tfjs path,
 * `=simd` avoids relaxed SIMD.
 */
import * as v8 from 'v8';
import { tf } from '../tf';
import { simd as simdBase64, relaxed as relaxedBase64 } from 'rbp-wasm:kernels';

type TensorInfo = tf.TensorInfo;
export type KernelVariant = 'relaxed-simd' | 'simd';
export type KernelRequest = KernelVariant | 'auto' | 'off';

export interface WasmKernelExports {
  pack(src: number, dst: number, K: number, N: number, sk: number, sn: number): void;
  gemm(a: number, bp: number, c: number, biasp: number, M: number, K: number, N: number, sai: number, sak: number, flags: number, panel: number): void;
  csr_rowsum(ptr: number, col: number, x: number, out: number, rows: number, D: number): void;
  sq_residual(a: number, b: number, n: number, out: number): void;
  colsum(a: number, out: number, rows: number, cols: number): void;
  softmax_rop(p: number, pn: number, rz: number, out: number, rows: number, cols: number): void;
  read_sum(a: number, bytes: number, out: number): void;
  // elementwise chains (ELEMENTWISE in ./kernels-wat.mjs): inputs, outputs, n, scalars
  ew_tanh_d(s: number, x: number, d: number, n: number): void;
  ew_scale(a: number, out: number, n: number, c: number): void;
  ew_mul(a: number, b: number, out: number, n: number): void;
  ew_delta(p: number, yn: number, pn: number, delta: number, n: number, invn: number): void;
  ew_momentum(th: number, m: number, g: number, al: number, be: number, ombe: number, th2: number, m2: number, n: number): void;
  ew_adjoint(zt: number, zm: number, al: number, be: number, ombe: number, u: number, zm2: number, n: number): void;
  ew_hvp_rd(re: number, d: number, e: number, x: number, rx: number, out: number, n: number): void;
}

/** The parts of tfjs-backend-wasm's backend object used here (duck-typed, checked at load). */
export interface WasmBackendLike {
  wasm: { asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string): TensorInfo;
  disposeData(dataId: object): boolean;
}

export interface WasmKernels {
  fns: WasmKernelExports;
  memory: WebAssembly.Memory;
  variant: KernelVariant;
}

let loaded: WasmKernels | undefined;
let lastNote: string | undefined;
/** The variant asked for by `setKernelRequest` (enableWasmMatMul); RBP_LAB_WASM_KERNELS until then. */
let active: KernelRequest | undefined;
/** Whether relaxed SIMD validates here (checked once). */
let relaxedOk: boolean | undefined;

const decoded = new Map<string, Uint8Array<ArrayBuffer>>();

/** The module bytes of a variant, decoded once. */
function bytes(base64: string): Uint8Array<ArrayBuffer> {
  let out = decoded.get(base64);
  if (!out) {
    const b = Buffer.from(base64, 'base64');
    out = new Uint8Array(new ArrayBuffer(b.length));
    out.set(b);
    decoded.set(base64, out);
  }
  return out;
}

/** Relaxed SIMD if the engine validates it (after enabling V8's flag where it is one). */
function relaxedAvailable(module: Uint8Array<ArrayBuffer>): boolean {
  if (WebAssembly.validate(module)) return true;
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return WebAssembly.validate(module);
}

/** The variant in force: the last `setKernelRequest`, else RBP_LAB_WASM_KERNELS (default auto), read once. */
function kernelRequest(): KernelRequest {
  if (!active) {
    const v = (process.env.RBP_LAB_WASM_KERNELS ?? 'auto').trim().toLowerCase();
    active = v === 'off' || v === 'simd' || v === 'relaxed-simd' ? v : 'auto';
  }
  return active;
}

/** Choose the variant every kernel uses from now on (tests and benchmarks compare them). */
export function setKernelRequest(request: KernelRequest): void {
  active = request;
}

function isWasmBackend(b: unknown): b is WasmBackendLike {
  const w = b as Partial<WasmBackendLike> | null;
  return !!w && typeof w.makeOutput === 'function' && typeof w.disposeData === 'function' && !!w.dataIdMap && w.wasm?.asm?.memory instanceof WebAssembly.Memory;
}

/**
 * The kernels bound to this wasm backend's heap, loading them on first use; undefined when the
 * backend is not wasm, the kernels are turned off, or they cannot be loaded (`wasmKernelsNote`).
 */
export function wasmKernels(backend: unknown, request: KernelRequest = kernelRequest()): WasmKernels | undefined {
  if (request === 'off') {
    lastNote = 'off (requested)';
    return undefined;
  }
  if (!isWasmBackend(backend)) return undefined;
  const memory = backend.wasm.asm!.memory!;
  if (request !== 'simd' && relaxedOk === undefined) relaxedOk = relaxedAvailable(bytes(relaxedBase64));
  const useRelaxed = request !== 'simd' && relaxedOk === true;
  const variant: KernelVariant = useRelaxed ? 'relaxed-simd' : 'simd';
  if (loaded && loaded.memory === memory && loaded.variant === variant) return loaded;
  try {
    const module = new WebAssembly.Module(bytes(useRelaxed ? relaxedBase64 : simdBase64));
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    loaded = { fns: instance.exports as unknown as WasmKernelExports, memory, variant };
    lastNote = useRelaxed ? undefined : request === 'simd' ? 'relaxed SIMD off (simd requested)' : 'relaxed SIMD not available in this engine';
    return loaded;
  } catch (e) {
    lastNote = `not loaded: ${(e as Error).message}`;
    loaded = undefined;
    return undefined;
  }
}

/** Why the kernels are off or run without relaxed SIMD (undefined when all is well). */
export function wasmKernelsNote(): string | undefined {
  return lastNote;
}

/** Byte offset of a tensor's data in the wasm heap. */
export function offsetOf(backend: WasmBackendLike, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('wasm kernels: tensor data not found on the wasm backend');
  return d.memoryOffset;
}

/** Run `body` (which fills the kernel outputs `outs`); if it throws, release `outs` and rethrow. */
export function orRelease<T>(backend: WasmBackendLike, outs: TensorInfo[], body: () => T): T {
  try {
    return body();
  } catch (e) {
    for (const t of outs) backend.disposeData(t.dataId);
    throw e;
  }
}

/**
 * Run `body` with `bytes` of scratch heap (float32-aligned) at the offset it is given, and a
 * `temp(shape)` that allocates more float32 buffers; all are released afterwards. Allocate before
 * taking other offsets or views: an allocation may grow the heap (offsets stay valid, typed-array
 * views do not).
 */
export function withHeapTemps<T>(backend: WasmBackendLike, bytes: number, body: (scratch: number, temp: (shape: number[]) => TensorInfo) => T): T {
  const made: TensorInfo[] = [];
  const temp = (shape: number[]) => {
    const t = backend.makeOutput(shape, 'float32');
    made.push(t);
    return t;
  };
  try {
    return body(offsetOf(backend, temp([Math.max(1, Math.ceil(bytes / 4))])), temp);
  } finally {
    for (const t of made) backend.disposeData(t.dataId);
  }
}
