/**
 * A small pool of `worker_threads`, each with its own instance of this project's wasm kernels on
 * the same shared heap (tfjs's threaded build, `./threaded.ts`), so that one product or one
 * message-passing sum can be split across cores: the caller hands each worker a list of kernel
 * calls (its rows of the output), runs the first list itself and returns when all are done.
 * Every output element is computed by exactly the code and in exactly the order of the
 * single-threaded call, so results are bit-identical to it.
 *
 * Handoff: a control block of shared memory per worker (a sequence number, a done number, an
 * error flag) with `Atomics.wait` / `Atomics.notify`; each side spins on it briefly
 * (`SPIN` loads, a few microseconds) before sleeping, so an idle pool uses no CPU. The workers
 * are `unref`'d (they never keep the process alive) and are ended by `close()`.
 */
import { Worker } from 'worker_threads';

/** Whether `b` is a SharedArrayBuffer (false where the engine has none: the global is then undefined). */
export function isShared(b: ArrayBufferLike | undefined): boolean {
  return typeof SharedArrayBuffer === 'function' && b instanceof SharedArrayBuffer;
}

/** One kernel call: the export's index in `names` and its arguments (numbers: i32 or f32). */
export type KernelCall = [fn: number, ...args: number[]];

/** Arguments per worker's call list (calls × (2 + args)); longer lists run in several handoffs. */
const ARGS = 4096;
/** int32 slots per worker in the control block: [seq, done, error, calls]. */
const CTRL = 8;
/** Loads of the control word before sleeping in Atomics.wait (RBP_LAB_POOL_SPIN; bench/README.md, "Threads"). */
const SPIN = Number.isInteger(Number(process.env.RBP_LAB_POOL_SPIN)) && Number(process.env.RBP_LAB_POOL_SPIN) >= 0 ? Number(process.env.RBP_LAB_POOL_SPIN) : 0;

// The worker: instantiate the kernels on the shared memory, then serve call lists until told to stop.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('worker_threads');
const { module, memory, ctrl, args, slot, names, spin } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = names.map((n) => ex[n]);
const c = new Int32Array(ctrl, slot * ${CTRL * 4}, ${CTRL});
const a = new Float64Array(args, slot * ${ARGS * 8}, ${ARGS});
parentPort.postMessage('ready');
let seen = 0;
for (;;) {
  let s = Atomics.load(c, 0);
  for (let i = 0; s === seen && i < spin; i++) s = Atomics.load(c, 0);
  if (s === seen) { Atomics.wait(c, 0, seen); continue; }
  seen = s;
  const calls = c[3];
  if (calls < 0) break;
  try {
    for (let q = 0, o = 0; q < calls; q++) {
      const n = a[o + 1];
      const f = fns[a[o]];
      const p = o + 2;
      f(a[p], a[p + 1], a[p + 2], a[p + 3], a[p + 4], a[p + 5], a[p + 6], a[p + 7], a[p + 8], a[p + 9], a[p + 10], a[p + 11], a[p + 12]);
      o = p + n;
    }
    c[2] = 0;
  } catch (e) {
    c[2] = 1;
  }
  Atomics.store(c, 1, seen);
  Atomics.notify(c, 1);
}
`;

export class KernelPool {
  private readonly ctrl: Int32Array;
  private readonly args: Float64Array;
  private readonly workers: Worker[] = [];
  private seq = 0;
  private closed = false;
  /** Handoffs so far (tests: the split did happen). */
  runs = 0;
  /** Resolves when every worker has instantiated its kernels (the pool is used only after that). */
  readonly ready: Promise<void>;
  private isReady = false;

  /**
   * `threads` in all, the caller included (threads − 1 workers). `names` are the exports a
   * KernelCall can name, by index; `fns` the caller's own instance of them.
   */
  constructor(
    readonly threads: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    private readonly names: readonly string[],
    private readonly fns: Record<string, (...a: number[]) => unknown>,
  ) {
    const n = threads - 1;
    const ctrl = new SharedArrayBuffer(Math.max(1, n) * CTRL * 4);
    const args = new SharedArrayBuffer(Math.max(1, n) * ARGS * 8);
    this.ctrl = new Int32Array(ctrl);
    this.args = new Float64Array(args);
    const started: Promise<void>[] = [];
    for (let slot = 0; slot < n; slot++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, ctrl, args, slot, names: [...names], spin: SPIN } });
      w.unref();
      this.workers.push(w);
      started.push(
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`kernel pool worker exited (${code}) before it was ready`)));
        }),
      );
    }
    this.ready = Promise.all(started).then(() => {
      this.isReady = !this.closed;
    });
    this.ready.catch(() => this.close());
  }

  /** Whether `run` splits (all workers up, not closed). */
  get usable(): boolean {
    return this.isReady && !this.closed;
  }

  /** Worker threads alive (tests: none after `close`). */
  get workerCount(): number {
    return this.workers.length;
  }

  /**
   * Run `lists[0]` here and `lists[t]` on worker t − 1 (at most `threads` lists), returning when
   * all are done; a worker's kernel error is rethrown here. Call only when `usable`.
   */
  run(lists: KernelCall[][]): void {
    if (lists.length > this.threads) throw new Error(`kernel pool: ${lists.length} call lists for ${this.threads} threads`);
    // a worker's list must fit its argument block: split the handoff otherwise
    const fits = lists.every((l) => l.reduce((s, c) => s + c.length + 1, 0) <= ARGS);
    if (!fits) {
      const longest = Math.max(...lists.map((l) => l.length));
      const half = Math.ceil(longest / 2);
      this.run(lists.map((l) => l.slice(0, half)));
      this.run(lists.map((l) => l.slice(half)));
      return;
    }
    const seq = ++this.seq;
    this.runs++;
    for (let t = 1; t < lists.length; t++) {
      const base = (t - 1) * ARGS;
      let o = base;
      for (const [f, ...a] of lists[t]) {
        this.args[o] = f;
        this.args[o + 1] = a.length;
        this.args.set(a, o + 2);
        o += 2 + a.length;
      }
      const c = (t - 1) * CTRL;
      this.ctrl[c + 3] = lists[t].length;
      Atomics.store(this.ctrl, c, seq);
      Atomics.notify(this.ctrl, c);
    }
    let error: unknown;
    try {
      for (const [f, ...a] of lists[0] ?? []) this.fns[this.names[f]](...a);
    } catch (e) {
      error = e;
    }
    let failed = false;
    for (let t = 1; t < lists.length; t++) {
      const c = (t - 1) * CTRL;
      let done = Atomics.load(this.ctrl, c + 1);
      for (let i = 0; done !== seq && i < SPIN; i++) done = Atomics.load(this.ctrl, c + 1);
      while (done !== seq) {
        Atomics.wait(this.ctrl, c + 1, done);
        done = Atomics.load(this.ctrl, c + 1);
      }
      if (this.ctrl[c + 2] !== 0) failed = true;
    }
    if (error) throw error;
    if (failed) throw new Error('kernel pool: a kernel failed in a worker thread');
  }

  /** End the workers (idempotent): they leave their loop and are terminated. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.isReady = false;
    const seq = ++this.seq;
    for (let t = 0; t < this.workers.length; t++) {
      const c = t * CTRL;
      this.ctrl[c + 3] = -1;
      Atomics.store(this.ctrl, c, seq);
      Atomics.notify(this.ctrl, c);
    }
    const ws = this.workers.splice(0);
    return Promise.all(ws.map((w) => w.terminate())).then(() => undefined);
  }
}

/**
 * Cut [0, n) into `parts` ranges of about equal `weight(i0, i1)`, each boundary a multiple of
 * `align` (the kernel's row tile), so that the split changes no tile: empty ranges are dropped.
 */
export function splitRows(n: number, parts: number, align: number, weight: (i0: number, i1: number) => number = (i0, i1) => i1 - i0): [number, number][] {
  const total = weight(0, n);
  const out: [number, number][] = [];
  let i0 = 0;
  for (let p = 1; p <= parts && i0 < n; p++) {
    let i1 = n;
    if (p < parts) {
      const goal = (total * p) / parts;
      // the first aligned boundary whose prefix weight reaches the goal (binary search: weight grows with i1)
      let lo = i0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (weight(0, mid) >= goal) hi = mid;
        else lo = mid + 1;
      }
      i1 = Math.min(n, Math.ceil(lo / align) * align);
    }
    if (i1 > i0) out.push([i0, i1]);
    i0 = i1;
  }
  return out;
}
