/**
 * Run records on disk: `<dir>/run.json` (what the run is, its status and final numbers) and
 * `<dir>/events.jsonl` (every event, one JSON line, appended and flushed as it happens, so a
 * killed run keeps everything recorded up to the kill). The CLI's `--out` and the extension's
 * `.rbp-lab/runs/<id>/` use this same format.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Envelope, WorkerEvent, RunSummary, parseWorkerEvent, RunStarted, RunSpec, PROTOCOL_VERSION } from '../protocol/messages';
import type { BackendInfo } from '../protocol/workerEvents';

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
  summary?: Record<string, number | string | boolean>;
  reason?: string;
  label?: string;
  /** The process that computed the run. */
  pid?: number;
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
    fs.mkdirSync(dir, { recursive: true });
    // One folder holds one run: a new recorder starts a fresh events file.
    this.fd = fs.openSync(path.join(dir, 'events.jsonl'), 'w');
    if (initial) {
      this.desc = { ...placeholder(runId), ...initial, status: 'running', pid: process.pid };
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
      this.writeDescription();
    } else if (this.desc && e.type === 'metrics') {
      for (const [k, v] of Object.entries(e.values)) if (Number.isFinite(v)) this.desc.finalMetrics[k] = v;
    } else if (this.desc && e.type === 'run/finished') {
      this.desc.status = e.status;
      this.desc.finishedAt = new Date(e.t).toISOString();
      this.desc.summary = e.summary;
      this.writeDescription();
    } else if (e.type === 'run/failed') {
      if (!this.desc) this.desc = placeholder(this.runId);
      this.desc.status = 'failed';
      this.desc.reason = e.reason;
      this.desc.finishedAt = new Date(e.t).toISOString();
      this.writeDescription();
    }
  }

  /**
   * Write run.json. The display label belongs to the user (Rename in the Runs view writes it into
   * run.json while the run may still be recording): it is read back from the file, never kept here.
   */
  writeDescription(): void {
    if (!this.desc) return;
    const file = path.join(this.dir, 'run.json');
    let label: string | undefined;
    try {
      const onDisk = JSON.parse(fs.readFileSync(file, 'utf8')) as { label?: unknown };
      if (typeof onDisk.label === 'string' && onDisk.label) label = onDisk.label;
    } catch {
      label = undefined; // no file yet, or a torn one: nothing to keep
    }
    fs.writeFileSync(file + '.tmp', JSON.stringify(label ? { ...this.desc, label } : this.desc, null, 2));
    fs.renameSync(file + '.tmp', file);
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

function placeholder(runId: string): RunDescription {
  return { protocol: PROTOCOL_VERSION, runId, experiment: '?', title: '?', runner: '?', method: '?', K: null, T: 0, steps: 0, status: 'failed', startedAt: new Date().toISOString(), config: {}, finalMetrics: {} };
}

function descriptionFrom(e: Envelope<RunStarted>): RunDescription {
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

/**
 * A run still marked "running" whose process is gone (VS Code or the machine stopped, the CLI was
 * killed) is reported as failed: interrupted. Its record is kept as it is on disk.
 */
export function withLiveness(d: RunDescription): RunDescription {
  if (d.status !== 'running' || d.pid === undefined || processAlive(d.pid)) return d;
  return { ...d, status: 'failed', reason: d.reason ?? `interrupted: the process that recorded it (pid ${d.pid}) ended without finishing the run; what it recorded is kept` };
}

/** Read a recorded run; a torn last line (the process was killed mid-write) is skipped. */
export function readRun(dir: string): { description: RunDescription | undefined; events: Envelope[]; skipped: number } {
  let description: RunDescription | undefined;
  try {
    description = withLiveness(JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunDescription);
  } catch {
    description = undefined;
  }
  const events: Envelope[] = [];
  let skipped = 0;
  let text = '';
  try {
    text = fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8');
  } catch {
    /* no events yet */
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      events.push(parseWorkerEvent(JSON.parse(line)));
    } catch {
      skipped++;
    }
  }
  return { description, events, skipped };
}

export function summarize(d: RunDescription): RunSummary {
  return { runId: d.runId, experiment: d.experiment, method: d.method, K: d.K, status: d.status, startedAt: d.startedAt, backend: d.backend, finalMetrics: d.finalMetrics, reason: d.reason, label: d.label };
}

/** All runs under a root folder (`.rbp-lab/runs`), newest first. */
export function listRuns(root: string): RunDescription[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const out: RunDescription[] = [];
  for (const n of names) {
    try {
      out.push(withLiveness(JSON.parse(fs.readFileSync(path.join(root, n, 'run.json'), 'utf8')) as RunDescription));
    } catch {
      /* not a run folder */
    }
  }
  return out.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}
