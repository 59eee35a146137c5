/**
 * tfjs-backend-wasm's threaded SIMD build as the `wasm` backend in Node, loaded by our own code
 * (bench/README.md, "Threads"): tfjs's loader cannot do it in Node (it hands the emscripten
 * pthread worker a Blob URL, which `worker_threads` refuses, and it picks the threaded binary only
 * in browsers). What it buys: the wasm heap is a shared `WebAssembly.Memory`, so this project's
 * kernels can be run on it from a pool of workers (`./pool.ts`).
 *
 * The factory script, its pthread worker (shipped only as a string, `wasmWorkerContents`) and the
 * binary are files next to the bundle, written by `scripts/build.mjs` (`THREADED_FILES`).
 * tfjs's own kernels keep one thread: its C++ caps its pool at half of `os.cpus()`, 1 on a
 * 2-vCPU machine; the eight pthread workers emscripten starts for that pool are idle, so they
 * are ended once the module is up (each is a V8 isolate: ~10 MiB of RSS).
 */
import * as fs from 'fs';
import * as path from 'path';
import { createRequire } from 'module';
import { tf } from '../tf';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { isShared } from './pool';
import { tfjsCwraps } from './tfjs-cwraps.mjs';

/** The files the threaded build needs next to the bundle. */
export const THREADED_FILES = {
  factory: 'tfjs-backend-wasm-threaded-simd.js',
  worker: 'tfjs-backend-wasm-threaded-simd.worker.js',
  wasm: 'tfjs-backend-wasm-threaded-simd.wasm',
} as const;

/** The parts of the emscripten module used here. */
interface ThreadedModule {
  wasmMemory?: WebAssembly.Memory;
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread?: { unusedWorkers?: { terminate(): unknown }[] };
  tfjs?: Record<string, unknown>;
}

/**
 * The folder holding the three files: `explicit`, else next to this bundle (dist/), one folder up,
 * or out/wasm seen from a test bundle in out/test/<dir>/ (scripts/build-tests.mjs).
 */
export function findThreadedDir(explicit?: string): string | undefined {
  const candidates = explicit ? [explicit] : [__dirname, path.join(__dirname, '..'), path.join(__dirname, '..', '..', 'wasm')];
  return candidates.find((d) => Object.values(THREADED_FILES).every((f) => fs.existsSync(path.join(d, f))));
}

/** Start the threaded module from `dir` and wrap it as tfjs's wasm backend object. */
async function instantiate(dir: string): Promise<BackendWasm> {
  const script = path.join(dir, THREADED_FILES.factory);
  const factory = createRequire(script)(script) as (m: object) => Promise<ThreadedModule>;
  const module = await factory({
    locateFile: (p: string) => path.join(dir, p.endsWith('.worker.js') ? THREADED_FILES.worker : p.endsWith('.wasm') ? THREADED_FILES.wasm : p),
    // what the pthread workers load: a path (tfjs passes a Blob, which Node's workers cannot read)
    mainScriptUrlOrBlob: script,
  });
  if (!isShared(module.wasmMemory?.buffer)) throw new Error('the threaded module has no shared heap');
  module.tfjs = tfjsCwraps(module); // the cwraps tfjs's own loader adds
  const backend = new BackendWasm(module as never);
  // tfjs's pool has one thread here (the caller): the pre-started pthread workers never run anything
  const idle = module.PThread?.unusedWorkers;
  if (idle) for (const w of idle.splice(0)) void w.terminate();
  return backend;
}

let installed: { dir: string } | undefined;

/**
 * Make `wasm` the threaded build: replaces tfjs's registration of the backend (before it is
 * initialised; afterwards the build in use stays, and this returns false). The backend starts on
 * the next `tf.setBackend('wasm')`; if that fails, `restoreSingleThreaded` puts tfjs's back.
 */
export function installThreadedWasm(dir: string): boolean {
  if (installed) return installed.dir === dir;
  if (tf.engine().registry.wasm) return false; // already initialised: the heap cannot change
  const original = tf.findBackendFactory('wasm');
  if (!original) return false;
  originalFactory = original;
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => instantiate(dir), 2);
  installed = { dir };
  return true;
}

let originalFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | undefined;

/** After a failed start of the threaded build: tfjs's own (single-threaded SIMD) registration again. */
export function restoreSingleThreaded(): void {
  if (!installed || !originalFactory) return;
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', originalFactory, 2);
  installed = undefined;
}

/** Whether a wasm backend object runs on a shared heap (the threaded build). */
export function hasSharedHeap(backend: unknown): boolean {
  const w = (backend as { wasm?: { wasmMemory?: WebAssembly.Memory } } | undefined)?.wasm;
  return isShared(w?.wasmMemory?.buffer);
}
