/**
 * Backend chooser: tensorflow-gpu, webgpu (a hardware adapter only), tensorflow, wasm, cpu — in
 * that order for `auto` (`./backendNames`). Reports which backend it got and why each one before
 * it was skipped.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createRequire } from 'module';
import { tf } from './tf';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { enableWasmMatMul, describeMatMul } from './wasm/matmul';
import type { MatMulStatus } from './wasm/matmul';
import { kernelThreads, setKernelThreads, startKernelPool } from './wasm/module';
import type { ThreadsStatus } from './wasm/module';
import { findThreadedDir, hasSharedHeap, installThreadedWasm, restoreSingleThreaded } from './wasm/threaded';
import { BACKENDS } from './backendNames';
import type { BackendName, BackendRequest } from './backendNames';
import { useWebgpu, closeWebgpu, describeAdapter, WEBGPU_PACKAGE, WEBGPU_PACKAGE_VERSION } from './webgpu';
import type { GpuAdapter } from './webgpu';

export { BACKENDS, isBackendRequest } from './backendNames';
export { closeKernelPool } from './wasm/module';
export type { BackendName, BackendRequest } from './backendNames';

export interface BackendChoice {
  /** The backend now active. */
  name: BackendName;
  /** The name tfjs itself uses for it ('tensorflow' for both native ones). */
  tfName: string;
  requested: BackendRequest;
  /** Where a native package was loaded from, when one was. */
  loadedFrom?: string;
  /** Backends tried before `name`, with the reason each was skipped. */
  skipped: { name: BackendName; reason: string }[];
  /** On wasm: whether this project's wasm kernels (matMul, graph, residual) are active (`./wasm`). */
  kernels?: MatMulStatus;
  /** On wasm: the threads the kernels use (and why fewer than asked). */
  threads?: ThreadsStatus;
  /** On wasm: which build of tfjs-backend-wasm runs ('threaded-simd' has a shared heap). */
  build?: 'simd' | 'threaded-simd';
  /** On webgpu: the adapter. */
  adapter?: GpuAdapter;
}

export interface BackendOptions {
  /** Extra folders holding a `node_modules` (the extension's global storage, the workspace). */
  searchPaths?: string[];
  /** Folder holding the tfjs-backend-wasm `.wasm` files; found automatically when omitted. */
  wasmDir?: string;
  /**
   * Threads for the wasm kernels (default: RBP_THREADS, else `DEFAULT_THREADS`). Above 1, the
   * first start of the wasm backend in this process loads tfjs's threaded build (its heap is
   * shared); 1 keeps the single-threaded build, the reference.
   */
  threads?: number;
  /** Folder holding the threaded build's files (`./wasm/threaded.ts`); next to the bundle when omitted. */
  wasmThreadedDir?: string;
}

const NATIVE_PACKAGE: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

/** Locate the folder with the wasm binaries: next to the bundle, else in the installed package. */
export function findWasmDir(explicit?: string): string | undefined {
  const candidates: string[] = [];
  if (explicit) candidates.push(explicit);
  candidates.push(__dirname, path.join(__dirname, '..'), path.join(__dirname, 'wasm'));
  try {
    candidates.push(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist'));
  } catch {
    /* not resolvable from a bundle: fine */
  }
  return candidates.find((d) => fs.existsSync(path.join(d, 'tfjs-backend-wasm-simd.wasm')) && fs.existsSync(path.join(d, 'tfjs-backend-wasm.wasm')));
}

function describeLoadError(pkg: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/Cannot find module/.test(msg) && msg.includes(pkg)) return `${pkg} is not installed (run "RBP Lab: Set Up GPU Backend" or npm install ${pkg})`;
  if (/libcudart|libcudnn|libcuda/.test(msg)) return `${pkg} found but CUDA 11.2 / cuDNN 8 libraries are missing: ${firstLine(msg)}`;
  if (/NODE_MODULE_VERSION|was compiled against a different Node/.test(msg)) return `${pkg} was built for another Node.js version: ${firstLine(msg)}`;
  return `${pkg} failed to load: ${firstLine(msg)}`;
}

function firstLine(s: string): string {
  return s.split('\n')[0].slice(0, 300);
}

/** Resolve a native package from the search paths first, then from the normal module path. */
export function resolveNative(pkg: string, searchPaths: string[] = []): string | undefined {
  for (const base of searchPaths) {
    const candidate = path.join(base, 'node_modules', ...pkg.split('/'));
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
  }
  try {
    return path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return undefined;
  }
}

async function tryNative(which: 'tensorflow-gpu' | 'tensorflow', opts: BackendOptions): Promise<{ ok: true; from: string } | { ok: false; reason: string }> {
  const pkg = NATIVE_PACKAGE[which];
  const dir = resolveNative(pkg, opts.searchPaths);
  if (!dir) return { ok: false, reason: `${pkg} is not installed` };
  try {
    // A native addon cannot be bundled: load it at run time from where it was installed.
    const req = createRequire(path.join(dir, 'package.json'));
    req(dir);
  } catch (err) {
    return { ok: false, reason: describeLoadError(pkg, err) };
  }
  if (!tf.findBackendFactory('tensorflow')) return { ok: false, reason: `${pkg} loaded but registered no 'tensorflow' backend` };
  try {
    const ok = await tf.setBackend('tensorflow');
    if (!ok || tf.getBackend() !== 'tensorflow') return { ok: false, reason: `${pkg} loaded but its backend failed to initialise` };
  } catch (err) {
    return { ok: false, reason: describeLoadError(pkg, err) };
  }
  return { ok: true, from: dir };
}

async function tryWebgpu(opts: BackendOptions, allowSoftware: boolean): Promise<{ ok: true; adapter: GpuAdapter; from: string } | { ok: false; reason: string }> {
  const dir = resolveNative(WEBGPU_PACKAGE, opts.searchPaths);
  if (!dir) return { ok: false, reason: `the ${WEBGPU_PACKAGE} package (Dawn for Node) is not installed (npm install ${WEBGPU_PACKAGE}@${WEBGPU_PACKAGE_VERSION}; for the extension, in the workspace folder)` };
  const r = await useWebgpu(dir, allowSoftware);
  return r.ok ? { ...r, from: dir } : r;
}

/**
 * Before the wasm backend's first start, with more than one thread asked for: register the
 * threaded build as `wasm` and start it. Returns why it is not used (undefined: it runs), or
 * nothing when the backend already runs (its build cannot change in this process).
 */
async function tryThreaded(opts: BackendOptions): Promise<string | undefined> {
  if (tf.engine().registry.wasm) return undefined;
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available';
  const dir = findThreadedDir(opts.wasmThreadedDir);
  if (!dir) return `the threaded build's files were not found ${opts.wasmThreadedDir ? `in ${opts.wasmThreadedDir}` : 'next to the bundle'}`;
  if (!installThreadedWasm(dir)) return 'the wasm backend was registered by someone else';
  let reason: string | undefined;
  try {
    if (!(await tf.setBackend('wasm'))) reason = 'the threaded build failed to start';
  } catch (err) {
    reason = `the threaded build failed to start: ${firstLine(String(err))}`;
  }
  if (reason) restoreSingleThreaded();
  return reason;
}

async function tryWasm(opts: BackendOptions): Promise<string | undefined> {
  const dir = findWasmDir(opts.wasmDir);
  if (!dir) return 'the tfjs-backend-wasm .wasm files were not found next to the bundle nor in node_modules';
  setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
  if (kernelThreads() > 1) threadedNote = await tryThreaded(opts);
  try {
    const ok = await tf.setBackend('wasm');
    if (!ok || tf.getBackend() !== 'wasm') return 'the wasm backend failed to initialise';
  } catch (err) {
    return `the wasm backend failed: ${firstLine(String(err))}`;
  }
  return undefined;
}

/** Why the threaded build is not running, from the last wasm start that asked for threads. */
let threadedNote: string | undefined;

async function tryCpu(): Promise<string | undefined> {
  const ok = await tf.setBackend('cpu');
  return ok && tf.getBackend() === 'cpu' ? undefined : 'the cpu backend failed to initialise';
}

/**
 * Select a backend. `auto` tries each in order; an explicit name tries only that one and throws
 * with the reason if it cannot be had.
 */
export async function selectBackend(requested: BackendRequest = 'auto', opts: BackendOptions = {}): Promise<BackendChoice> {
  tf.enableProdMode();
  if (opts.threads !== undefined) setKernelThreads(opts.threads);
  const order: BackendName[] = requested === 'auto' ? [...BACKENDS] : [requested];
  const skipped: { name: BackendName; reason: string }[] = [];
  for (const name of order) {
    if (name === 'webgpu') {
      // A software adapter (SwiftShader, lavapipe) only when webgpu is asked for by name.
      const r = await tryWebgpu(opts, requested === 'webgpu');
      if (r.ok) return { name, tfName: 'webgpu', requested, loadedFrom: r.from, skipped, adapter: r.adapter };
      skipped.push({ name, reason: r.reason });
      await closeWebgpu();
    } else if (name === 'tensorflow-gpu' || name === 'tensorflow') {
      const r = await tryNative(name, opts);
      if (r.ok) return { name, tfName: 'tensorflow', requested, loadedFrom: r.from, skipped };
      skipped.push({ name, reason: r.reason });
    } else if (name === 'wasm') {
      threadedNote = undefined;
      const reason = await tryWasm(opts);
      if (!reason) {
        const kernels = enableWasmMatMul();
        const threads = await startKernelPool(tf.backend());
        if (threads.threads < threads.asked && threadedNote) threads.note = `one thread: ${threadedNote}`;
        const build = hasSharedHeap(tf.backend()) ? 'threaded-simd' : 'simd';
        return { name, tfName: 'wasm', requested, skipped, kernels, threads, build };
      }
      skipped.push({ name, reason });
    } else {
      const reason = await tryCpu();
      if (!reason) return { name, tfName: 'cpu', requested, skipped };
      skipped.push({ name, reason });
    }
  }
  const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new BackendError(`backend '${requested}' is not available (${why})`, skipped);
}

export class BackendError extends Error {
  constructor(message: string, readonly skipped: { name: BackendName; reason: string }[]) {
    super(message);
    this.name = 'BackendError';
  }
}

/** The adapter as the run record keeps it (BackendInfo.adapter), or nothing off webgpu. */
export function adapterField(c: BackendChoice): { adapter?: { vendor: string; architecture: string; device: string; description: string; software: boolean } } {
  const a = c.adapter;
  return a ? { adapter: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, software: a.software } } : {};
}

/** One line for logs and the dashboard header: "wasm (tensorflow-gpu: not installed; ...)". */
export function describeChoice(c: BackendChoice): string {
  const why = c.skipped.map((s) => `${s.name} unavailable: ${s.reason}`).join('; ');
  const threads = c.threads ? `, ${c.threads.threads} thread${c.threads.threads === 1 ? '' : 's'}${c.threads.note ? ` (${c.threads.note})` : ''}` : '';
  const name = c.kernels ? `${c.name} (${describeMatMul(c.kernels)}${threads})` : c.adapter ? `${c.name} on ${describeAdapter(c.adapter)}` : c.name;
  return why ? `${name} — ${why}` : name;
}
