/**
 * `rbp`: run the paper's experiments headless, and check gradients.
 *   rbp run <hopfield|cora|pubmed|citeseer|hypergrad|config.yaml> [options]
 *   rbp gradcheck <experiment|config.yaml> [--truncate 5,10,20,40] [--json]
 */
import * as path from 'path';
import { RunRecorder, describeRequest } from '../run/recorder';
import { checkRequest } from '../run/resolve';
import { DEFAULT_KS, GradcheckReport } from '../run/gradcheck';
import { startRunThread, startRunHere } from '../run/thread';
import { isBackendRequest, BACKEND_REQUESTS, BACKEND_LIST } from '../core/backendNames';
import { doctor, formatDoctor } from './doctor';
import { RunError } from '../experiments/types';
import { fmt } from '../core/format';
import type { WorkerEvent, RunSpec, Envelope } from '../protocol/messages';
import { parseMethodName, methodNames } from '../core/gradients/catalog';
import { BUILTIN_NAMES } from '../config/builtin';
import { writeModelTemplate, TemplateError } from '../config/modelTemplate';
import { listRunRows } from '../run/runRows';
import { differingKeys, formatRunsTable } from '../shared/runsTable';
import * as fs from 'fs';

const usage = () => `usage:
  rbp run <${BUILTIN_NAMES.join('|')}|config.yaml> [--method M] [--truncate K] [--steps N] [--seed S]
          [--backend ${BACKEND_REQUESTS.join('|')}] [--threads N] [--out DIR | --runs-dir ROOT] [--data DIR] [--set section.field=value]
          [--final-check] [--resume RUN_DIR[@STEP]] [--probe-every N] [--json]
    --final-check: end with the method's gradient against exact at the final weights, ρ(J), memory, and evaluation vs untrained
    --resume: continue from that run's checkpoint (its newest, or the one after STEP steps) into this new run
    --threads N: threads of the wasm backend's kernels (default: RBP_THREADS, else 1; 1: single-threaded)
    --probe-every N: every N steps, the training gradient against exact and BPTT, and ρ(J) (0: off, the default)
  rbp gradcheck <experiment|config.yaml> [--truncate K1,K2,...] [--method M,...] [--backend B] [--threads N] [--data DIR] [--set ...] [--out DIR | --runs-dir ROOT] [--json]
          [--from RUN_DIR[@STEP]]   (at the weights of that run's checkpoint instead of the initial ones)
  rbp doctor [--json]   the packages, Vulkan drivers and WebGPU adapters found, and the backend auto picks and why
  rbp init-model DIR     (write a model of your own to start from: a module, its config, the types)
  rbp runs [--runs-dir ROOT] [--json]   the recorded runs (default root .rbp-lab/runs): status, method, K, T, lr, seed,
          steps, duration, final loss and evaluation, last ρ(J) and gradient probe, and the config keys that differ
methods: ${methodNames().join(', ')}`;

export class UsageError extends Error {}

interface Args {
  command: string;
  target: string;
  flags: Record<string, string[]>;
}

const FLAGS_WITH_VALUE = new Set(['method', 'truncate', 'steps', 'seed', 'backend', 'out', 'runs-dir', 'data', 'set', 'resume', 'probe-every', 'from', 'threads']);
const BOOL_FLAGS = new Set(['json', 'help', 'final-check']);

export function parseArgs(argv: string[]): Args {
  const flags: Record<string, string[]> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
      if (BOOL_FLAGS.has(name)) {
        flags[name] = ['true'];
      } else if (FLAGS_WITH_VALUE.has(name)) {
        const v = inline ?? argv[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        (flags[name] ??= []).push(v);
      } else throw new UsageError(`unknown option --${name}`);
    } else if (a === '-h') flags.help = ['true'];
    else positional.push(a);
  }
  if (flags.help) return { command: 'help', target: '', flags };
  if (positional.length < 1) throw new UsageError('missing command (run, gradcheck, runs, init-model or doctor)');
  const [command, target] = positional;
  if (command === 'doctor' || command === 'runs') {
    if (positional.length > 1) throw new UsageError(`unexpected argument '${positional[1]}'`);
    return { command, target: '', flags };
  }
  if (command !== 'run' && command !== 'gradcheck' && command !== 'init-model') throw new UsageError(`unknown command '${command}'`);
  if (!target) throw new UsageError(command === 'init-model' ? `'init-model' needs a folder to write the model into` : `'${command}' needs an experiment (${BUILTIN_NAMES.join(', ')}) or a config file`);
  if (positional.length > 2) throw new UsageError(`unexpected argument '${positional[2]}'`);
  return { command, target, flags };
}

/** The last value given for a flag (so `npm run hopfield -- --steps 5` overrides the script's). */
function last(flags: Args['flags'], name: string): string | undefined {
  const v = flags[name];
  return v ? v[v.length - 1] : undefined;
}

function intFlag(flags: Args['flags'], name: string, min = 1): number | undefined {
  const v = last(flags, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be an integer ≥ ${min}; got '${v}'`);
  return Number(v);
}

function buildSpec(a: Args): RunSpec {
  for (const [flag, cmd] of [['resume', 'run'], ['probe-every', 'run'], ['from', 'gradcheck']] as const) if (a.flags[flag] && a.command !== cmd) throw new UsageError(`--${flag} is an option of ${cmd}`);
  const method = last(a.flags, 'method');
  if (a.command === 'run' && method !== undefined && !parseMethodName(method)) throw new UsageError(`unknown method '${method}' (${methodNames().join(', ')})`);
  const backend = last(a.flags, 'backend');
  if (backend !== undefined && !isBackendRequest(backend)) throw new UsageError(`unknown backend '${backend}' (${BACKEND_LIST})`);
  return {
    experiment: a.target,
    method: a.command === 'run' ? method : undefined,
    K: a.command === 'run' ? intFlag(a.flags, 'truncate') : undefined,
    steps: intFlag(a.flags, 'steps'),
    seed: intFlag(a.flags, 'seed', 0),
    backend,
    threads: intFlag(a.flags, 'threads'),
    outDir: last(a.flags, 'out'),
    dataDir: last(a.flags, 'data'),
    overrides: a.flags.set,
    resume: a.command === 'run' ? last(a.flags, 'resume') : undefined,
    probeEvery: a.command === 'run' ? intFlag(a.flags, 'probe-every', 0) : undefined,
    finalCheck: a.command === 'run' && a.flags['final-check'] ? true : undefined,
  };
}

/** Integers as integers (steps, counts), other numbers with 4 significant decimals. */
function num(v: number): string {
  return Number.isInteger(v) ? String(v) : fmt(v, 4);
}

/**
 * The closing summary of a run with --final-check: evaluation before training and at the end, the
 * gradient check at the final weights, ρ(J) and the verdict there, and memory.
 */
export function formatClosingSummary(summary: Record<string, number | string | boolean>, untrained: Record<string, number> | undefined, last: Record<string, number> | undefined): string[] {
  const v = (k: string) => summary[k];
  const lines = ['summary:'];
  if (untrained && last) lines.push(`  evaluation, untrained → trained: ${Object.keys(last).map((k) => `${k} ${untrained[k] === undefined ? '-' : num(untrained[k])} → ${num(last[k])}`).join(', ')}`);
  if (v('check_method') !== undefined) {
    const exactNote = v('check_exact_converged') === false ? ' (exact did not converge: a rough reference)' : '';
    lines.push(`  gradient at the final weights, ${String(v('check_method'))} against exact: relative error ${fmt(Number(v('check_rel_err_vs_exact')), 3)}, cosine ${Number(v('check_cos_vs_exact')).toFixed(6)}${exactNote}; cosine with BPTT ${Number(v('check_cos_vs_bptt')).toFixed(6)}`);
    lines.push(`  at the final weights: ${String(v('check_verdict'))}`);
  }
  if (v('peak_rss_mb') !== undefined) lines.push(`  memory: at most ${Number(v('peak_step_tensor_mb')).toFixed(0)} MiB of tensors above the live ones in a training step, peak RSS ${Number(v('peak_rss_mb')).toFixed(0)} MiB`);
  return lines;
}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
  /**
   * The script to start run threads from (bin.ts passes its own bundle): the run computes on a
   * thread, so that Ctrl-C reaches the loops inside a step. Without it (main called in-process,
   * as tests do) the run computes on this thread and a signal stops it between steps.
   */
  runThread?: string;
}

/**
 * A recorder for `--out DIR` or `--runs-dir DIR` (a new run folder in it), described from the
 * request; a folder that cannot be written is a usage error (`what`: "the run", ...).
 */
function openRecorder(what: string, spec: RunSpec, runsDir: string | undefined): RunRecorder | undefined {
  if (!spec.outDir && !runsDir) return undefined;
  const { runId, initial } = describeRequest(spec);
  try {
    return new RunRecorder(spec.outDir ? path.resolve(spec.outDir) : path.resolve(runsDir!, runId), runId, initial);
  } catch (err) {
    throw new UsageError(`cannot record ${what}: ${(err as Error).message}`);
  }
}

/**
 * Check the request before anything is created: a bad one is one line (and a run/failed JSON line
 * with --json), exit code 2, and no record — it never touches an existing folder.
 */
function badRequest(spec: RunSpec, io: Io, json: boolean): number | undefined {
  try {
    checkRequest(spec);
    return undefined;
  } catch (err) {
    if (!(err instanceof RunError)) throw err;
    if (json) io.out(JSON.stringify({ type: 'run/failed', kind: err.kind, reason: err.message }));
    io.err(`rbp: ${err.message}`);
    return 2;
  }
}

/**
 * The terminal side: set when stdout or stderr is closed under us (`rbp run --json | head -c 100`:
 * EPIPE), and the stop of the run in progress, if any.
 */
const output = { onClosed: undefined as (() => void) | undefined };

/** bin.ts: stdout or stderr was closed (EPIPE); the run in progress stops, recorded as cancelled. */
export function outputClosed(): void {
  output.onClosed?.();
}

/**
 * Exit codes: a bad request or bad data 2, a cancelled run 130 (128 + SIGINT), a run stopped
 * because its output was closed 141 (128 + SIGPIPE), other failures 1.
 */
function exitCode(kind: string): number {
  return kind === 'bad-config' || kind === 'bad-data' ? 2 : 1;
}

/**
 * Run a checked request on a run thread (run/thread.ts), recording every event and passing it to
 * `show`. The first SIGINT or SIGTERM cancels the run inside its current step (it ends
 * 'cancelled', recorded, exit 130); a second one records that and exits at once.
 */
async function execute(what: string, spec: RunSpec, runsDir: string | undefined, json: boolean, io: Io, show: (e: WorkerEvent, env: Envelope, recorder: RunRecorder | undefined) => void): Promise<{ code: number; report?: GradcheckReport }> {
  // Recording starts before the experiment is set up, so that its set-up log lines are kept too.
  const recorder = openRecorder(what, spec, runsDir);
  // A training run's checkpoints go into its record.
  if (recorder && !spec.gradcheck) spec.checkpointDir = recorder.dir;
  const t0 = Date.now();
  const emit = (e: WorkerEvent) => show(e, recorder ? recorder.record(e) : ({ ...e, runId: 'cli', seq: 0, t: Date.now() } as Envelope), recorder);
  const run = io.runThread ? startRunThread(io.runThread, spec, emit) : startRunHere(spec, emit);
  // Whoever read the output is gone: stop the run (recorded as cancelled), as SIGPIPE would.
  let pipeClosed = false;
  output.onClosed = () => {
    if (pipeClosed) return;
    pipeClosed = true;
    recorder?.record({ type: 'log', level: 'warn', text: 'the output was closed (EPIPE): stopping' });
    run.cancel();
  };
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals === 1) {
      io.err(`rbp: ${sig}: stopping ${what} (again to quit at once)`);
      run.cancel();
      return;
    }
    recorder?.record({ type: 'run/finished', status: 'cancelled', elapsedMs: Date.now() - t0, summary: { stopped_by: `${sig}, twice` } });
    recorder?.close();
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const outcome = await run.done;
    return { code: outcome.status === 'cancelled' ? (pipeClosed ? 141 : 130) : 0, report: outcome.report };
  } catch (err) {
    const kind = err instanceof RunError ? err.kind : 'error';
    const reason = err instanceof Error ? err.message : String(err);
    recorder?.record({ type: 'run/failed', kind, reason, elapsedMs: Date.now() - t0 });
    if (json) io.out(JSON.stringify({ type: 'run/failed', kind, reason }));
    io.err(`rbp: ${reason}`);
    return { code: exitCode(kind) };
  } finally {
    output.onClosed = undefined;
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    recorder?.close();
  }
}

async function cmdRun(a: Args, io: Io): Promise<number> {
  const spec = buildSpec(a);
  const runsDir = last(a.flags, 'runs-dir');
  const json = Boolean(a.flags.json);
  if (spec.resume && (spec.outDir || runsDir)) {
    const source = path.resolve(spec.resume.replace(/@\d+$/, '').replace(/[\\/]checkpoints[\\/][^\\/]+\.rbpck$/, ''));
    if (spec.outDir && path.resolve(spec.outDir) === source) throw new UsageError(`--out ${spec.outDir} is the run being resumed: a resumed run is recorded in a new folder (the old one is kept as it is)`);
  }
  const bad = badRequest(spec, io, json);
  if (bad !== undefined) return bad;
  let total = 0;
  let stepLabel = 'step';
  let lastLine = '';
  let untrained: Record<string, number> | undefined;
  let lastEval: Record<string, number> | undefined;
  const show = (e: WorkerEvent, env: Envelope, recorder: RunRecorder | undefined) => {
    if (json) {
      io.out(JSON.stringify(env));
      return;
    }
    switch (e.type) {
      case 'run/started':
        total = e.steps;
        stepLabel = e.stepLabel;
        io.err(`${e.title}: ${e.method}${e.K !== null ? ` K=${e.K}` : ''}, T=${e.T}, ${e.steps} ${e.stepLabel}s on ${e.backend.description}`);
        for (const n of e.notes) io.err(`note: ${n}`);
        if (recorder) io.err(`recording to ${recorder.dir}`);
        break;
      case 'diagnostics':
        io.err(`[${stepLabel} ${e.step}] ${e.verdict.level === 'ok' ? '✓' : '!'} ${e.verdict.message}`);
        break;
      case 'metrics': {
        const vals = Object.entries(e.values)
          .filter(([k]) => k !== 'step_ms')
          .map(([k, v]) => `${k}=${num(v)}`)
          .join(' ');
        const line = `[${stepLabel} ${e.step + 1}/${total}] ${e.kind === 'eval' ? 'eval ' : ''}${vals}`;
        if (e.kind === 'eval' || !io.isTTY) io.err(line);
        else if (line !== lastLine) process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 120) - 1)}\x1b[K`);
        if (e.kind === 'eval' && io.isTTY) process.stderr.write('');
        if (e.kind === 'eval') {
          untrained ??= e.values;
          lastEval = e.values;
        }
        lastLine = line;
        break;
      }
      case 'log':
        io.err(`${e.level === 'info' ? '' : `${e.level === 'warn' ? 'warning' : e.level}: `}${e.text}`);
        break;
      case 'probe':
        io.err(
          `[${stepLabel} ${e.step}] probe: ${e.method}${e.K !== null ? ` K=${e.K}` : ''} vs exact: rel err ${fmt(e.relErrExact, 3)}, cos ${e.cosExact.toFixed(6)}` +
            `${e.relErrBptt !== null ? `; vs BPTT ${fmt(e.relErrBptt, 3)}` : ''}; ρ(J) ${e.rho === null ? '?' : fmt(e.rho, 3)}${e.exactConverged ? '' : ' (exact did not converge)'}; ${e.ms.toFixed(0)} ms`,
        );
        break;
      case 'checkpoint':
        io.err(`[${stepLabel} ${e.step}] checkpoint ${e.file} (${(e.bytes / 2 ** 20).toFixed(1)} MiB, ${e.reason})`);
        break;
      case 'run/finished':
        if (io.isTTY) process.stderr.write('\n');
        io.out(`${e.status} in ${(e.elapsedMs / 1000).toFixed(1)} s: ${Object.entries(e.summary).filter(([k]) => !k.startsWith('check_')).map(([k, v]) => `${k}=${typeof v === 'number' ? num(v) : v}`).join(' ')}`);
        if (e.summary.check_method !== undefined) for (const l of formatClosingSummary(e.summary, untrained, lastEval)) io.out(l);
        break;
      default:
        break;
    }
  };
  return (await execute('the run', spec, runsDir, json, io, show)).code;
}

export function formatGradcheck(r: GradcheckReport): string {
  const lines: string[] = [];
  lines.push(`${r.experiment}: T=${r.T}, backend ${r.backend}${r.from ? `, at step ${r.from.step} of run ${r.from.runId}` : ', at the initial weights'}`);
  lines.push(`forward: ${r.forward.stepsToTol !== null ? `relative residual < ${r.forward.tol} after ${r.forward.stepsToTol} steps` : `not below ${r.forward.tol} in ${r.forward.steps} steps`}, final ${fmt(r.forward.finalRel)}`);
  lines.push(`ρ(J) = ${fmt(r.rho, 3)} — ${r.verdict.message}`);
  if (!r.exactConverged) lines.push(`warning: exact did not converge: ${r.exactNote ?? ''}`);
  lines.push('');
  lines.push('| method | K | rel err vs exact | cos vs exact | rel err vs BPTT | cos vs BPTT | time ms | peak MiB | adjoint residual |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const row of r.rows) {
    lines.push(
      `| ${row.method} | ${row.K ?? '-'} | ${fmt(row.relErrExact, 3)} | ${row.cosExact.toFixed(6)} | ${fmt(row.relErrBptt, 3)} | ${row.cosBptt.toFixed(6)} | ${row.timeMs.toFixed(0)} | ${(row.peakBytes / 2 ** 20).toFixed(1)} | ${row.residual === null ? '-' : fmt(row.residual, 3)} |`,
    );
  }
  return lines.join('\n');
}

async function cmdGradcheck(a: Args, io: Io): Promise<number> {
  if (a.flags['final-check']) throw new UsageError('--final-check is an option of run (gradcheck is that check)');
  const spec = buildSpec(a);
  const Ks = (last(a.flags, 'truncate') ?? DEFAULT_KS.join(','))
    .split(',')
    .map((s) => {
      if (!/^\d+$/.test(s.trim()) || Number(s) < 1) throw new UsageError(`--truncate expects a comma-separated list of integers ≥ 1; got '${last(a.flags, 'truncate')}'`);
      return Number(s);
    });
  const methods = last(a.flags, 'method')?.split(',').map((m) => {
    const p = parseMethodName(m);
    if (!p) throw new UsageError(`unknown method '${m}'`);
    return p;
  });
  const json = Boolean(a.flags.json);
  const runsDir = last(a.flags, 'runs-dir');
  const from = last(a.flags, 'from');
  const checkSpec: RunSpec = { ...spec, gradcheck: { Ks, methods, ...(from !== undefined ? { from } : {}) } };
  const bad = badRequest(checkSpec, io, json);
  if (bad !== undefined) return bad;
  const show = (e: WorkerEvent) => {
    if (json) return;
    if (e.type === 'run/started') io.err(`backend: ${e.backend.description}`);
    else if (e.type === 'log') io.err(e.text);
    else if (e.type === 'gradcheck/row') io.err(`  ${e.row.method}${e.row.K !== null ? ` K=${e.row.K}` : ''}: rel err vs exact ${fmt(e.row.relErrExact, 3)}, ${e.row.timeMs.toFixed(0)} ms`);
    else if (e.type === 'run/finished' && e.status === 'cancelled') io.err('cancelled');
  };
  const { code, report } = await execute('the gradient check', checkSpec, runsDir, json, io, show);
  if (report) io.out(json ? JSON.stringify(report) : formatGradcheck(report));
  return code;
}

function cmdInitModel(a: Args, io: Io): number {
  const extra = Object.keys(a.flags);
  if (extra.length) throw new UsageError(`init-model takes no options; got --${extra[0]}`);
  try {
    // dist/cli.js: the package root (templates/, dist/types/) is one folder up.
    const { config, files } = writeModelTemplate(a.target, path.resolve(__dirname, '..'));
    for (const f of files) io.err(`wrote ${f}`);
    io.out(`run it: rbp run ${path.relative(process.cwd(), config) || config}`);
    return 0;
  } catch (err) {
    if (err instanceof TemplateError) throw new UsageError(err.message);
    throw err;
  }
}

/** `rbp runs`: the runs table of a runs root, as aligned text or (--json) the same rows as JSON. */
function cmdRuns(a: Args, io: Io): number {
  const extra = Object.keys(a.flags).filter((f) => f !== 'json' && f !== 'runs-dir');
  if (extra.length) throw new UsageError(`runs takes --runs-dir and --json; got --${extra[0]}`);
  const root = last(a.flags, 'runs-dir') ?? path.join('.rbp-lab', 'runs');
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    io.err(`rbp: no runs folder at ${root}${a.flags['runs-dir'] ? '' : ' (runs are recorded there by --runs-dir .rbp-lab/runs and VS Code; name another with --runs-dir)'}`);
    return 2;
  }
  if (!st.isDirectory()) {
    io.err(`rbp: ${root} is not a folder (--runs-dir names the folder that holds the run folders)`);
    return 2;
  }
  const rows = listRunRows(root);
  if (a.flags.json) io.out(JSON.stringify({ root, differingKeys: differingKeys(rows), runs: rows }));
  else io.out(rows.length ? formatRunsTable(rows) : `no runs in ${root}`);
  return 0;
}

export async function main(argv: string[], io: Io): Promise<number> {
  let a: Args;
  try {
    a = parseArgs(argv);
    if (a.command === 'help') {
      io.out(usage());
      return 0;
    }
    if (a.command === 'doctor') {
      const r = await doctor();
      io.out(a.flags.json ? JSON.stringify(r, null, 1) : formatDoctor(r));
      return 0;
    }
    if (a.command === 'init-model') return cmdInitModel(a, io);
    if (a.command === 'runs') return cmdRuns(a, io);
    return a.command === 'run' ? await cmdRun(a, io) : await cmdGradcheck(a, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`rbp: ${err.message}\n${usage()}`);
      return 2;
    }
    io.err(`rbp: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}
