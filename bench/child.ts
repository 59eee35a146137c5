/**
 * The measuring side of the benchmark: one row (or the streaming / soak measurement) in a fresh
 * process, so that RSS and the wasm heap (which never shrinks) start from the same place for every
 * row, as the PyTorch reference does with one subprocess per row.
 */
import * as fs from 'fs';
import * as os from 'os';
import { tf } from '../src/core/tf';
import { selectBackend, BackendRequest, isBackendRequest } from '../src/core/backend';
import { getMethod } from '../src/core/gradients';
import type { GradientOptions, GradientResult, MethodName } from '../src/core/gradients/types';
import { measurePeak } from '../src/core/memory';
import { offsetOf, setKernelRequest, wasmKernels, usablePool, K_GEMM } from '../src/core/wasm/module';
import type { WasmBackendLike } from '../src/core/wasm/module';
import { NaiveSolver } from '../src/core/solvers/naive';
import { HopfieldSystem } from '../src/experiments/hopfield/model';
import { dispose, toArray as flatten } from '../src/core/state';
import { builtinConfig, applyOverride } from '../src/config/load';
import { SCHEMA } from '../src/config/schema';
import type { RunnerName } from '../src/config/schema';
import { loadExperiment } from '../src/experiments';
import type { ExperimentSession } from '../src/experiments/types';
import { runExperiment } from '../src/run/runner';
import type { WorkerEvent } from '../src/protocol/messages';
import {
  ChildSpec,
  clocks,
  GEMM_SHAPES,
  readSumBytes,
  GemmChildSpec,
  HOPFIELD_FORWARD_WARMUP,
  GemmResult,
  GradChildSpec,
  GradRowResult,
  RowError,
  SoakChildSpec,
  SoakResult,
  SoakSample,
  StreamChildSpec,
  StreamResult,
  WORKLOAD_CONFIG,
  WorkloadName,
  median,
  min,
  procMem,
  resetHwm,
  variantFields,
} from './common';

async function useBackend(spec: ChildSpec): Promise<{ name: string; threads: number }> {
  if (!isBackendRequest(spec.backend)) throw new Error(`unknown backend '${spec.backend}'`);
  const choice = await selectBackend(spec.backend as BackendRequest, { searchPaths: spec.nativePaths, threads: spec.threads });
  if (choice.threads?.note) process.stderr.write(`    threads: ${choice.threads.note}\n`);
  return { name: choice.name, threads: choice.threads?.threads ?? 1 };
}

/** On webgpu: device bytes in use (buffers of live tensors, the reuse pool's free ones excluded). */
function gpuBytes(): number | undefined {
  const m = tf.memory() as { numBytesInGPU?: number };
  return tf.getBackend() === 'webgpu' ? m.numBytesInGPU : undefined;
}

function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.buffer.byteLength;
}

/**
 * Resident bytes of the wasm heap's mapping (Linux: /proc/self/smaps). V8 reserves several GiB of
 * address space per wasm memory and the pages become resident when first touched, so RSS can rise
 * while the heap's size stays the same; this tells those pages apart from growth elsewhere.
 */
function wasmResidentBytes(): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return undefined;
  }
  // A wasm memory is an rw-p mapping of the heap's current size directly followed by its ---p
  // reservation (several GiB) for growth and guard pages.
  const maps: { start: number; end: number; perms: string; rss: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) /.exec(line);
    if (m) maps.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), perms: m[3], rss: 0 });
    else if (line.startsWith('Rss:') && maps.length) maps[maps.length - 1].rss = Number(line.replace(/[^0-9]/g, '')) * 1024;
  }
  let total = 0;
  for (let i = 0; i + 1 < maps.length; i++) {
    const next = maps[i + 1];
    if (maps[i].perms === 'rw-p' && next.perms === '---p' && next.start === maps[i].end && next.end - next.start >= 4 * 2 ** 30) total += maps[i].rss;
  }
  return total;
}

/**
 * The machine's read bandwidth on one core, GB/s (1e9 bytes) of CPU time and of wall time: the best
 * of `trials` plain streaming reads (`read_sum`, four SIMD accumulators) over a buffer of `bytes` on the wasm heap, each
 * repeated until about 1 GB has been read. Undefined off the wasm backend or without our kernels.
 */
function streamReadGBs(bytes: number, trials: number): { cpu: number; wall: number } | undefined {
  const wk = wasmKernels(tf.backend());
  if (!wk) return undefined;
  const n = Math.ceil(bytes / 64) * 16;
  const buf = tf.ones([n + 1]);
  const backend = tf.backend() as unknown as WasmBackendLike;
  const at = offsetOf(backend, buf);
  const reps = Math.max(1, Math.round(1e9 / (n * 4)));
  let best = Infinity;
  let bestCpu = Infinity;
  for (let t = 0; t < trials; t++) {
    const k = clocks(() => {
      for (let r = 0; r < reps; r++) wk.fns.read_sum(at, n * 4, at + n * 4);
    });
    best = Math.min(best, k.wall / reps);
    bestCpu = Math.min(bestCpu, k.cpu / reps);
  }
  const sum = (buf.dataSync() as Float32Array)[n];
  buf.dispose();
  if (Math.abs(sum - n) > 1e-3 * n) throw new Error(`read_sum read ${sum} for ${n} ones`);
  return { cpu: (n * 4) / bestCpu / 1e6, wall: (n * 4) / best / 1e6 };
}

/** Whether the runner's config schema knows the field `model.<field>` (e.g. hypergrad's last_step). */
export function supportsModelField(runner: string, field: string): boolean {
  const spec = SCHEMA[runner as RunnerName] as unknown as { model?: Record<string, unknown> } | undefined;
  return Boolean(spec?.model && field in spec.model);
}

/** The overrides of one workload: `workload:section.field=value` for that workload only, or unprefixed for all. */
function overridesFor(workload: WorkloadName, overrides: string[] = []): string[] {
  return overrides.flatMap((o) => {
    const m = /^(\w+):(.*)$/.exec(o);
    return !m ? [o] : m[1] === workload ? [m[2]] : [];
  });
}

async function createSession(spec: GradChildSpec): Promise<ExperimentSession> {
  const wc = WORKLOAD_CONFIG[spec.workload];
  const builtin = builtinConfig(wc.config);
  if (!builtin) throw new Error(`no built-in config '${wc.config}'`);
  const config = overridesFor(spec.workload, spec.overrides).reduce(applyOverride, builtin);
  const experiment = await loadExperiment(config.runner);
  if (!experiment) throw new Error(`runner ${String(config.runner)} is not registered`);
  Object.assign(config.model as Record<string, unknown>, variantFields(spec.variant));
  const method = (spec.method === 'forward' ? 'BPTT' : getMethod(spec.method).name) as MethodName;
  const session = await experiment.create(config, method, spec.K ?? 1, {
    dataDir: spec.dataDir,
    log: (text) => process.stderr.write(`    [${spec.workload}] ${text}\n`),
  });
  session.beforeStep(0);
  return session;
}

/** Wait for the computation to finish on backends that run asynchronously (native TF on a GPU). */
function syncBackend(ts: tf.Tensor[]): void {
  const b = tf.getBackend();
  if (b === 'wasm' || b === 'cpu' || ts.length === 0) return;
  const s = tf.tidy(() => tf.sum(ts[0]));
  s.dataSync();
  s.dispose();
}

async function gradRow(spec: GradChildSpec): Promise<GradRowResult> {
  const { name: backend, threads } = await useBackend(spec);
  const session = await createSession(spec);
  const sys = session.system;
  const T = session.T;
  const load0 = os.loadavg()[0];
  let compute: (extra?: Partial<GradientOptions>) => { done: () => void; result?: GradientResult };
  if (spec.mode === 'forward') {
    const solver = new NaiveSolver();
    const h0 = sys.initialState();
    compute = () => {
      const r = solver.solve(sys, h0, { maxSteps: T });
      syncBackend(r.h);
      return { done: () => dispose(r.h) };
    };
  } else {
    const method = getMethod(spec.method);
    const opts: GradientOptions = { T, K: spec.K ?? T, ...session.gradientOptions };
    compute = (extra) => {
      const r = method.compute(sys, { ...opts, ...extra });
      syncBackend(r.grads);
      return { result: r, done: () => dispose(r.grads, r.lossGrads, r.adjoint ?? []) };
    };
  }

  const hwmOk = resetHwm();
  const m0 = procMem();
  const rssStart = m0?.rss ?? process.memoryUsage().rss;
  const maxRss0 = process.resourceUsage().maxRSS * 1024;
  const tensors0 = tf.memory().numTensors;

  let t0 = performance.now();
  compute().done();
  const firstMs = performance.now() - t0;
  const rssAfterWarm = process.memoryUsage().rss;
  // Tensors the first computation leaves behind on purpose (caches such as Hopfield's W_s).
  const firstNewTensors = tf.memory().numTensors - tensors0;
  let leak = 0;

  const peaks: number[] = [];
  const gpuPeaks: number[] = [];
  const profiled: number[] = [];
  for (let i = 0; i < spec.memRuns; i++) {
    t0 = performance.now();
    const { result, memory } = measurePeak(() => compute());
    profiled.push(performance.now() - t0);
    result.done();
    peaks.push(memory.peakBytes);
    if (memory.gpuPeakBytes !== undefined) gpuPeaks.push(memory.gpuPeakBytes);
  }
  const runnerStyle: number[] = [];
  if (spec.mode === 'grad') {
    for (let i = 0; i < spec.memRuns; i++) {
      t0 = performance.now();
      const { result } = measurePeak(() => compute({ trace: true }));
      runnerStyle.push(performance.now() - t0);
      result.done();
    }
  }

  // Hopfield's forward row: more passes before the timed ones, so that they time the steady state a
  // training run's thousands of passes see. In a fresh process the first ~10 passes run ~0.1 ms a
  // step slower (V8 still compiling tfjs's and our JS, and the wasm functions it calls per step,
  // to optimised code): 0.88, 0.89, 0.86, 0.86 … 0.80 ms per step over the first 9 (bench/README.md, "Bandwidth").
  if (spec.mode === 'forward' && spec.workload === 'hopfield') for (let i = 0; i < HOPFIELD_FORWARD_WARMUP; i++) compute().done();

  // Hopfield's forward row: after each timed run, a plain streaming read (`read_sum`) of the very
  // bytes each step reads (W_s's tensor), as many times as the run has steps: the same bytes, the
  // same buffer and alignment, warm, under the same load, timed with the same clocks; best of as
  // many on both sides. (The thread's own CPU clock, /proc/thread-self/schedstat, would leave V8's
  // helper threads out, but it advances in scheduler ticks of 4 ms here: too coarse for a 40 ms run.)
  const Ws = spec.mode === 'forward' && sys instanceof HopfieldSystem ? sys.symmetric(sys.W) : undefined;
  const readKernels = Ws ? wasmKernels(tf.backend()) : undefined;
  const paired: { forward: ReturnType<typeof clocks>[]; read: ReturnType<typeof clocks>[] } = { forward: [], read: [] };
  const wall: number[] = [];
  const cpu: number[] = [];
  let last: GradientResult | undefined;
  for (let i = 0; i < spec.runs; i++) {
    const before = tf.memory().numTensors;
    let r: ReturnType<typeof compute> | undefined;
    const k = clocks(() => (r = compute()));
    wall.push(k.wall);
    cpu.push(k.cpu);
    paired.forward.push(k);
    if (Ws && readKernels) {
      const backend = tf.backend() as unknown as WasmBackendLike;
      const at = offsetOf(backend, Ws as unknown as tf.TensorInfo);
      const sum = tf.zeros([1]);
      const to = offsetOf(backend, sum as unknown as tf.TensorInfo);
      paired.read.push(clocks(() => {
        for (let t = 0; t < T; t++) readKernels.fns.read_sum(at, readSumBytes(Ws.size * 4), to);
      }));
      sum.dispose();
    }
    if (!r) throw new Error('no result');
    if (i === spec.runs - 1 && r.result) last = r.result;
    else r.done();
    if (i < spec.runs - 1) leak = Math.max(leak, tf.memory().numTensors - before);
  }
  let gradLen: number | undefined;
  let gradDynLen: number | undefined;
  if (last) {
    const g = flatten([...last.grads, ...last.lossGrads]);
    gradLen = g.length;
    gradDynLen = last.grads.reduce((s, t) => s + t.size, 0);
    if (spec.gradOut) fs.writeFileSync(spec.gradOut, Buffer.from(g.buffer, g.byteOffset, g.byteLength));
    dispose(last.grads, last.lossGrads, last.adjoint ?? []);
  }
  const m1 = procMem();
  const rssEnd = m1?.rss ?? process.memoryUsage().rss;
  const peakRss = hwmOk && m1 ? m1.hwm : process.resourceUsage().maxRSS * 1024;
  const heapEnd = wasmHeapBytes();
  const residentEnd = wasmResidentBytes();
  const v8End = process.memoryUsage();
  // Hopfield's forward row: the weights each step reads (W_s, T times), the GB/s that makes, and the
  // machine's plain streaming read over a buffer of the weights' size and over 256 MiB (after the
  // RSS figures above, which these buffers would inflate). CPU time: wall time on a busy machine
  // counts other processes' time slices.
  let bandwidth: GradRowResult['bandwidth'];
  if (spec.mode === 'forward' && spec.workload === 'hopfield') {
    const weightBytes = sys.params.reduce((s, p) => s + p.size * 4, 0);
    const readW = streamReadGBs(weightBytes, 20);
    const readLarge = streamReadGBs(256 * 2 ** 20, 5);
    bandwidth = { weight_bytes: weightBytes, forward_gbs: (T * weightBytes) / min(cpu) / 1e6, forward_wall_gbs: (T * weightBytes) / min(wall) / 1e6, read_gbs: readW?.cpu, read_wall_gbs: readW?.wall, read_large_gbs: readLarge?.cpu };
    if (paired.read.length) {
      const gbs = (xs: number[]) => (T * weightBytes) / min(xs) / 1e6;
      const side = (ks: ReturnType<typeof clocks>[]) => ({ cpu: gbs(ks.map((k) => k.cpu)), wall: gbs(ks.map((k) => k.wall)) });
      bandwidth.paired = { runs: paired.read.length, forward: side(paired.forward), read: side(paired.read) };
    }
    process.stderr.write(`    bandwidth: forward reads ${(T * weightBytes / 1e9).toFixed(2)} GB of weights at ${bandwidth.forward_gbs.toFixed(1)} GB/s of CPU time (${bandwidth.forward_wall_gbs.toFixed(1)} of wall); streaming read ${readW?.cpu.toFixed(1) ?? '–'} GB/s (${readW?.wall.toFixed(1) ?? '–'} of wall) over ${(weightBytes / 2 ** 20).toFixed(1)} MiB, ${readLarge?.cpu.toFixed(1) ?? '–'} GB/s over 256 MiB\n`);
    const p = bandwidth.paired;
    if (p) process.stderr.write(`    paired (read_sum of W_s itself after each run): forward ${p.forward.cpu.toFixed(1)} / read ${p.read.cpu.toFixed(1)} GB/s of CPU time, ${p.forward.wall.toFixed(1)} / ${p.read.wall.toFixed(1)} of wall\n`);
  }
  const out: GradRowResult = {
    ok: true,
    workload: spec.workload,
    method: spec.method,
    K: spec.K,
    variant: spec.variant,
    T,
    backend,
    threads,
    runs: spec.runs,
    wall_ms: wall,
    cpu_ms: cpu,
    wall_median_ms: median(wall),
    wall_min_ms: min(wall),
    cpu_median_ms: median(cpu),
    first_ms: firstMs,
    peak_tensor_bytes: median(peaks),
    peak_gpu_bytes: gpuPeaks.length ? median(gpuPeaks) : undefined,
    profiled_median_ms: median(profiled),
    runner_style_median_ms: runnerStyle.length ? median(runnerStyle) : undefined,
    rss_start_bytes: rssStart,
    rss_peak_growth_bytes: Math.max(0, peakRss - (hwmOk ? rssStart : maxRss0)),
    rss_drift_bytes: rssEnd - rssAfterWarm,
    rss_method: hwmOk ? 'VmHWM (reset before the first computation) − VmRSS then' : 'ru_maxrss growth',
    wasm_heap_bytes: heapEnd,
    rss_peak_bytes: hwmOk && m1 ? m1.hwm : undefined,
    rss_end_parts: { wasm_resident_bytes: residentEnd, js_heap_total_bytes: v8End.heapTotal },
    tensor_leak: leak,
    first_new_tensors: firstNewTensors,
    loss: last?.loss,
    vjps: last?.vjps,
    jvps: last?.jvps,
    backward_iters: last?.backward.iterations.length,
    forward_final_rel: last?.forward.finalRel,
    grad_len: gradLen,
    grad_dyn_len: gradDynLen,
    loadavg: [load0, os.loadavg()[0]],
    bandwidth,
  };
  session.dispose();
  return out;
}

/** A short training run through runExperiment, with an emit that drops events vs one that JSON-serialises them. */
async function streamRow(spec: StreamChildSpec): Promise<StreamResult> {
  const runOnce = async (json: boolean) => {
    let events = 0;
    let bytes = 0;
    let serializeMs = 0;
    const byType: Record<string, number> = {};
    let seq = 0;
    const stepAt: number[] = [];
    const mark = (e: WorkerEvent) => {
      if (e.type === 'memory') stepAt.push(performance.now());
    };
    const emit = json
      ? (e: WorkerEvent) => {
          mark(e);
          const t = performance.now();
          // What the worker does: wrap in an envelope and hand it to process.send (which JSON-serialises it).
          const s = JSON.stringify({ ...e, runId: 'bench', seq: seq++, t: Date.now() });
          serializeMs += performance.now() - t;
          events++;
          bytes += Buffer.byteLength(s);
          byType[e.type] = (byType[e.type] ?? 0) + 1;
        }
      : mark;
    const t0 = performance.now();
    await runExperiment({ experiment: 'hopfield', method: spec.method, K: spec.K, steps: spec.steps, backend: spec.backend, nativeSearchPaths: spec.nativePaths }, emit);
    // Steady-state ms per step: the time between consecutive steps' memory events (the start-up
    // diagnostics and the final evaluation are left out).
    const gaps = stepAt.slice(1).map((t, i) => t - stepAt[i]);
    return { ms: performance.now() - t0, stepMs: median(gaps), events, bytes, serializeMs, byType };
  };
  const pairs: StreamResult['pairs'] = [];
  let last: Awaited<ReturnType<typeof runOnce>> | undefined;
  for (let p = 0; p < spec.pairs; p++) {
    const drop = await runOnce(false);
    last = await runOnce(true);
    pairs.push({ drop_ms: drop.ms, json_ms: last.ms, drop_step_ms: drop.stepMs, json_step_ms: last.stepMs });
    process.stderr.write(`    stream pair ${p + 1}/${spec.pairs}: drop ${drop.stepMs.toFixed(1)} ms/step, json ${last.stepMs.toFixed(1)} ms/step (whole runs ${drop.ms.toFixed(0)} / ${last.ms.toFixed(0)} ms)\n`);
  }
  const measured = pairs.length > 1 ? pairs.slice(1) : pairs;
  const dropMs = median(measured.map((p) => p.drop_step_ms));
  const jsonMs = median(measured.map((p) => p.json_step_ms));
  return {
    method: spec.method,
    K: spec.K,
    steps: spec.steps,
    drop_ms_per_step: dropMs,
    json_ms_per_step: jsonMs,
    overhead_ms_per_step: jsonMs - dropMs,
    overhead_pct: (100 * (jsonMs - dropMs)) / dropMs,
    serialize_ms_per_step: last!.serializeMs / spec.steps,
    events_per_step: last!.events / spec.steps,
    bytes_per_step: last!.bytes / spec.steps,
    events_by_type: last!.byType,
    pairs,
  };
}

/** GFLOP/s of the models' hot matMul shapes with this process's kernels (best of `trials`). */
async function gemmRow(spec: GemmChildSpec): Promise<GemmResult> {
  setKernelRequest(spec.kernels); // before the backend registers its matMul kernels
  const loadavg = os.loadavg()[0];
  const choice = await selectBackend('wasm', { threads: spec.threads }); // the kernels are the wasm backend's
  const threads = choice.threads?.threads ?? 1;
  const variant = choice.kernels?.active ? choice.kernels.variant ?? '?' : `tfjs (${choice.name === 'wasm' ? 'XNNPACK' : choice.name})`;
  const cpuPerWall: number[] = [];
  const gflops = GEMM_SHAPES.map(({ M, K, N, transposeA }) => {
    const a = tf.randomNormal(transposeA ? [K, M] : [M, K]);
    const b = tf.randomNormal([K, N]);
    const reps = Math.max(3, Math.round(2e7 / (2 * M * K * N)));
    for (let i = 0; i < 50; i++) tf.matMul(a, b, transposeA, false).dispose();
    let best = Infinity;
    let bestCpu = NaN;
    for (let t = 0; t < spec.trials; t++) {
      const k = clocks(() => {
        for (let i = 0; i < reps; i++) tf.matMul(a, b, transposeA, false).dispose();
      });
      if (k.wall / reps < best) [best, bestCpu] = [k.wall / reps, k.cpu / reps];
    }
    tf.dispose([a, b]);
    cpuPerWall.push(bestCpu / best);
    return (2 * M * K * N) / best / 1e6;
  });
  process.stderr.write(`    gemm ${variant}, ${threads} thread(s), load ${loadavg.toFixed(2)}: ${gflops.map((g, i) => `${g.toFixed(1)} (CPU÷wall ${cpuPerWall[i].toFixed(2)})`).join(' / ')} GFLOP/s\n`);
  const handoffUs = poolHandoffUs();
  if (handoffUs) process.stderr.write(`    kernel pool handoff (an empty call list to the worker and back): median ${handoffUs[0].toFixed(1)} µs, 90th percentile ${handoffUs[1].toFixed(1)} µs\n`);
  return { kernels: spec.kernels, variant, trials: spec.trials, gflops, cpu_per_wall: cpuPerWall, threads, loadavg, handoff_us: handoffUs };
}

/** With a kernel pool: the round trip of one handoff that does no work (median and 90th percentile of 2000, µs). */
function poolHandoffUs(): [number, number] | undefined {
  const k = wasmKernels(tf.backend());
  const pool = k && usablePool(k);
  if (!pool) return undefined;
  const us: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    pool.run([[], [[K_GEMM, 0, 0, 0, 0, 0, 0, 0, 4, 4, 0, 0, 32, 0]]]); // M = 0: the kernel returns at once
    us.push((performance.now() - t0) * 1000);
  }
  us.sort((a, b) => a - b);
  return [us[1000], us[1800]];
}

/** A long training run (Hopfield unless asked): RSS and live tensors every `every` steps. */
async function soakRow(spec: SoakChildSpec): Promise<SoakResult> {
  const samples: SoakSample[] = [];
  let warmFrom = Infinity;
  const t0 = performance.now();
  let lastStepMs = NaN;
  const emit = (e: WorkerEvent) => {
    if (e.type === 'metrics' && e.kind === 'train') lastStepMs = e.values.step_ms ?? NaN;
    // The first evaluation after a training step (the runner may also evaluate once before training).
    if (e.type === 'metrics' && e.kind === 'eval' && samples.length > 0 && !Number.isFinite(warmFrom)) warmFrom = e.step + 1;
    if (e.type === 'memory' && (e.step === 0 || (e.step + 1) % spec.every === 0)) {
      const mu = process.memoryUsage();
      samples.push({
        step: e.step + 1,
        elapsed_s: (performance.now() - t0) / 1000,
        rss_bytes: e.rssBytes,
        num_tensors: e.numTensors,
        num_bytes: e.liveBytes,
        js_heap_bytes: mu.heapUsed,
        js_heap_total_bytes: mu.heapTotal,
        external_bytes: mu.external,
        wasm_heap_bytes: wasmHeapBytes(),
        wasm_resident_bytes: wasmResidentBytes(),
        gpu_bytes: gpuBytes(),
        step_ms: lastStepMs,
      });
      const s = samples[samples.length - 1];
      process.stderr.write(`    soak step ${s.step}: rss ${(s.rss_bytes / 2 ** 20).toFixed(0)} MiB (wasm heap ${((s.wasm_heap_bytes ?? NaN) / 2 ** 20).toFixed(0)} MiB, resident ${((s.wasm_resident_bytes ?? NaN) / 2 ** 20).toFixed(0)} MiB; JS heap ${(s.js_heap_total_bytes / 2 ** 20).toFixed(0)} MiB, external ${(s.external_bytes / 2 ** 20).toFixed(0)} MiB), ${s.num_tensors} tensors, ${(s.num_bytes / 2 ** 20).toFixed(1)} MiB live, ${s.step_ms.toFixed(0)} ms/step\n`);
    }
    if (e.type === 'run/failed') throw new Error(e.reason);
  };
  const workload = spec.workload ?? 'hopfield';
  await runExperiment({ experiment: WORKLOAD_CONFIG[workload].config, method: spec.method, K: spec.K, steps: spec.steps, backend: spec.backend, nativeSearchPaths: spec.nativePaths, dataDir: spec.dataDir, overrides: overridesFor(workload, spec.overrides) }, emit);
  const totalMs = performance.now() - t0;
  // "After warm-up": samples taken after the first evaluation (its batch of 10 images grows the heap once).
  const warm = samples.filter((s) => s.step > warmFrom);
  const base = warm.length >= 2 ? warm : samples.slice(1);
  const flatOf = (xs: number[]) => xs.length < 2 || Math.max(...xs) === Math.min(...xs);
  const rssGrowth = base.length ? base[base.length - 1].rss_bytes - base[0].rss_bytes : NaN;
  const tensorsFlat = flatOf(base.map((s) => s.num_tensors));
  const bytesFlat = flatOf(base.map((s) => s.num_bytes));
  const gpuFlat = base.some((s) => s.gpu_bytes !== undefined) ? flatOf(base.map((s) => s.gpu_bytes ?? NaN)) : undefined;
  // RSS may wobble by a few pages (JS heap, GC); call it flat below 16 MiB or 2 % over the window.
  const rssFlat = Number.isFinite(rssGrowth) && rssGrowth < Math.max(16 * 2 ** 20, 0.02 * (base[0]?.rss_bytes ?? 0));
  return {
    workload,
    method: spec.method,
    K: spec.K,
    steps: spec.steps,
    every: spec.every,
    samples,
    warm_from_step: Number.isFinite(warmFrom) ? warmFrom : 1,
    tensors_flat: tensorsFlat,
    bytes_flat: bytesFlat,
    gpu_flat: gpuFlat,
    rss_growth_after_warmup_bytes: rssGrowth,
    rss_flat: rssFlat,
    flat: tensorsFlat && bytesFlat && rssFlat && gpuFlat !== false,
    ms_per_step: totalMs / spec.steps,
    malloc_arena_max: process.env.MALLOC_ARENA_MAX ?? null,
  };
}

export async function runChild(spec: ChildSpec): Promise<void> {
  let out: GradRowResult | RowError | StreamResult | SoakResult | GemmResult;
  if (spec.mode === 'grad' || spec.mode === 'forward') {
    try {
      out = await gradRow(spec);
    } catch (err) {
      out = { ok: false, workload: spec.workload, method: spec.method, K: spec.K, variant: spec.variant, error: err instanceof Error ? err.message : String(err) };
    }
  } else if (spec.mode === 'stream') out = await streamRow(spec);
  else if (spec.mode === 'soak') out = await soakRow(spec);
  else if (spec.mode === 'gemm') out = await gemmRow(spec);
  else throw new Error(`unknown child mode '${(spec as { mode: string }).mode}'`);
  fs.writeFileSync(spec.resultOut, JSON.stringify(out));
}
