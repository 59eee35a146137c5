/**
 * Run records on disk: `<dir>/run.json` (what the run is, its status and final numbers) and
 * `<dir>/events.jsonl` (every event, one JSON line, appended and flushed as it happens, so a
 * killed run keeps everything recorded up to the kill). The CLI's `--out` and the extension's
 * `.rbp-lab/runs/<id>/` use this same format.
 */
import * as fs from 'fs';
import * as path from 'path';
import { StringDecoder } from 'string_decoder';
import { Envelope, WorkerEvent, RunSummary, parseWorkerEvent, RunStarted, RunSpec, PROTOCOL_VERSION } from '../protocol/messages';
import type { BackendInfo } from '../protocol/workerEvents';
import { emptyProgress, foldProgress, progressOf, progressFromTail, type RunProgress } from './runSummary';

export interface RunDescription {
  protocol: number;
  runId: string;
  experiment: string;
  title: string;
  runner: string;
  method: string;
  K: number | null;
  T: number;
  steps: number;
  status: RunSummary['status'];
  startedAt: string;
  finishedAt?: string;
  backend?: string;
  /** On webgpu: the GPU adapter (BackendInfo.adapter). */
  adapter?: BackendInfo['adapter'];
  config: Record<string, unknown>;
  finalMetrics: Record<string, number>;
  /**
   * The run's progress and final numbers (RunProgress, kept current while it records) beside the
   * run/finished summary's own keys (`check_*`, a gradient check's `rho` and `verdict`, …).
   */
  summary?: Record<string, unknown>;
  reason?: string;
  label?: string;
  /** The process that computed the run. */
  pid?: number;
  /** That process's start (boot id and start time from /proc, where there is one): a live pid with another start is not it. */
  pidStart?: string;
  /** Set (to why) when the folder's run.json could not be read or is not a run description; listed, never hidden. */
  unreadable?: string;
  /** A resumed training run: the run and step its checkpoint came from. */
  resumedFrom?: { runId: string; step: number };
  /** A gradient check at a checkpoint: the run and step of its weights. */
  from?: { runId: string; step: number };
  /** The folder of the config file the run came from (its relative paths resolve there). */
  configDir?: string;
}

export function newRunId(experiment: string, method: string, date = new Date()): string {
  const stamp = date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').replace('T', '-');
  const rand = Math.random().toString(36).slice(2, 6);
  return `${stamp}-${experiment}-${method}-${rand}`.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** What is known of a run before its worker says run/started (from the request). */
export type InitialDescription = Pick<RunDescription, 'experiment' | 'title' | 'method' | 'K' | 'steps'>;

/**
 * A new run's id and first description, from its request alone: one rule for the CLI and the
 * extension. A gradient check (a Compare run) is named and described as one from the start (its
 * worker says so at run/started too); a run whose method comes from its config says `config` in
 * its id until then.
 */
export function describeRequest(spec: RunSpec, date?: Date): { runId: string; initial: InitialDescription } {
  const experiment = path.basename(spec.experiment).replace(/\.ya?ml$/i, '');
  const check = spec.gradcheck !== undefined;
  return {
    runId: newRunId(experiment, check ? 'gradcheck' : (spec.method ?? 'config'), date),
    initial: { experiment, title: spec.experiment, method: check ? 'gradcheck' : (spec.method ?? '?'), K: check ? null : (spec.K ?? null), steps: spec.steps ?? 0 },
  };
}

export class RunRecorder {
  private fd: number;
  private seq = 0;
  private desc: RunDescription | undefined;
  private closed = false;
  private progress: RunProgress | undefined;
  /** The run/finished summary's own keys (they sit beside the progress in run.json `summary`). */
  private finished: Record<string, unknown> = {};
  private lastWrite = 0;

  /**
   * With `initial`, run.json exists from the start (status running, pid of this process until
   * run/started names the computing one), so a run that ends before it starts — a worker that
   * cannot start, a bad config — is still described by what was asked for.
   */
  constructor(
    readonly dir: string,
    readonly runId: string,
    initial?: InitialDescription,
  ) {
    makeRunDir(dir);
    // One folder holds one run, and its files are ours: O_EXCL refuses an existing file or link.
    this.fd = fs.openSync(path.join(dir, 'events.jsonl'), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW | fs.constants.O_APPEND, 0o644);
    if (initial) {
      this.desc = { ...placeholder(runId), ...initial, status: 'running', pid: process.pid, pidStart: processStartToken(process.pid) };
      this.progress = emptyProgress(initial.steps || null);
      this.writeDescription();
    }
  }

  /** Stamp an event, append it to events.jsonl and keep run.json current. */
  record(e: WorkerEvent): Envelope {
    const env = { ...e, runId: this.runId, seq: this.seq++, t: Date.now() } as Envelope;
    this.append(env);
    return env;
  }

  /** Append an already-stamped event (the extension host records what its worker sends). */
  append(env: Envelope): void {
    if (this.closed) return;
    fs.writeSync(this.fd, JSON.stringify(env) + '\n');
    this.update(env);
  }

  private update(e: Envelope): void {
    if (e.type === 'run/started') {
      this.desc = descriptionFrom(e);
      this.progress = emptyProgress();
    } else if (e.type === 'run/failed' && !this.desc) {
      this.desc = placeholder(this.runId);
    }
    if (!this.desc) return;
    this.progress ??= emptyProgress();
    const now = foldProgress(this.progress, e, Date.parse(this.desc.startedAt));
    if (e.type === 'metrics') {
      for (const [k, v] of Object.entries(e.values)) if (Number.isFinite(v)) this.desc.finalMetrics[k] = v;
    } else if (e.type === 'run/finished') {
      this.desc.status = e.status;
      this.desc.finishedAt = new Date(e.t).toISOString();
      this.finished = e.summary;
    } else if (e.type === 'run/failed') {
      this.desc.status = 'failed';
      this.desc.reason = e.reason;
      this.desc.finishedAt = new Date(e.t).toISOString();
    }
    // run.json is rewritten at once for what a reader waits for (start, evaluation, ρ(J), probe,
    // end) and at most once a second for the train steps in between (a step can take milliseconds).
    if (now || Date.now() - this.lastWrite >= SUMMARY_WRITE_MS) this.writeDescription();
  }

  /**
   * Write run.json. The display label belongs to the user (Rename in the Runs view writes it into
   * run.json while the run may still be recording): it is read back from the file, never kept here.
   */
  writeDescription(): void {
    if (!this.desc) return;
    if (this.progress) this.desc.summary = { ...this.finished, ...this.progress };
    this.lastWrite = Date.now();
    const file = path.join(this.dir, 'run.json');
    let label: string | undefined;
    try {
      const onDisk = JSON.parse(readNoFollow(file)) as { label?: unknown };
      if (typeof onDisk.label === 'string' && onDisk.label) label = onDisk.label;
    } catch {
      label = undefined; // no file yet, a torn one or a link: nothing to keep
    }
    replaceFile(file, JSON.stringify(label ? { ...this.desc, label } : this.desc, null, 2));
  }

  get description(): RunDescription | undefined {
    return this.desc;
  }

  close(): void {
    if (this.closed) return;
    this.writeDescription();
    fs.closeSync(this.fd);
    this.closed = true;
  }
}

/** At most one run.json write per this many ms between the events that are written at once. */
const SUMMARY_WRITE_MS = 1000;

/** The files that make a folder a run's. */
const RUN_FILES = ['run.json', 'events.jsonl', 'run.json.tmp'];

/**
 * Create a run's folder, and its parents (one by one: `mkdirSync(…, { recursive: true })` spins
 * forever under /proc). An existing folder is used only when it is a real folder (not a link)
 * that holds no run.
 */
function makeRunDir(dir: string): void {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  let p = abs;
  for (; !lexists(p); p = path.dirname(p)) {
    missing.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const d of missing) fs.mkdirSync(d);
  if (missing.length) return;
  const st = fs.lstatSync(abs);
  if (!st.isDirectory()) throw new Error(`${abs} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}: a run is recorded in a folder of its own`);
  const held = RUN_FILES.filter((f) => lexists(path.join(abs, f)));
  if (held.length) throw new Error(`${abs} already holds a run (${held.join(', ')}): record this one in a new folder (another --out, or --runs-dir)`);
}

function lexists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Read a file that must not be a symbolic link (ELOOP if it is). */
function readNoFollow(file: string): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replace `file` with `text` atomically without following links: the text goes to a new
 * `<file>.tmp` (O_EXCL: never through a link planted there), which is renamed over `file`
 * (rename replaces a link at `file` itself, never its target).
 */
export function replaceFile(file: string, text: string): void {
  const tmp = file + '.tmp';
  try {
    fs.unlinkSync(tmp); // a stale one from a crash (or a link): unlink removes the entry, not a target
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
  try {
    fs.writeFileSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

function placeholder(runId: string): RunDescription {
  return { protocol: PROTOCOL_VERSION, runId, experiment: '?', title: '?', runner: '?', method: '?', K: null, T: 0, steps: 0, status: 'failed', startedAt: new Date().toISOString(), config: {}, finalMetrics: {} };
}

function descriptionFrom(e: Envelope<RunStarted>): RunDescription {
  // The computing process has just sent run/started: it is alive, its start token is its own.
  const pidStart = e.pid !== undefined ? processStartToken(e.pid) : undefined;
  return {
    protocol: PROTOCOL_VERSION,
    runId: e.runId,
    experiment: e.experiment,
    title: e.title,
    runner: e.runner,
    method: e.method,
    K: e.K,
    T: e.T,
    steps: e.steps,
    status: 'running',
    startedAt: e.startedAt,
    backend: e.backend.name,
    ...(e.backend.adapter ? { adapter: e.backend.adapter } : {}),
    config: e.config,
    finalMetrics: {},
    pid: e.pid,
    ...(pidStart !== undefined ? { pidStart } : {}),
    ...(e.resumedFrom ? { resumedFrom: e.resumedFrom } : {}),
    ...(e.from ? { from: e.from } : {}),
    ...(e.configDir ? { configDir: e.configDir } : {}),
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let bootId: string | undefined;

/**
 * Which process a pid is: the boot id and the process's start time (field 22 of /proc/<pid>/stat,
 * read after the command name, which may hold spaces and parentheses). Undefined where there is
 * no /proc (then only "is some process alive with this pid" can be asked).
 */
export function processStartToken(pid: number): string | undefined {
  try {
    bootId ??= fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return start ? `${bootId}:${start}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A run still marked "running" whose process is gone (VS Code or the machine stopped, the CLI was
 * killed) — or whose pid now belongs to another process (its start differs from the one recorded)
 * — is reported as failed: interrupted. Its record is kept as it is on disk.
 */
export function withLiveness(d: RunDescription): RunDescription {
  if (d.status !== 'running' || d.pid === undefined) return d;
  if (processAlive(d.pid)) {
    const now = d.pidStart !== undefined ? processStartToken(d.pid) : undefined;
    if (now === undefined || now === d.pidStart) return d;
  }
  return { ...d, status: 'failed', reason: d.reason ?? `interrupted: the process that recorded it (pid ${d.pid}) ended without finishing the run; what it recorded is kept` };
}

// ---- reading records: every field checked, large files streamed ----

type FieldCheck = (v: unknown) => boolean;
const isStr: FieldCheck = (v) => typeof v === 'string';
const isNum: FieldCheck = (v) => typeof v === 'number';
const isObj: FieldCheck = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const opt = (c: FieldCheck): FieldCheck => (v) => v === undefined || c(v);
const DESCRIPTION_FIELDS: Record<string, FieldCheck> = {
  runId: isStr,
  experiment: isStr,
  title: isStr,
  runner: isStr,
  method: isStr,
  K: (v) => v === null || isNum(v),
  T: isNum,
  steps: isNum,
  status: (v) => v === 'running' || v === 'completed' || v === 'cancelled' || v === 'failed',
  startedAt: (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)),
  finishedAt: opt(isStr),
  backend: opt(isStr),
  config: isObj,
  finalMetrics: (v) => isObj(v) && Object.values(v as object).every(isNum),
  summary: opt(isObj),
  reason: opt(isStr),
  label: opt(isStr),
  pid: opt((v) => Number.isInteger(v) && (v as number) > 0),
  pidStart: opt(isStr),
  configDir: opt(isStr),
};

/** A run.json's content as a RunDescription, or an Error saying which field is wrong. */
export function parseRunDescription(v: unknown): RunDescription {
  if (!isObj(v)) throw new Error(`run.json is ${Array.isArray(v) ? 'a list' : v === null ? 'null' : `a ${typeof v}`}, not a run description`);
  const d = v as Record<string, unknown>;
  for (const [k, check] of Object.entries(DESCRIPTION_FIELDS)) {
    if (!check(d[k])) throw new Error(`run.json: field '${k}' is ${d[k] === undefined ? 'missing' : 'not valid'}`);
  }
  return v as unknown as RunDescription;
}

/** Largest run.json read (it holds the config and final numbers: a few KB). */
const MAX_DESCRIPTION_BYTES = 4 * 2 ** 20;
/** Longest events.jsonl line kept (the biggest event, a gradient-check report, is tens of KB). */
const MAX_EVENT_LINE = 16 * 2 ** 20;

/** Open a record file for reading: no link, a regular file (not /dev/zero or a FIFO). */
function openRecordFile(file: string): number | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new Error(`${path.basename(file)} is not a regular file`);
  }
  return fd;
}

/**
 * A run folder's description as recorded (no liveness applied), validated: `unreadable` says why it
 * is not one; neither when there is no run.json.
 */
export function readDescription(dir: string): { description?: RunDescription; unreadable?: string } {
  try {
    const fd = openRecordFile(path.join(dir, 'run.json'));
    if (fd === undefined) return {};
    let text: string;
    try {
      const size = fs.fstatSync(fd).size;
      if (size > MAX_DESCRIPTION_BYTES) throw new Error(`run.json is ${(size / 2 ** 20).toFixed(1)} MiB (at most ${MAX_DESCRIPTION_BYTES / 2 ** 20} MiB)`);
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new Error(`run.json is not JSON (${(err as Error).message})`);
    }
    return { description: parseRunDescription(json) };
  } catch (err) {
    return { unreadable: (err as Error).message };
  }
}

/**
 * The lines of a file, read in 1 MiB chunks (a 560 MB events.jsonl read as one string exceeded
 * V8's string limit and came back as no events). A line longer than `maxLine` is passed on as
 * `undefined` (and not accumulated).
 */
export function* fileLines(fd: number, maxLine = MAX_EVENT_LINE): Generator<string | undefined> {
  const buf = Buffer.alloc(2 ** 20);
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let tooLong = false;
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    const chunk = n > 0 ? decoder.write(buf.subarray(0, n)) : decoder.end();
    const parts = chunk.split('\n');
    for (let i = 0; i < parts.length - 1; i++) {
      const line = carry + parts[i];
      yield tooLong || line.length > maxLine ? undefined : line;
      carry = '';
      tooLong = false;
    }
    carry += parts[parts.length - 1];
    if (carry.length > maxLine) {
      tooLong = true;
      carry = '';
    }
    if (n === 0) break;
  }
  if (carry || tooLong) yield tooLong ? undefined : carry;
}

/**
 * The events of a recorded run, one at a time, each validated; lines that are torn (a killed
 * process), not JSON, not an event or too long are counted in `counts.skipped`.
 */
export function* recordedEvents(dir: string, counts: { skipped: number } = { skipped: 0 }): Generator<Envelope> {
  let fd: number | undefined;
  try {
    fd = openRecordFile(path.join(dir, 'events.jsonl'));
  } catch {
    counts.skipped++;
    return;
  }
  if (fd === undefined) return;
  try {
    for (const line of fileLines(fd)) {
      if (line !== undefined && !line.trim()) continue;
      let e: Envelope | undefined;
      try {
        if (line !== undefined) e = parseWorkerEvent(JSON.parse(line));
      } catch {
        e = undefined;
      }
      if (e) yield e;
      else counts.skipped++;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Read a recorded run; a torn last line (the process was killed mid-write) is skipped. */
export function readRun(dir: string): { description: RunDescription | undefined; unreadable?: string; events: Envelope[]; skipped: number } {
  const { description, unreadable } = readDescription(dir);
  const counts = { skipped: 0 };
  const events = [...recordedEvents(dir, counts)];
  return { description: description && withLiveness(description), unreadable, events, skipped: counts.skipped };
}

/**
 * A run's progress: run.json's `summary` where the recorder kept one, else read from the end of its
 * events.jsonl (runs recorded before it did; a bounded tail, never the whole log).
 */
export function runProgress(dir: string, d: RunDescription): RunProgress {
  return progressOf(d.summary) ?? progressFromTail(dir, d.steps || null, Date.parse(d.startedAt));
}

export function summarize(d: RunDescription): RunSummary {
  return { runId: d.runId, experiment: d.experiment, method: d.method, K: d.K, status: d.status, startedAt: d.startedAt, backend: d.backend, finalMetrics: d.finalMetrics, reason: d.reason, label: d.label };
}

/** A folder name the runs store can address (the same rule as RunsStore.dirOf). */
export function isRunId(name: string): boolean {
  return /^[A-Za-z0-9_.-]+$/.test(name) && name !== '.' && name !== '..';
}

/**
 * All runs under a root folder (`.rbp-lab/runs`), newest first. A folder whose run.json cannot be
 * read or is not a run description is listed as failed and `unreadable` (with why, dated by the
 * folder), so one bad record hides no other. A run is named by its folder.
 */
export function listRuns(root: string): RunDescription[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const out: RunDescription[] = [];
  for (const n of names) {
    const d = describeRun(root, n);
    if (d) out.push(d);
  }
  return out.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/**
 * One run of a runs root as listRuns lists it (its run.json read, liveness applied; an unreadable
 * record as a failed placeholder), or undefined when `name` is no run folder there (any more).
 */
export function describeRun(root: string, name: string): RunDescription | undefined {
  if (!isRunId(name)) return undefined;
  const dir = path.join(root, name);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return undefined;
  }
  if (!st.isDirectory()) return undefined;
  const { description, unreadable } = readDescription(dir);
  if (description) return withLiveness(description.runId === name ? description : { ...description, runId: name });
  if (unreadable) return { ...placeholder(name), experiment: name, title: name, startedAt: st.mtime.toISOString(), reason: `unreadable record: ${unreadable}`, unreadable };
  return undefined;
}
