/**
 * Where a Hopfield forward step's time goes, against a plain streaming read of the same bytes
 * (bench/README.md, "Bandwidth"): `npm run build && node dist/hopfield-stream.js [trials]`.
 * Each case runs T = 50 times per trial (one forward pass's worth of W_s reads); the cases
 * alternate within a trial, and each prints its best trial: ms per step of process CPU time, GB/s
 * of W_s (2592², 25.6 MiB) read, and that as a fraction of `read_sum` over W_s itself. The cases
 * add a step's pieces one at a time: the kernel, its tail, a fresh output, σ(b h) and the copy
 * of s, tfjs's dispatch, the solver's residual and trace; the `bare` ones run the step's kernels
 * on two buffers in turn without tfjs's engine. The first trials run slower (V8 still optimising
 * the per-step code): use 20 or more.
 */
import * as os from 'os';
import { tf } from '../src/core/tf';
import { selectBackend } from '../src/core/backend';
import { wasmKernels, offsetOf, setKernelRequest, type WasmBackendLike } from '../src/core/wasm/module';
import { HopfieldSystem, HOPFIELD_DEFAULTS } from '../src/experiments/hopfield/model';
import { hopfieldPatterns } from '../src/experiments/hopfield/data';
import { NaiveSolver } from '../src/core/solvers/naive';
import { streamDot, streamDotAvailable } from '../src/experiments/hopfield/kernel';
import { squaredResidual } from '../src/core/kernels/fused';
import { cpuMs, readSumBytes } from './common';

/** T, the steps a case runs per trial: one forward pass's worth of W_s reads. */
const T = 50;

/**
 * What both modes time: the Hopfield system (one pattern), the wasm kernels, W_s, h_0 and s = σ(b h_0),
 * s also copied to a 64-byte boundary at `xa` (as `streamDot` copies it), an output row, the tail's
 * mask and clamp, a solver.
 */
function setUp() {
  const sys = new HopfieldSystem(HOPFIELD_DEFAULTS, hopfieldPatterns(1));
  const n = sys.n;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const wk = wasmKernels(backend);
  if (!wk || !streamDotAvailable(1)) throw new Error('the wasm kernels (stream_dot) are not loaded');
  const at = (t: tf.Tensor) => offsetOf(backend, t as unknown as tf.TensorInfo);
  const Ws = sys.symmetric(sys.W);
  const h = sys.initialState();
  const s = tf.tidy(() => tf.sigmoid(tf.mul(h[0], sys.opts.b)));
  const out = tf.zeros([1, n]);
  const buf = tf.zeros([n + 16]);
  const xa = Math.ceil(at(buf) / 64) * 64;
  new Float32Array(wk.memory.buffer).set(s.dataSync() as Float32Array, xa / 4);
  const { mask, clamp } = sys as unknown as { mask: tf.Tensor; clamp: tf.Tensor };
  return { sys, n, backend, wk, at, Ws, h, s, out, buf, xa, mask, clamp, solver: new NaiveSolver() };
}

async function main(): Promise<void> {
  const trials = Number(process.argv[2] ?? 15);
  await selectBackend('wasm');
  if (process.argv.includes('--offsets')) return offsets(trials);
  const { sys, n, backend, wk, at, Ws, h, s, out, buf, xa: sa, mask, clamp, solver } = setUp();
  // s also at W_s's address mod 64
  const buf2 = tf.zeros([n + 32]);
  const sw = Math.ceil(at(buf2) / 64) * 64 + (at(Ws) % 64);
  new Float32Array(wk.memory.buffer).set(s.dataSync() as Float32Array, sw / 4);
  const steps = (f: () => void) => () => {
    for (let t = 0; t < T; t++) f();
  };
  // T steps without tfjs's engine (no tensors, tidy, runKernel or read-back): the step's kernels called
  // directly on two h buffers used in turn; `sigmoid`: s = σ(b h) by ew_scale and the backend's
  // Sigmoid kernel (else the fixed aligned s), `tail`: ⊙ mask + clamp, `residual`: sq_residual per step
  const bare = (parts: { sigmoid?: boolean; residual?: boolean; tail?: boolean }) => () => {
    const bufs = [backend.makeOutput([1, n], 'float32'), backend.makeOutput([1, n], 'float32')];
    const sc = backend.makeOutput([n + 16], 'float32');
    const res = backend.makeOutput([2], 'float32');
    new Float32Array(wk.memory.buffer).set(h[0].dataSync() as Float32Array, offsetOf(backend, bufs[0]) / 4);
    const sg = tf.getKernel('Sigmoid', 'wasm')!;
    for (let t = 0; t < T; t++) {
      const [cur, nxt] = [bufs[t % 2], bufs[(t + 1) % 2]];
      let x = sa;
      let sv: tf.TensorInfo | undefined;
      if (parts.sigmoid) {
        wk.fns.ew_scale(offsetOf(backend, cur), offsetOf(backend, sc), n, sys.opts.b);
        sv = sg.kernelFunc({ inputs: { x: sc }, backend: backend as never, attrs: {} }) as tf.TensorInfo;
        x = offsetOf(backend, sv);
      }
      wk.fns.stream_dot(x, at(Ws), offsetOf(backend, nxt), 1, n, n, parts.tail ? 2 : 0, 0, 0, at(mask), at(clamp));
      if (sv) backend.disposeData(sv.dataId);
      if (parts.residual) wk.fns.sq_residual(offsetOf(backend, nxt), offsetOf(backend, cur), n, offsetOf(backend, res));
    }
    for (const b of [...bufs, sc, res]) backend.disposeData(b.dataId);
  };
  const cases: [string, () => void][] = [
    ['read_sum over W_s', steps(() => wk.fns.read_sum(at(Ws), readSumBytes(n * n * 4), at(out)))],
    [`stream_dot, x at W_s's ${at(Ws) % 64} mod 64`, steps(() => wk.fns.stream_dot(sw, at(Ws), at(out), 1, n, n, 0, 0, 0, 0, 0))],
    ['stream_dot, x aligned', steps(() => wk.fns.stream_dot(sa, at(Ws), at(out), 1, n, n, 0, 0, 0, 0, 0))],
    [`stream_dot, x at ${at(s) % 64} mod 64`, steps(() => wk.fns.stream_dot(at(s), at(Ws), at(out), 1, n, n, 0, 0, 0, 0, 0))],
    ['stream_dot + tail (⊙ mask + clamp)', steps(() => wk.fns.stream_dot(sa, at(Ws), at(out), 1, n, n, 2, 0, 0, at(mask), at(clamp)))],
    [
      '  the same into a fresh output',
      steps(() => {
        const o = backend.makeOutput([1, n], 'float32');
        wk.fns.stream_dot(sa, at(Ws), offsetOf(backend, o), 1, n, n, 2, 0, 0, at(mask), at(clamp));
        backend.disposeData(o.dataId);
      }),
    ],
    [
      'σ(b h), copy, allocations alone',
      steps(() => {
        const sc = backend.makeOutput([1, n], 'float32');
        wk.fns.ew_scale(at(h[0]), offsetOf(backend, sc), n, sys.opts.b);
        const sg = tf.getKernel('Sigmoid', 'wasm')!.kernelFunc({ inputs: { x: sc }, backend: backend as never, attrs: {} }) as tf.TensorInfo;
        const cp = backend.makeOutput([n + 16], 'float32');
        const xa = Math.ceil(offsetOf(backend, cp) / 64) * 64;
        new Float32Array(wk.memory.buffer).copyWithin(xa / 4, offsetOf(backend, sg) / 4, offsetOf(backend, sg) / 4 + n);
        for (const t of [sc, sg, cp]) backend.disposeData(t.dataId);
      }),
    ],
    [
      'the kernel function (no engine)',
      steps(() => {
        const o = tf.getKernel('RbpStreamDot', 'wasm')!.kernelFunc({ inputs: { x: h[0], w: Ws, mask, clamp } as never, backend: backend as never, attrs: { c: 1, sigmoidOf: sys.opts.b } }) as tf.TensorInfo;
        backend.disposeData(o.dataId);
      }),
    ],
    ['bare: stream_dot + tail', bare({ tail: true })],
    ['bare: + residual', bare({ tail: true, residual: true })],
    ['bare: + σ', bare({ tail: true, sigmoid: true })],
    ['bare: + σ + residual (a whole step)', bare({ tail: true, sigmoid: true, residual: true })],
    ['streamDot (engine.runKernel)', steps(() => streamDot(h[0], Ws, { sigmoidOf: sys.opts.b, mask, clamp }).dispose())],
    ['residual (squaredResidual) alone', steps(() => squaredResidual(h[0], s))],
    ['tfjs matMul s·W_s (XNNPACK)', steps(() => tf.matMul(s, Ws).dispose())],
    ['step (one dispatch)', steps(() => tf.dispose(sys.step(h, sys.params, 0, 'unroll')))],
    [
      'step, op path (kernels off)',
      () => {
        setKernelRequest('off');
        steps(() => tf.dispose(sys.step(h, sys.params, 0, 'unroll')))();
        setKernelRequest('auto');
      },
    ],
    ['forward pass (NaiveSolver)', () => tf.dispose(solver.solve(sys, h, { maxSteps: T }).h)],
  ];
  const best = new Map<string, number>();
  for (let i = 0; i < trials; i++) {
    for (const [name, f] of cases) {
      const c0 = cpuMs();
      f();
      best.set(name, Math.min(best.get(name) ?? Infinity, (cpuMs() - c0) / T));
    }
  }
  const read = best.get(cases[0][0])!;
  const bytes = n * n * 4;
  for (const [name] of cases) {
    const ms = best.get(name)!;
    console.log(`${name.padEnd(36)} ${ms.toFixed(3)} ms/step  ${(bytes / ms / 1e6).toFixed(1)} GB/s  ${(read / ms).toFixed(2)} of read_sum`);
  }
  console.log(`best of ${trials} trials of ${T} steps, process CPU time; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  tf.dispose([s, out, buf, buf2, ...h]);
  sys.dispose();
}

/**
 * `--offsets`: the forward pass (NaiveSolver, T steps) against `read_sum` over the same W_s, with
 * W_s at each of the 8 float32-pair offsets mod 64 that tfjs's 8-byte-aligned allocator can give
 * it (copies of W_s allocated until one lands at each, the system's cache pointed at it in turn);
 * also `stream_dot` + tail alone (x at a 64-byte boundary, as `streamDot` puts it). Offsets alternate within a trial; best of `trials`.
 */
async function offsets(trials: number): Promise<void> {
  const { sys, n, wk, at, Ws, h, s: sv, out, buf, xa, mask, clamp, solver } = setUp();
  const data = Ws.dataSync() as Float32Array;
  const placed = new Map<number, tf.Tensor>();
  const spare: tf.Tensor[] = [];
  for (let i = 0; placed.size < 8 && i < 400; i++) {
    const t = tf.tensor2d(data, [n, n]);
    if (placed.has(at(t) % 64)) spare.push(t);
    else placed.set(at(t) % 64, t);
    spare.push(tf.zeros([2 * (1 + (i % 8))]));
    if (spare.length > 40) tf.dispose(spare.splice(0));
  }
  tf.dispose(spare);
  const cache = sys as unknown as { symCache: { dataId: object; Ws: tf.Tensor } };
  const own = cache.symCache;
  const mods = [...placed.keys()].sort((a, b) => a - b);
  const best = new Map<string, number>();
  const time = (key: string, f: () => void) => {
    const c0 = cpuMs();
    f();
    best.set(key, Math.min(best.get(key) ?? Infinity, (cpuMs() - c0) / T));
  };
  for (let i = 0; i < trials; i++) {
    for (const m of mods) {
      const W = placed.get(m)!;
      time(`read ${m}`, () => {
        for (let t = 0; t < T; t++) wk.fns.read_sum(at(W), readSumBytes(n * n * 4), at(out));
      });
      time(`kernel ${m}`, () => {
        for (let t = 0; t < T; t++) wk.fns.stream_dot(xa, at(W), at(out), 1, n, n, 2, 0, 0, at(mask), at(clamp));
      });
      cache.symCache = { dataId: own.dataId, Ws: W };
      time(`forward ${m}`, () => tf.dispose(solver.solve(sys, h, { maxSteps: T }).h));
      cache.symCache = own;
    }
  }
  const bytes = n * n * 4;
  const gbs = (ms: number) => (bytes / ms / 1e6).toFixed(1);
  console.log('| W_s mod 64 | read_sum ms (GB/s) | stream_dot + tail ms (GB/s) | ÷ read | forward ms a step (GB/s) | ÷ read |');
  console.log('|---|---|---|---|---|---|');
  for (const m of mods) {
    const [r, k, f] = ['read', 'kernel', 'forward'].map((c) => best.get(`${c} ${m}`)!);
    console.log(`| ${m} | ${r.toFixed(3)} (${gbs(r)}) | ${k.toFixed(3)} (${gbs(k)}) | ${(r / k).toFixed(2)} | ${f.toFixed(3)} (${gbs(f)}) | ${(r / f).toFixed(2)} |`);
  }
  console.log(`best of ${trials} trials of ${T} steps, offsets alternating, process CPU time; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  tf.dispose([...placed.values(), out, buf, sv, ...h]);
  sys.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
