/**
 * The wasm kernels of `./kernels-wat.mjs`, instantiated on tfjs-backend-wasm's own heap (its
 * WebAssembly.Memory is imported), so that they read and write tensors in place: a tensor's data
 * is at `offsetOf(backend, t)`, scratch space comes from the backend's allocator (`scratch`).
 * On tfjs's threaded build (`./threaded.ts`) the heap is shared: the kernels are the variant
 * whose memory import is shared, and `startKernelPool` adds workers that run them on the same
 * heap (`./pool.ts`; `kernelThreads`: option, RBP_THREADS, default `DEFAULT_THREADS`).
 *
 * Variant: relaxed SIMD (fused multiply-add) where the engine validates it — Node 20 has it
 * behind a V8 flag, which is turned on here before validating; Electron has it by default —
 * otherwise plain SIMD. `RBP_LAB_WASM_KERNELS=off` keeps every kernel on its JS / tfjs path,
 * `=simd` avoids relaxed SIMD.
 */
import * as v8 from 'v8';
import { tf } from '../tf';
import { simd as simdBase64, relaxed as relaxedBase64, simdShared, relaxedShared } from 'rbp-wasm:kernels';
import { KernelPool, isShared } from './pool';

type TensorInfo = tf.TensorInfo;
export type KernelVariant = 'relaxed-simd' | 'simd';
export type KernelRequest = KernelVariant | 'auto' | 'off';

export interface WasmKernelExports {
  pack(src: number, dst: number, K: number, N: number, sk: number, sn: number): void;
  gemm(a: number, bp: number, c: number, biasp: number, M: number, K: number, N: number, sai: number, sak: number, flags: number, panel: number, bk: number, ldc: number): void;
  csr_rowsum(ptr: number, col: number, x: number, out: number, rows: number, D: number): void;
  sq_residual(a: number, b: number, n: number, out: number): void;
  colsum(a: number, out: number, rows: number, cols: number): void;
  softmax_rop(p: number, pn: number, rz: number, out: number, rows: number, cols: number): void;
  /** out = S·B (+ bias) (+ out) for S sparse (CSR ptr, col, val): ./kernels-wat.mjs, `csr_mm`. */
  csr_mm(ptr: number, col: number, val: number, b: number, sbk: number, out: number, rows: number, N: number, bias: number, flags: number): void;
  read_sum(a: number, bytes: number, out: number): void;
  stream_dot(x: number, w: number, out: number, M: number, K: number, N: number, flags: number, h: number, c: number, mask: number, clamp: number): void;
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
  /** The heap: exported by the single-threaded build (`asm.memory`), created in JS by the threaded one (`wasmMemory`). */
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string): TensorInfo;
  disposeData(dataId: object): boolean;
}

export interface WasmKernels {
  fns: WasmKernelExports;
  memory: WebAssembly.Memory;
  variant: KernelVariant;
  /** The compiled module (the pool's workers instantiate it too). */
  module: WebAssembly.Module;
  /** Workers running these kernels on the same (shared) heap, once `startKernelPool` has them up. */
  pool?: KernelPool;
}

/** Exports a pool worker can call, by index (`KernelCall`'s first element). */
export const POOL_KERNELS = ['gemm', 'csr_rowsum'] as const;
export const K_GEMM = 0;
export const K_CSR = 1;

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

function heapOf(b: WasmBackendLike): WebAssembly.Memory | undefined {
  const m = b.wasm?.asm?.memory ?? b.wasm?.wasmMemory;
  return m instanceof WebAssembly.Memory ? m : undefined;
}

function isWasmBackend(b: unknown): b is WasmBackendLike {
  const w = b as Partial<WasmBackendLike> | null;
  return !!w && typeof w.makeOutput === 'function' && typeof w.disposeData === 'function' && !!w.dataIdMap && !!heapOf(w as WasmBackendLike);
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
  const memory = heapOf(backend)!;
  if (request !== 'simd' && relaxedOk === undefined) relaxedOk = relaxedAvailable(bytes(relaxedBase64));
  const useRelaxed = request !== 'simd' && relaxedOk === true;
  const variant: KernelVariant = useRelaxed ? 'relaxed-simd' : 'simd';
  if (loaded && loaded.memory === memory && loaded.variant === variant) return loaded;
  void loaded?.pool?.close(); // bound to the previous heap or variant
  try {
    const shared = isShared(memory.buffer);
    const module = new WebAssembly.Module(bytes(useRelaxed ? (shared ? relaxedShared : relaxedBase64) : shared ? simdShared : simdBase64));
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    loaded = { fns: instance.exports as unknown as WasmKernelExports, memory, variant, module };
    lastNote = useRelaxed ? undefined : request === 'simd' ? 'relaxed SIMD off (simd requested)' : 'relaxed SIMD not available in this engine';
    return loaded;
  } catch (e) {
    lastNote = `not loaded: ${(e as Error).message}`;
    loaded = undefined;
    return undefined;
  }
}

/** Threads when nothing says otherwise: one until the bench shows two pay (bench/README.md, "Threads"). */
export const DEFAULT_THREADS = 1;

let threadsSetting: number | undefined;

/** A thread count from text (RBP_THREADS, --threads): a positive integer, else undefined. */
export function parseThreads(v: string | number | undefined): number | undefined {
  const n = typeof v === 'number' ? v : v === undefined || v.trim() === '' ? NaN : Number(v);
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}

/** Threads the kernels may use: `setKernelThreads`, else RBP_THREADS, else DEFAULT_THREADS. */
export function kernelThreads(): number {
  return threadsSetting ?? parseThreads(process.env.RBP_THREADS) ?? DEFAULT_THREADS;
}

/** Set the thread count (undefined: back to RBP_THREADS / the default); takes effect at `startKernelPool`. */
export function setKernelThreads(n: number | undefined): void {
  threadsSetting = n;
}

/** What `startKernelPool` got: the threads the kernels use, and why fewer than asked. */
export interface ThreadsStatus {
  threads: number;
  asked: number;
  note?: string;
}

/**
 * Give the kernels of this backend `kernelThreads()` threads (a pool of that many − 1 workers),
 * or none (closing any pool) when one is asked for or the heap is not shared (single-threaded build).
 */
export async function startKernelPool(backend: unknown = tf.findBackend('wasm')): Promise<ThreadsStatus> {
  const asked = kernelThreads();
  const k = wasmKernels(backend);
  if (!k) return { threads: 1, asked, note: asked > 1 ? 'one thread: the wasm kernels are not loaded' : undefined };
  if (asked <= 1 || !isShared(k.memory.buffer)) {
    await closeKernelPool();
    return { threads: 1, asked, note: asked > 1 ? 'one thread: the wasm heap is not shared (single-threaded build)' : undefined };
  }
  if (k.pool?.threads !== asked || !k.pool.usable) {
    void k.pool?.close();
    const names = POOL_KERNELS as readonly string[];
    k.pool = new KernelPool(asked, k.module, k.memory, names, k.fns as unknown as Record<string, (...a: number[]) => unknown>);
    try {
      await k.pool.ready;
    } catch (e) {
      k.pool = undefined;
      return { threads: 1, asked, note: `one thread: the kernel pool did not start (${(e as Error).message})` };
    }
  }
  return { threads: asked, asked };
}

/** End the kernel pool's workers (after a run, on Stop, in tests); the kernels go on in one thread. */
export async function closeKernelPool(): Promise<void> {
  const pool = loaded?.pool;
  if (!pool) return;
  loaded!.pool = undefined;
  await pool.close();
}

/** The pool when it is up (splitting callers: `./gemm.ts`, `../kernels/csr.ts`). */
export function usablePool(k: WasmKernels): KernelPool | undefined {
  return k.pool?.usable ? k.pool : undefined;
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
