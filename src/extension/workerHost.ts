/**
 * Runs one experiment in a forked worker process and records it — without `vscode`, so the unit
 * tests drive it exactly as the extension does. The extension host never computes: it forks
 * `dist/worker.js` with the chosen Node, validates every IPC message with the protocol
 * validators, writes `run.json` / `events.jsonl` itself (RunRecorder), and turns every way a worker
 * can end (finished, cancelled, failed, crashed, killed, out of memory, never started) into a
 * recorded run with a clear final status.
 */
import { fork, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { RunRecorder, describeRequest } from '../run/recorder';
import { workerEnv } from '../run/workerEnv';
import { parseWorkerMessage, Envelope, FailureKind, HostCommand, RunSpec, WorkerEvent } from '../protocol/messages';

// ---- which Node runs the worker ----

export interface NodeChoice {
  /** Executable to fork the worker with. */
  execPath: string;
  /** Extra environment for it (ELECTRON_RUN_AS_NODE for VS Code's own runtime). */
  env: Record<string, string>;
  origin: 'setting' | 'path' | 'vscode';
  /** Why this one, for the log and the dashboard. */
  description: string;
  /** Native tfjs addons cannot load in this runtime: use the wasm backend. */
  wasmOnly: boolean;
}

/** The oldest Node.js a worker runs on: package.json's engines.node (a test keeps them equal). */
export const MIN_NODE_MAJOR = 20;

/** First executable called `name` on a PATH string. */
export function findOnPath(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of pathEnv.split(path.delimiter).filter(Boolean)) {
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) return candidate;
      } catch {
        /* not here */
      }
    }
  }
  return undefined;
}

/**
 * `rbpLab.nodePath` when set; else the system `node` on PATH (the one a native
 * @tensorflow/tfjs-node-gpu addon is built for); else VS Code's own runtime, on wasm.
 */
export function chooseNode(setting: string | undefined, opts: { pathEnv?: string; execPath?: string; isElectron?: boolean } = {}): NodeChoice {
  if (setting && setting.trim()) {
    return { execPath: setting.trim(), env: {}, origin: 'setting', description: `${setting.trim()} (from the rbpLab.nodePath setting)`, wasmOnly: false };
  }
  const onPath = findOnPath('node', opts.pathEnv);
  if (onPath) return { execPath: onPath, env: {}, origin: 'path', description: `${onPath} (the system \`node\` on PATH)`, wasmOnly: false };
  const own = opts.execPath ?? process.execPath;
  const electron = opts.isElectron ?? Boolean(process.versions.electron);
  return {
    execPath: own,
    env: electron ? { ELECTRON_RUN_AS_NODE: '1' } : {},
    origin: 'vscode',
    description: `${own} (VS Code's own runtime: no \`node\` on PATH and rbpLab.nodePath is not set; native backends and webgpu need the system Node, so this run uses wasm)`,
    wasmOnly: true,
  };
}

// ---- one run ----

export interface StreamStats {
  /** Validated messages received from the worker (events, not counting worker/ready). */
  messages: number;
  /** Their size as JSON. */
  bytes: number;
  /** From the first to the last message. */
  durationMs: number;
  messagesPerSec: number;
  bytesPerSec: number;
  /** Messages that failed validation and were dropped. */
  invalid: number;
}

export type RunStatus = 'completed' | 'cancelled' | 'failed';

export interface RunOutcome {
  runId: string;
  dir: string;
  status: RunStatus;
  kind?: FailureKind;
  reason?: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stats: StreamStats;
}

export interface WorkerHostOptions {
  /** dist/worker.js */
  workerScript: string;
  /** Runs are recorded in `<runsRoot>/<runId>/`. */
  runsRoot: string;
  /** Which Node; `chooseNode(undefined)` when omitted. */
  node?: NodeChoice;
  runId?: string;
  /** Extra environment for the worker. */
  env?: Record<string, string>;
  /** The worker must say worker/ready within this (default 30 s). */
  readyTimeoutMs?: number;
  /** After run/cancel, SIGKILL the worker if it has not exited within this (default 1 s). */
  cancelGraceMs?: number;
  /**
   * A worker that answered Stop with finished steps to checkpoint (worker/stopping `saving`) may take
   * this long from its answer to announce that write (an evaluation or probe under way ends first)
   * before it is killed (default 60 s).
   */
  stopSaveGraceMs?: number;
  /**
   * A checkpoint write under way when the grace ends (announced by `checkpoint/writing`) may take
   * this long from its start before the worker is killed anyway (default: checkpointGraceFor(bytes)).
   */
  checkpointGraceMs?: number;
  /** V8 heap limit for the worker, in MB. */
  maxOldSpaceMB?: number;
}

export interface RunCallbacks {
  /** Every validated, recorded event, in order. */
  onEvent?(e: Envelope): void;
  /** Host-side log lines (the worker's stderr, lifecycle). */
  onLog?(line: string): void;
}

/** How long a stopped run's checkpoint write of `bytes` may take: 10 s plus 1 s per 8 MiB (2 MiB/s would be a very slow disk), at most 2 min. */
export function checkpointGraceFor(bytes: number): number {
  return Math.min(120_000, 10_000 + Math.round((bytes / 2 ** 23) * 1000));
}

const OOM = /heap out of memory|Allocation failed - JavaScript heap|Array buffer allocation failed|Aborted\(OOM\)|std::bad_alloc|Cannot allocate memory/i;

/** A run in a worker process. `done` always resolves (never rejects) once the record is closed. */
export class WorkerRun {
  readonly runId: string;
  readonly dir: string;
  readonly node: NodeChoice;
  readonly done: Promise<RunOutcome>;
  readonly startedAt = Date.now();

  private child: ChildProcess | undefined;
  private recorder: RunRecorder;
  private seq = 0;
  private ready = false;
  private terminal: Envelope | undefined;
  private cancelRequested = false;
  private finished = false;
  private stderrTail = '';
  private timers: NodeJS.Timeout[] = [];
  private killTimer: NodeJS.Timeout | undefined;
  /** The checkpoint write the worker announced and has not finished. */
  private writing: { file: string; bytes: number; since: number; told: boolean } | undefined;
  /** When Stop was asked for, once the worker answered that it will write a checkpoint first. */
  private saving: { since: number; told: boolean } | undefined;
  private stats = { messages: 0, bytes: 0, first: 0, last: 0, invalid: 0 };
  private resolve!: (o: RunOutcome) => void;

  constructor(
    readonly spec: RunSpec,
    private readonly opts: WorkerHostOptions,
    private readonly cb: RunCallbacks = {},
  ) {
    this.node = opts.node ?? chooseNode(undefined);
    const request = describeRequest(spec);
    this.runId = opts.runId ?? request.runId;
    this.dir = path.join(opts.runsRoot, this.runId);
    this.recorder = new RunRecorder(this.dir, this.runId, request.initial);
    this.done = new Promise((r) => (this.resolve = r));
    this.start();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** Whether Stop was asked for (the run may still be writing its checkpoint). */
  get stopping(): boolean {
    return this.cancelRequested && !this.finished;
  }

  /**
   * Ask the worker to stop inside its current step; SIGKILL it if it has not exited within the grace
   * time — the grace covers a worker that does not answer at all. A worker that answers it has
   * finished steps to checkpoint (worker/stopping `saving`: Stop came after a step, during its
   * evaluation, probe or diagnosis) gets up to stopSaveGraceMs from Stop to start that write; a write
   * under way (the stopped run's own, or a periodic one) may finish (at most checkpointGraceMs from its
   * start), and the grace starts again after it. Stop inside a step abandons that step: nothing new to
   * save, the grace alone applies.
   */
  cancel(): void {
    if (this.finished || this.cancelRequested) return;
    this.cancelRequested = true;
    this.log(`stop requested for ${this.runId}`);
    if (!this.ready) {
      this.child?.kill('SIGKILL');
      return;
    }
    this.send({ type: 'run/cancel', runId: this.runId });
    this.armKill(this.opts.cancelGraceMs ?? 1000);
  }

  private armKill(ms: number): void {
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = setTimeout(() => this.killIfStuck(), ms);
  }

  private killIfStuck(): void {
    if (this.finished || !this.child || this.child.exitCode !== null) return;
    const w = this.writing;
    const s = this.saving;
    if (!w && s) {
      const limit = this.opts.stopSaveGraceMs ?? 60_000;
      const left = s.since + limit - Date.now();
      if (left > 0) {
        if (!s.told) {
          s.told = true;
          this.record({ type: 'log', level: 'info', text: `stopping: waiting for the worker to finish what it computes and checkpoint its finished steps (at most ${(limit / 1000).toFixed(0)} s)` });
        }
        this.armKill(left);
        return;
      }
      this.record({ type: 'log', level: 'warn', text: `stopping: the worker did not start its checkpoint within ${(limit / 1000).toFixed(0)} s of Stop: killing it (the run continues from its last checkpoint)` });
    } else if (w) {
      const limit = this.opts.checkpointGraceMs ?? checkpointGraceFor(w.bytes);
      const left = w.since + limit - Date.now();
      if (left > 0) {
        if (!w.told) {
          w.told = true;
          this.record({ type: 'log', level: 'info', text: `stopping: waiting for the worker to finish writing ${w.file} (${mib(w.bytes)} MiB; at most ${(limit / 1000).toFixed(0)} s)` });
        }
        this.armKill(left);
        return;
      }
      this.record({ type: 'log', level: 'warn', text: `stopping: ${w.file} (${mib(w.bytes)} MiB) was not written within ${(limit / 1000).toFixed(0)} s: killing the worker (the earlier checkpoints are whole; the unfinished one stays a .tmp file that nothing reads)` });
    }
    this.log(`worker ${this.child.pid} did not stop within ${this.opts.cancelGraceMs ?? 1000} ms: killing it`);
    this.child.kill('SIGKILL');
  }

  /** End the worker at once (extension deactivation). */
  dispose(): void {
    if (!this.finished) {
      this.cancelRequested = true;
      this.child?.kill('SIGKILL');
    }
  }

  private start(): void {
    // The host records run.json and events.jsonl; the worker writes checkpoints into the same folder.
    const spec: RunSpec = { ...this.spec, outDir: undefined, checkpointDir: this.spec.gradcheck ? undefined : this.dir };
    if (this.node.wasmOnly && (!spec.backend || spec.backend === 'auto')) spec.backend = 'wasm';
    this.record({ type: 'log', level: 'info', text: `worker Node: ${this.node.description}` });
    let child: ChildProcess;
    try {
      child = fork(this.opts.workerScript, [], {
        execPath: this.node.execPath,
        execArgv: this.opts.maxOldSpaceMB ? [`--max-old-space-size=${this.opts.maxOldSpaceMB}`] : [],
        env: workerEnv(this.node.env, this.opts.env),
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        serialization: 'json',
      });
    } catch (err) {
      this.fail('no-start', this.noStartReason(err));
      this.finish(null, null);
      return;
    }
    this.child = child;
    child.on('error', (err) => {
      // Spawn failures (ENOENT, EACCES) arrive here; so do send errors on a dead channel.
      if (!this.ready && !this.terminal) {
        this.fail('no-start', this.noStartReason(err));
        // A process that never spawned emits no 'close': finish here.
        if (child.pid === undefined) this.finish(null, null);
      } else this.log(`worker error: ${err.message}`);
    });
    child.stdout?.on('data', (d: Buffer) => this.log(`[worker] ${d.toString().trimEnd()}`));
    child.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      this.stderrTail = (this.stderrTail + text).slice(-4000);
      this.log(`[worker stderr] ${text.trimEnd()}`);
    });
    child.on('message', (raw: unknown) => this.onMessage(raw, spec));
    child.on('close', (code, signal) => this.finish(code, signal));
    this.timers.push(
      setTimeout(() => {
        if (!this.ready && !this.finished) {
          this.fail('no-start', `the worker (${this.node.execPath}) did not report ready within ${(this.opts.readyTimeoutMs ?? 30000) / 1000} s${this.stderrHint()}`);
          child.kill('SIGKILL');
        }
      }, this.opts.readyTimeoutMs ?? 30000),
    );
  }

  private onMessage(raw: unknown, spec: RunSpec): void {
    let msg;
    try {
      msg = parseWorkerMessage(raw);
    } catch (err) {
      this.stats.invalid++;
      this.log(`dropped an invalid message from the worker: ${(err as Error).message}`);
      return;
    }
    if (msg.type === 'worker/stopping') {
      this.log(`worker ${msg.pid} is stopping ${this.runId}${msg.saving ? ' (it checkpoints its finished steps first)' : ''}`);
      if (msg.saving && this.cancelRequested && !this.finished) this.saving ??= { since: Date.now(), told: false };
      return;
    }
    if (msg.type === 'worker/ready') {
      this.ready = true;
      this.log(`worker ${msg.pid} ready (${this.node.execPath}); starting ${this.runId}`);
      if (this.cancelRequested) this.child?.kill('SIGKILL');
      else this.send({ type: 'run/start', runId: this.runId, spec });
      return;
    }
    if (msg.runId !== this.runId) {
      this.stats.invalid++;
      this.log(`dropped an event for another run (${msg.runId})`);
      return;
    }
    const now = Date.now();
    this.stats.messages++;
    this.stats.bytes += JSON.stringify(raw).length;
    if (!this.stats.first) this.stats.first = now;
    this.stats.last = now;
    const { runId: _r, seq: _s, t, ...event } = msg;
    this.record(event as WorkerEvent, t);
    if (msg.type === 'checkpoint/writing') this.writing = { file: msg.file, bytes: msg.bytes, since: now, told: false };
    else if (msg.type === 'checkpoint') {
      this.writing = undefined;
      this.saving = undefined; // every finished step is in a checkpoint now
      // Written: the worker has its usual grace to end the run from here.
      if (this.cancelRequested && this.killTimer) this.armKill(this.opts.cancelGraceMs ?? 1000);
    }
  }

  private send(cmd: HostCommand): void {
    if (!this.child?.connected) return;
    try {
      this.child.send(cmd);
    } catch (err) {
      this.log(`could not send ${cmd.type} to the worker: ${(err as Error).message}`);
    }
  }

  /** Stamp (the host owns the record's sequence numbers), append, and pass on. */
  private record(e: WorkerEvent, t = Date.now()): void {
    if (this.terminal) return;
    const env = { ...e, runId: this.runId, seq: this.seq++, t } as Envelope;
    if (env.type === 'run/finished' || env.type === 'run/failed') this.terminal = env;
    try {
      this.recorder.append(env);
    } catch (err) {
      this.log(`could not record an event: ${(err as Error).message}`);
    }
    this.cb.onEvent?.(env);
  }

  private fail(kind: FailureKind, reason: string): void {
    this.record({ type: 'run/failed', kind, reason, elapsedMs: Date.now() - this.startedAt });
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.finished) return;
    if (!this.terminal) {
      const elapsedMs = Date.now() - this.startedAt;
      if (this.cancelRequested) {
        this.record({ type: 'run/finished', status: 'cancelled', elapsedMs, summary: { stopped_by: signal ? `host (${signal})` : 'host' } });
      } else if (OOM.test(this.stderrTail)) {
        this.fail('out-of-memory', `the worker ran out of memory${this.stderrHint()}; use fewer steps or a smaller model, or raise its heap limit (rbpLab.workerMaxMemoryMB)`);
      } else if (!this.ready) {
        this.fail('no-start', `the worker (${this.node.execPath}) exited before it was ready (${signal ?? `code ${code}`})${this.stderrHint()}`);
      } else if (signal === 'SIGKILL') {
        this.fail('killed', `the worker (pid ${this.child?.pid}) was killed (SIGKILL) — by a user or by the system's out-of-memory killer`);
      } else if (signal) {
        this.fail('crashed', `the worker (pid ${this.child?.pid}) ended on signal ${signal}${this.stderrHint()}`);
      } else {
        this.fail('crashed', `the worker exited with code ${code} without finishing the run${this.stderrHint()}`);
      }
    }
    this.finished = true;
    for (const t of this.timers) clearTimeout(t);
    if (this.killTimer) clearTimeout(this.killTimer);
    try {
      this.recorder.close();
    } catch (err) {
      this.log(`could not close the record: ${(err as Error).message}`);
    }
    const term = this.terminal!;
    const durationMs = Math.max(1, this.stats.last - this.stats.first);
    const outcome: RunOutcome = {
      runId: this.runId,
      dir: this.dir,
      status: term.type === 'run/finished' ? term.status : 'failed',
      kind: term.type === 'run/failed' ? term.kind : undefined,
      reason: term.type === 'run/failed' ? term.reason : undefined,
      exitCode: code,
      signal,
      stats: {
        messages: this.stats.messages,
        bytes: this.stats.bytes,
        durationMs,
        messagesPerSec: (this.stats.messages * 1000) / durationMs,
        bytesPerSec: (this.stats.bytes * 1000) / durationMs,
        invalid: this.stats.invalid,
      },
    };
    this.log(
      `${this.runId}: ${outcome.status}${outcome.reason ? ` (${outcome.kind}: ${outcome.reason})` : ''}; stream ${outcome.stats.messages} messages, ${(outcome.stats.bytes / 1024).toFixed(1)} KiB, ${outcome.stats.messagesPerSec.toFixed(1)} msg/s, ${(outcome.stats.bytesPerSec / 1024).toFixed(1)} KiB/s`,
    );
    this.resolve(outcome);
  }

  private noStartReason(err: unknown): string {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'not executable' : (e.message ?? String(err));
    const hint = this.node.origin === 'setting' ? 'fix or clear the rbpLab.nodePath setting' : `set rbpLab.nodePath to a Node.js ${MIN_NODE_MAJOR}+ executable`;
    return `could not start the worker with Node '${this.node.execPath}' (${why}): ${hint}`;
  }

  private stderrHint(): string {
    const lines = this.stderrTail.trim().split('\n').filter((l) => l.trim());
    if (!lines.length) return '';
    const pick = lines.find((l) => OOM.test(l)) ?? lines[lines.length - 1];
    return `: ${pick.trim().slice(0, 300)}`;
  }

  private log(line: string): void {
    this.cb.onLog?.(line);
  }
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** Start a run in a worker process. */
export function startWorkerRun(spec: RunSpec, opts: WorkerHostOptions, cb: RunCallbacks = {}): WorkerRun {
  return new WorkerRun(spec, opts, cb);
}
