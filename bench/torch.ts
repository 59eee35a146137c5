/**
 * Side-by-side mode: runs the PyTorch CPU reference (shared/anchors/torch_ref/bench.py) and our
 * bench/torch_forward.py, and turns their output into rows keyed like ours.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RowKey, WorkloadName } from './common';

export interface TorchRow extends RowKey {
  T?: number;
  time_median_ms: number;
  time_min_ms: number;
  cpu_median_ms: number;
  rss_peak_growth_mib?: number;
  graph_mib?: number;
  rel_err?: number;
  cos?: number;
  cg_iters?: number;
  loadavg?: number[];
  error?: string;
}

export interface TorchOptions {
  python: string;
  script: string;
  forwardScript: string;
  dataDir: string;
  randomData: boolean;
  runs: number;
  timeoutS: number;
}

const RBP_FAMILY = new Set(['RBP', 'CG_RBP', 'Neumann_RBP']);

/** Whether `python` imports torch; if not, try Debian's packages once (needs root and apt). */
export function ensureTorch(python: string): { ok: boolean; version?: string; message: string } {
  const probe = () => spawnSync(python, ['-c', 'import torch, numpy, scipy, yaml; print(torch.__version__)'], { encoding: 'utf8' });
  let p = probe();
  if (p.status === 0) return { ok: true, version: p.stdout.trim(), message: `torch ${p.stdout.trim()}` };
  const canApt = process.getuid?.() === 0 && spawnSync('which', ['apt-get']).status === 0;
  if (!canApt) return { ok: false, message: `${python} cannot import torch/numpy/scipy/yaml; install: apt-get install -y python3-torch python3-numpy python3-scipy python3-yaml` };
  process.stderr.write('[bench] installing python3-torch python3-numpy python3-scipy python3-yaml with apt-get...\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['install', '-y', 'python3-torch', 'python3-numpy', 'python3-scipy', 'python3-yaml'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  p = probe();
  if (p.status === 0) return { ok: true, version: p.stdout.trim(), message: `torch ${p.stdout.trim()} (installed now)` };
  return { ok: false, message: `apt-get install did not make torch importable: ${(p.stderr ?? '').trim().split('\n').pop()}` };
}

export function fashionMnistPresent(): boolean {
  return fs.existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
}

interface RefRow {
  workload: string;
  method: string;
  K: number;
  T?: number;
  variant?: string;
  time_median_s?: number;
  time_min_s?: number;
  cpu_time_median_s?: number;
  rss_peak_delta_mib?: number;
  graph_saved_peak_mib?: number;
  rel_err?: number;
  cos?: number;
  info?: { cg_iters?: number };
  loadavg_1min?: number[];
  error?: string;
}

/** Our variant names for the reference's: hypergrad's RBP family uses the full set unless 'batchlast'. */
function variantOf(r: RefRow): string {
  if (r.workload === 'hypergrad' && RBP_FAMILY.has(r.method)) return r.variant === 'batchlast' ? 'minibatch' : 'full';
  return '';
}

function fromRef(r: RefRow): TorchRow {
  const key: RowKey = { workload: r.workload as WorkloadName, method: r.method, K: r.method === 'BPTT' ? null : r.K, variant: variantOf(r) };
  if (r.error || r.time_median_s === undefined) return { ...key, time_median_ms: NaN, time_min_ms: NaN, cpu_median_ms: NaN, error: r.error ?? 'no timing' };
  return {
    ...key,
    T: r.T,
    time_median_ms: r.time_median_s * 1000,
    time_min_ms: (r.time_min_s ?? NaN) * 1000,
    cpu_median_ms: (r.cpu_time_median_s ?? NaN) * 1000,
    rss_peak_growth_mib: r.rss_peak_delta_mib,
    graph_mib: r.graph_saved_peak_mib,
    rel_err: r.rel_err,
    cos: r.cos,
    cg_iters: r.info?.cg_iters,
    loadavg: r.loadavg_1min,
  };
}

/** `bench.py bench --workloads <wl> --n-runs N` in a fresh temp folder; one subprocess per row inside. */
export function runTorchBench(wl: WorkloadName, o: TorchOptions): { rows: TorchRow[]; meta?: Record<string, unknown>; error?: string; seconds: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-torch-bench-'));
  const t0 = Date.now();
  try {
    const args = [o.script, '--out-dir', dir, '--cache-dir', path.join(os.tmpdir(), 'rbp_torch_ref_cache'), '--cora-dir', o.dataDir, ...(o.randomData ? ['--random-data'] : []), 'bench', '--workloads', wl, '--n-runs', String(o.runs)];
    process.stderr.write(`[torch] ${o.python} ${args.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ')}\n`);
    const p = spawnSync(o.python, args, { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'], timeout: o.timeoutS * 1000, killSignal: 'SIGKILL' });
    const file = path.join(dir, 'results.json');
    const seconds = (Date.now() - t0) / 1000;
    if (!fs.existsSync(file)) return { rows: [], error: p.error ? p.error.message : `bench.py exited with ${p.status ?? p.signal} and wrote no results.json`, seconds };
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { meta?: Record<string, unknown>; workloads?: Record<string, { rows: RefRow[] }> };
    const rows = (json.workloads?.[wl]?.rows ?? []).map((r) => fromRef({ ...r, workload: r.workload ?? wl }));
    return { rows, meta: json.meta, error: p.status === 0 ? undefined : `bench.py exited with ${p.status ?? p.signal}`, seconds };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** bench/torch_forward.py: T steps without a graph, the reference's counterpart of our forward row. */
export function runTorchForward(wl: WorkloadName, o: TorchOptions): TorchRow {
  const args = [o.forwardScript, '--ref', o.script, '--workload', wl, '--runs', String(o.runs), '--cora-dir', o.dataDir, ...(o.randomData ? ['--random-data'] : [])];
  const key: RowKey = { workload: wl, method: 'forward', K: null, variant: '' };
  const p = spawnSync(o.python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: o.timeoutS * 1000, killSignal: 'SIGKILL', cwd: os.tmpdir() });
  const line = (p.stdout ?? '').trim().split('\n').pop() ?? '';
  if (p.status !== 0 || !line.startsWith('{')) {
    const why = (p.stderr ?? '').trim().split('\n').slice(-3).join(' | ') || String(p.error ?? p.signal);
    return { ...key, time_median_ms: NaN, time_min_ms: NaN, cpu_median_ms: NaN, error: `torch_forward.py failed: ${why}` };
  }
  const r = JSON.parse(line) as { T: number; time_median_s: number; time_min_s: number; cpu_time_median_s: number; loadavg_1min: number[] };
  return { ...key, T: r.T, time_median_ms: r.time_median_s * 1000, time_min_ms: r.time_min_s * 1000, cpu_median_ms: r.cpu_time_median_s * 1000, loadavg: r.loadavg_1min };
}
