/**
 * Types shared by the benchmark's parent (bench.ts) and the child processes (child.ts), plus small
 * statistics and process-memory helpers.
 */
import * as fs from 'fs';

export const WORKLOADS = ['hopfield', 'gnn', 'hypergrad'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

/** Built-in config name and the runner that has to be registered for each workload. */
/** Each workload's built-in config, runner, and the K of its main rows (the issue's: 20, 5, 50). */
/**
 * Untimed forward passes before the timed runs of Hopfield's forward row, on both sides (ours in
 * child.ts, the reference's through torch_forward.py --warmup): bench/README.md, "Bandwidth".
 */
export const HOPFIELD_FORWARD_WARMUP = 15;

export const WORKLOAD_CONFIG: Record<WorkloadName, { config: string; runner: string; K: number }> = {
  hopfield: { config: 'hopfield', runner: 'HopfieldRunner', K: 20 },
  gnn: { config: 'cora', runner: 'CitationRunner', K: 5 },
  hypergrad: { config: 'hypergrad', runner: 'HypergradRunner', K: 50 },
};

/** A row id usable as a file name. */
export function rowFileName(row: RowKey): string {
  return rowId(row).replace(/[^\w.-]+/g, '_');
}

/** One benchmark row: a gradient computation (method) or the forward pass alone ('forward'). */
export interface RowKey {
  workload: WorkloadName;
  /** A gradient method name, or 'forward' for T plain steps with the NaiveSolver. */
  method: string;
  K: number | null;
  /**
   * '' or '+'-joined tags: for hypergrad's RBP family the data of the last step ('full' |
   * 'minibatch'); 'abs' for CG-RBP with the authors' absolute stopping test (model.cg_stop: absolute).
   */
  variant: string;
}

/** The config fields a row's variant sets: model.last_step and model.cg_stop. */
export function variantFields(variant: string): { last_step?: string; cg_stop?: 'absolute' } {
  const out: { last_step?: string; cg_stop?: 'absolute' } = {};
  for (const tag of variant.split('+').filter(Boolean)) {
    if (tag === 'abs') out.cg_stop = 'absolute';
    else if (tag === 'full' || tag === 'minibatch') out.last_step = tag;
    else throw new Error(`unknown row variant '${tag}' (full, minibatch, abs)`);
  }
  return out;
}

export function rowId(k: RowKey): string {
  return `${k.workload}/${k.method}/${k.K ?? '-'}/${k.variant}`;
}

interface ChildCommon {
  backend: string;
  /** Config overrides `section.field=value` (bench --set), e.g. a small model on a software adapter. */
  overrides?: string[];
  nativePaths: string[];
  dataDir: string;
  /** Where the child writes its JSON result. */
  resultOut: string;
  /** Threads of the wasm kernels (selectBackend's `threads`); undefined: RBP_THREADS or the default. */
  threads?: number;
}

export interface GradChildSpec extends ChildCommon, RowKey {
  mode: 'grad' | 'forward';
  runs: number;
  /** Memory (measurePeak) runs and runner-style (measurePeak + trace) runs. */
  memRuns: number;
  /** Where a gradient row writes its flattened gradient (float32, params then loss params). */
  gradOut?: string;
}

export interface StreamChildSpec extends ChildCommon {
  mode: 'stream';
  method: string;
  K: number;
  steps: number;
  /** Number of (drop, json) pairs; the first pair is a warm-up, the rest give the medians. */
  pairs: number;
}

export interface SoakChildSpec extends ChildCommon {
  mode: 'soak';
  /** Whose training run (default hopfield). */
  workload?: WorkloadName;
  method: string;
  K: number;
  steps: number;
  every: number;
}

export interface GemmChildSpec extends ChildCommon {
  mode: 'gemm';
  /** RBP_LAB_WASM_KERNELS for this child: off (tfjs's XNNPACK), simd, or auto (relaxed SIMD where available). */
  kernels: 'off' | 'simd' | 'auto';
  trials: number;
}

export type ChildSpec = GradChildSpec | StreamChildSpec | SoakChildSpec | GemmChildSpec;

/** The matMul shapes timed by the gemm section: the models' hot products. */
export const GEMM_SHAPES: { name: string; M: number; K: number; N: number; transposeA: boolean }[] = [
  { name: 'GNN gate, h·W (2708×64·64×64)', M: 2708, K: 64, N: 64, transposeA: false },
  { name: 'GNN weight grad, hᵀ·G (64×2708·2708×64)', M: 64, K: 2708, N: 64, transposeA: true },
  { name: 'MLP layer 1, X·W₁ (200×784·784×50)', M: 200, K: 784, N: 50, transposeA: false },
  { name: 'MLP grad, Xᵀ·δ (784×200·200×50)', M: 784, K: 200, N: 50, transposeA: true },
  { name: 'MLP full-set grad, Xᵀ·δ (784×10000·10000×50)', M: 784, K: 10000, N: 50, transposeA: true },
  { name: 'MLP hidden, X·W (200×50·50×50)', M: 200, K: 50, N: 50, transposeA: false },
];

export interface GemmResult {
  kernels: 'off' | 'simd' | 'auto';
  /** What ran: "tfjs (XNNPACK)", "simd", "relaxed-simd". */
  variant: string;
  trials: number;
  /** Best-of-trials GFLOP/s per GEMM_SHAPES entry (best of: the machine is shared). */
  gflops: number[];
  /** Process CPU time ÷ wall time of each best trial (about the threads in use when the machine is quiet). */
  cpu_per_wall?: number[];
  /** Threads the kernels used, and the load average at the start. */
  threads?: number;
  loadavg?: number;
  /** With a kernel pool: one empty handoff's round trip, median and 90th percentile, µs. */
  handoff_us?: [number, number];
}

/** What a gradient/forward child reports. Times in ms, memory in bytes. */
export interface GradRowResult extends RowKey {
  ok: true;
  T: number;
  backend: string;
  /** Threads of the wasm kernels (1 off wasm or without a shared heap). */
  threads?: number;
  runs: number;
  wall_ms: number[];
  cpu_ms: number[];
  wall_median_ms: number;
  wall_min_ms: number;
  cpu_median_ms: number;
  /** The first (warm-up) computation: includes one-off costs such as growing the wasm heap. */
  first_ms: number;
  /** measurePeak: highest live tensor bytes above the start, median over the memory runs. */
  peak_tensor_bytes: number;
  /** On a GPU backend (webgpu): highest device bytes in use above the start (tf.memory().numBytesInGPU's buffers), median over the memory runs. */
  peak_gpu_bytes?: number;
  /** Median wall time of the memory runs (profiling on: every kernel is recorded). */
  profiled_median_ms: number;
  /** Median wall time of a training-loop step as runExperiment does it: measurePeak + trace: true. */
  runner_style_median_ms?: number;
  /** RSS when the session was ready, before the first computation. */
  rss_start_bytes: number;
  /** Peak RSS (VmHWM) over all computations, minus rss_start_bytes. */
  rss_peak_growth_bytes: number;
  /** RSS after the timed runs minus RSS after the warm-up (a leak shows here). */
  rss_drift_bytes: number;
  rss_method: string;
  /** wasm only: the wasm memory size at the end (it never shrinks). */
  wasm_heap_bytes?: number;
  /** Peak RSS of the process (VmHWM since the reset before the first computation); absent where /proc does not allow the reset. */
  rss_peak_bytes?: number;
  /** Parts of the RSS after the timed runs: the wasm heap's resident pages (Linux) and the V8 heap reserved. */
  rss_end_parts?: { wasm_resident_bytes?: number; js_heap_total_bytes: number };
  /** Most live tensors a timed computation left after its results were disposed (0 = no leak). */
  tensor_leak: number;
  /** Live tensors the warm-up computation left (caches, e.g. Hopfield's symmetrised W). */
  first_new_tensors: number;
  loss?: number;
  vjps?: number;
  jvps?: number;
  /** Backward iterations recorded (CG: iterations run). */
  backward_iters?: number;
  forward_final_rel?: number;
  grad_len?: number;
  grad_dyn_len?: number;
  loadavg: [number, number];
  /**
   * Hopfield's forward row: the weights' bytes (each step reads them once), the forward pass's
   * T × weight_bytes / the fastest run's CPU time (and wall time), GB/s, and on wasm the best plain
   * streaming read over a buffer of weight_bytes and over 256 MiB (`read_sum`, per CPU second; the
   * first also per wall second).
   */
  bandwidth?: {
    weight_bytes: number;
    forward_gbs: number;
    forward_wall_gbs: number;
    read_gbs?: number;
    read_wall_gbs?: number;
    read_large_gbs?: number;
    /**
     * The target's measure: after each timed run, `read_sum` over W_s's own tensor T times (the
     * bytes the run read); best of `runs` on both sides, GB/s of CPU time and of wall time.
     */
    paired?: { runs: number; forward: PairedSide; read: PairedSide };
  };
}

/** GB/s of one side of the paired bandwidth measure, by clock. */
export interface PairedSide {
  cpu: number;
  wall: number;
}

export interface RowError extends RowKey {
  ok: false;
  error: string;
}

export type RowResult = GradRowResult | RowError;

export interface StreamResult {
  method: string;
  K: number;
  steps: number;
  drop_ms_per_step: number;
  json_ms_per_step: number;
  overhead_ms_per_step: number;
  overhead_pct: number;
  /** Time spent inside the JSON emit itself, per step (the direct cost). */
  serialize_ms_per_step: number;
  events_per_step: number;
  bytes_per_step: number;
  events_by_type: Record<string, number>;
  /** Per (drop, json) pair: whole-run ms (with start-up diagnostics and the final evaluation) and steady-state ms per step. */
  pairs: { drop_ms: number; json_ms: number; drop_step_ms: number; json_step_ms: number }[];
}

export interface SoakSample {
  step: number;
  elapsed_s: number;
  rss_bytes: number;
  num_tensors: number;
  num_bytes: number;
  js_heap_bytes: number;
  /** V8 heap reserved (heapTotal) and memory outside it held by JS objects (external, incl. the wasm heap). */
  js_heap_total_bytes: number;
  external_bytes: number;
  wasm_heap_bytes?: number;
  /** Resident part of the wasm heap's mapping (Linux). */
  wasm_resident_bytes?: number;
  /** On webgpu: device bytes in use (tf.memory().numBytesInGPU). */
  gpu_bytes?: number;
  step_ms: number;
}

export interface SoakResult {
  /** Absent in results written before the soak took other workloads: hopfield. */
  workload?: WorkloadName;
  method: string;
  K: number;
  steps: number;
  every: number;
  samples: SoakSample[];
  /** First step after the first evaluation: samples from here on are "after warm-up". */
  warm_from_step: number;
  tensors_flat: boolean;
  bytes_flat: boolean;
  /** On webgpu: device bytes in use the same at every sample after warm-up. */
  gpu_flat?: boolean;
  rss_growth_after_warmup_bytes: number;
  rss_flat: boolean;
  flat: boolean;
  /** The child's MALLOC_ARENA_MAX (null: glibc's default). */
  malloc_arena_max?: string | null;
  ms_per_step: number;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function min(xs: number[]): number {
  return xs.length ? Math.min(...xs) : NaN;
}

/** VmRSS / VmHWM from /proc/self/status (bytes); undefined where /proc is not there. */
export function procMem(): { rss: number; hwm: number } | undefined {
  try {
    const text = fs.readFileSync('/proc/self/status', 'utf8');
    const get = (k: string) => {
      const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : NaN;
    };
    const rss = get('VmRSS');
    const hwm = get('VmHWM');
    return Number.isFinite(rss) && Number.isFinite(hwm) ? { rss, hwm } : undefined;
  } catch {
    return undefined;
  }
}

/** Reset the peak-RSS mark (VmHWM) to the current RSS; false where the kernel does not allow it. */
export function resetHwm(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

export const MiB = 1024 * 1024;

/** Process CPU time (user + system, all threads) in ms. */
export function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

/** Wall and process CPU ms of one call of `f`. */
export function clocks(f: () => void): { wall: number; cpu: number } {
  const c0 = cpuMs();
  const t0 = performance.now();
  f();
  const wall = performance.now() - t0;
  return { wall, cpu: cpuMs() - c0 };
}

/** The bytes `read_sum` reads of a buffer of `bytes`: whole 64-byte blocks, its loop's step (the kernel reads no partial block). */
export function readSumBytes(bytes: number): number {
  return bytes - (bytes % 64);
}
