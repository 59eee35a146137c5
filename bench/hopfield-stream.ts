/**
 * Where a Hopfield forward step's time goes, against a plain streaming read of the same bytes
 * (bench/README.md, "Bandwidth"): `npm run build && node dist/hopfield-stream.js [trials]`.
 * Each case runs T = 50 times per trial (one forward pass's worth of W_s reads); the cases
 * alternate within a trial, and each prints its best trial: ms per step of process CPU time, GB/s
 * of W_s (2592², 25.6 MiB) read, and that as a fraction of `read_sum` over W_s itself.
 */
import * as os from 'os';
import { tf } from '../src/core/tf';
import { selectBackend } from '../src/core/backend';
import { wasmKernels, offsetOf, setKernelRequest, type WasmBackendLike } from '../src/core/wasm/module';
import { HopfieldSystem, HOPFIELD_DEFAULTS } from '../src/experiments/hopfield/model';
import { hopfieldPatterns } from '../src/experiments/hopfield/data';
import { NaiveSolver } from '../src/core/solvers/naive';

const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

async function main(): Promise<void> {
  const trials = Number(process.argv[2] ?? 15);
  await selectBackend('wasm');
  const sys = new HopfieldSystem(HOPFIELD_DEFAULTS, hopfieldPatterns(1));
  const n = sys.n;
  const T = 50;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const wk = wasmKernels(backend);
  if (!wk) throw new Error('the wasm kernels are not loaded');
  const Ws = sys.symmetric(sys.W);
  const h = sys.initialState();
  const s = tf.tidy(() => tf.sigmoid(tf.mul(h[0], sys.opts.b)));
  const out = tf.zeros([1, n]);
  const buf = tf.zeros([n + 16]);
  const at = (t: tf.Tensor) => offsetOf(backend, t as unknown as tf.TensorInfo);
  // s copied to a 64-byte boundary, as the kernel's caller does
  const sa = Math.ceil(at(buf) / 64) * 64;
  new Float32Array(wk.memory.buffer).set(s.dataSync() as Float32Array, sa / 4);
  const solver = new NaiveSolver();
  const steps = (f: () => void) => () => {
    for (let t = 0; t < T; t++) f();
  };
  const cases: [string, () => void][] = [
    ['read_sum over W_s', steps(() => wk.fns.read_sum(at(Ws), n * n * 4, at(out)))],
    ['stream_dot, x aligned', steps(() => wk.fns.stream_dot(sa, at(Ws), at(out), 1, n, n, 0, 0, 0, 0, 0))],
    [`stream_dot, x at ${at(s) % 64} mod 64`, steps(() => wk.fns.stream_dot(at(s), at(Ws), at(out), 1, n, n, 0, 0, 0, 0, 0))],
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
    console.log(`${name.padEnd(30)} ${ms.toFixed(3)} ms/step  ${(bytes / ms / 1e6).toFixed(1)} GB/s  ${(read / ms).toFixed(2)} of read_sum`);
  }
  console.log(`best of ${trials} trials of ${T} steps, process CPU time; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  tf.dispose([s, out, buf, ...h]);
  sys.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
