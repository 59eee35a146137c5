/**
 * The runs of a workspace: the recorded ones under `.rbp-lab/runs/` plus the live ones, with a
 * change event. vscode-free; the dashboard (and later the runs tree view) subscribe to it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { listRuns, readRun, readDescription, recordedEvents, summarize, replaceFile, isRunId, describeRun, RunDescription } from '../run/recorder';
import type { Envelope, RunSummary, WebviewToHost } from '../protocol/messages';
import type { WorkerRun } from './workerHost';
import { listCheckpoints } from '../run/checkpointFiles';
import { compareRunOptions, COMPARE_DEFAULT_KS } from '../shared/compareSummary';
import { listRunRows, runRow } from '../run/runRows';
import type { RunRow } from '../shared/runsTable';

export type Listener<T> = (e: T) => void;

/** A minimal event emitter with disposable subscriptions (the shape of vscode.EventEmitter). */
export class Emitter<T> {
  private listeners = new Set<Listener<T>>();
  readonly event = (l: Listener<T>): { dispose(): void } => {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        console.error('rbp-lab listener failed', err);
      }
    }
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export interface RunEvent {
  runId: string;
  event: Envelope;
}

/** Which runs a change touched; `undefined` (a refresh): any run may have changed, list them all again. */
export interface RunsChange {
  runIds: string[];
}

/** What the dashboard sends when some runs changed: their rows and summaries as now, and the ones gone. */
export interface RunsUpdate {
  rows: RunRow[];
  runs: RunSummary[];
  removed: string[];
}

export class RunsStore {
  private readonly active = new Map<string, WorkerRun>();
  private readonly changed = new Emitter<RunsChange | undefined>();
  private readonly events = new Emitter<RunEvent>();
  private readonly liveMetrics = new Map<string, Record<string, number>>();
  /** Fires when a run starts, ends, or the list changes (with the runs it touched, when known). */
  readonly onDidChange = this.changed.event;
  /** Every event of every live run, as it is recorded. */
  readonly onRunEvent = this.events.event;

  constructor(readonly root: string) {}

  /** The folder of a run; refuses ids that are not one plain folder name (they come from the webview too). */
  dirOf(runId: string): string {
    if (!isRunId(runId)) throw new Error(`not a run id: ${JSON.stringify(runId)}`);
    return path.join(this.root, runId);
  }

  /** A run id this store knows: one plain folder name, of a live run or a recorded folder. */
  knows(runId: string): boolean {
    return isRunId(runId) && (this.active.has(runId) || fs.existsSync(path.join(this.root, runId)));
  }

  /**
   * A webview message with its run ids checked at the boundary: `select`, `openRun`, `stop` and `compareAt`
   * must name a run this store knows (else an Error, and the message is dropped: a bad id never
   * becomes the selection); ids in a restored state that are not are left out.
   */
  checkWebviewMessage(msg: WebviewToHost): WebviewToHost {
    switch (msg.type) {
      case 'select':
      case 'openRun':
      case 'stop':
      case 'compareAt':
      case 'applyFix':
        if (!this.knows(msg.runId)) throw new Error(`${msg.type}: no run ${JSON.stringify(msg.runId.slice(0, 80))}`);
        return msg;
      case 'pickRuns':
        return { type: 'pickRuns', runIds: msg.runIds.filter((id) => this.knows(id)) };
      case 'ready': {
        if (!msg.state) return msg;
        const { runId, overlayRunIds, ...rest } = msg.state;
        return { type: 'ready', state: { ...rest, ...(runId !== undefined && this.knows(runId) ? { runId } : {}), ...(overlayRunIds ? { overlayRunIds: overlayRunIds.filter((id) => this.knows(id)) } : {}) } };
      }
      default:
        return msg;
    }
  }

  /** Recorded runs, newest first; a live run carries its latest metrics (run.json has them only at the end). */
  list(): RunDescription[] {
    return listRuns(this.root).map((r) => this.withLive(r));
  }

  /** One run as list() lists it, its folder alone read; undefined when it is gone. */
  describe(runId: string): RunDescription | undefined {
    const d = describeRun(this.root, runId);
    return d && this.withLive(d);
  }

  private withLive(r: RunDescription): RunDescription {
    const live = this.liveMetrics.get(r.runId);
    if (live && this.active.has(r.runId)) r.finalMetrics = { ...r.finalMetrics, ...live };
    return r;
  }

  /** The runs table's rows (issue 19): each run's summary from its run.json (or its log's tail), never its whole log. */
  rows(): RunRow[] {
    return listRunRows(this.root);
  }

  /** The rows and summaries of these runs as they are now (each one's folder read once, no other run's), and which are gone. */
  update(runIds: Iterable<string>): RunsUpdate {
    const out: RunsUpdate = { rows: [], runs: [], removed: [] };
    for (const id of new Set(runIds)) {
      const d = describeRun(this.root, id);
      if (!d) {
        out.removed.push(id);
        continue;
      }
      out.rows.push(runRow(path.join(this.root, id), d));
      out.runs.push(summarize(this.withLive(d)));
    }
    return out;
  }

  summaries(): RunSummary[] {
    return this.list().map(summarize);
  }

  /** The steps a run has checkpoints at (ascending; none: []). */
  checkpointSteps(runId: string): number[] {
    return listCheckpoints(this.dirOf(runId)).map((c) => c.step);
  }

  read(runId: string): ReturnType<typeof readRun> {
    return readRun(this.dirOf(runId));
  }

  /** A run's recorded events one at a time (a large events.jsonl is never held whole). */
  recordedEvents(runId: string): Generator<Envelope> {
    return recordedEvents(this.dirOf(runId));
  }

  get activeRuns(): WorkerRun[] {
    return [...this.active.values()];
  }

  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  getActive(runId: string): WorkerRun | undefined {
    return this.active.get(runId);
  }

  /** Track a live run: its events and its end are published. */
  track(run: WorkerRun): void {
    this.active.set(run.runId, run);
    this.changed.fire({ runIds: [run.runId] });
    void run.done.then(() => {
      this.active.delete(run.runId);
      this.liveMetrics.delete(run.runId);
      this.changed.fire({ runIds: [run.runId] });
    });
  }

  /** Called by the run's onEvent callback. */
  publish(runId: string, event: Envelope): void {
    if (event.type === 'metrics') {
      const m = this.liveMetrics.get(runId) ?? {};
      for (const [k, v] of Object.entries(event.values)) if (Number.isFinite(v)) m[k] = v;
      this.liveMetrics.set(runId, m);
    }
    this.events.fire({ runId, event });
    if (event.type === 'run/started') this.changed.fire({ runIds: [runId] });
  }

  /** Something changed on disk: in these runs' folders (else in any: everything is listed again). */
  refresh(runIds?: string[]): void {
    this.changed.fire(runIds ? { runIds } : undefined);
  }

  /** Set (or clear, with an empty label) a run's display label: `label` in its run.json. */
  rename(runId: string, label: string): RunDescription {
    const dir = this.dirOf(runId);
    const { description: d, unreadable } = readDescription(dir);
    if (!d) throw new Error(unreadable ?? `${dir} has no run.json`);
    const file = path.join(dir, 'run.json');
    const l = label.trim();
    if (l) d.label = l;
    else delete d.label;
    replaceFile(file, JSON.stringify(d, null, 2));
    this.changed.fire({ runIds: [runId] });
    return d;
  }

  /** Remove a recorded run's folder; a live run must be stopped first. */
  delete(runId: string): void {
    if (this.active.has(runId)) throw new Error(`run ${runId} is still running: stop it first`);
    const dir = this.dirOf(runId);
    if (path.dirname(dir) !== path.resolve(this.root) || !runId || runId.includes('..')) throw new Error(`not a run folder: ${dir}`);
    fs.rmSync(dir, { recursive: true, force: true });
    this.changed.fire({ runIds: [runId] });
  }

  dispose(): void {
    for (const r of this.active.values()) r.dispose();
    this.changed.dispose();
    this.events.dispose();
  }
}

/** What "Compare TBPTT vs Neumann-RBP at this step" launches: the run's own config at one of its checkpoints. */
export interface CompareAtRequest {
  runId: string;
  step: number;
  /** The experiment as the training run recorded it (a built-in name, or its config's name). */
  experiment: string;
  /** The training run's resolved config (run.json), so the model has the checkpoint's shapes. */
  config: Record<string, unknown>;
  /** The folder of the training run's config file (its relative paths, such as model.module, resolve there). */
  configDir?: string;
  method: string;
  K: number;
  /** `from`: RUN_DIR@STEP, what `rbp gradcheck --from` takes. */
  gradcheck: { Ks: number[]; methods: string[]; from: string };
}

/**
 * The gradient check at a training run's checkpoint (`step` omitted: its newest), or why there is
 * none — one line naming the run and what is missing, for an error message.
 */
export function compareAtRequest(store: RunsStore, runId: string, step?: number, Ks: readonly number[] = COMPARE_DEFAULT_KS): CompareAtRequest | { error: string } {
  if (!store.knows(runId)) return { error: `no run ${runId} in ${store.root}` };
  const { description: d, unreadable } = readDescription(store.dirOf(runId));
  if (!d) return { error: `run ${runId} cannot be read: ${unreadable ?? 'no run.json'}` };
  if (d.method === 'gradcheck') return { error: `run ${runId} is a gradient check, not a training run: it has no checkpoints` };
  const steps = store.checkpointSteps(runId);
  if (!steps.length) return { error: `run ${runId} has no checkpoints (none in ${store.dirOf(runId)}/checkpoints)` };
  const at = step ?? steps[steps.length - 1];
  if (!steps.includes(at)) return { error: `run ${runId} has no checkpoint at step ${at} (it has ${steps.join(', ')})` };
  const o = compareRunOptions(Ks);
  return { runId, step: at, experiment: d.experiment, config: d.config, ...(d.configDir ? { configDir: d.configDir } : {}), method: o.method, K: o.K, gradcheck: { ...o.gradcheck, from: `${store.dirOf(runId)}@${at}` } };
}

/** What the runs tree shows for a run (vscode-free, so it is tested without VS Code). */
export interface RunItemView {
  label: string;
  description: string;
  tooltip: string;
  /** A codicon id. */
  icon: string;
  /** Theme colour id for the icon, if any. */
  iconColour?: string;
  contextValue: string;
}

const STATUS_ICON: Record<RunDescription['status'], { icon: string; colour?: string }> = {
  running: { icon: 'sync~spin' },
  completed: { icon: 'pass', colour: 'testing.iconPassed' },
  cancelled: { icon: 'circle-slash', colour: 'disabledForeground' },
  failed: { icon: 'error', colour: 'testing.iconFailed' },
};

const num = (v: number) => (Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(2) : String(Number(v.toPrecision(4))));

/** "2025-11-28 10:42" in local time. */
export function shortDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The final numbers worth a glance: loss and eval metrics, or a gradient check's ρ and verdict. */
export function keyMetrics(d: RunDescription): string[] {
  const out: string[] = [];
  if (d.method === 'gradcheck') {
    if (typeof d.summary?.rho === 'number') out.push(`ρ ${num(d.summary.rho)}`);
    if (d.summary?.verdict !== undefined) out.push(String(d.summary.verdict));
    return out;
  }
  const m = d.finalMetrics ?? {};
  for (const k of ['loss', 'val_acc', 'test_acc', 'meta_loss', 'val_loss']) if (typeof m[k] === 'number') out.push(`${k} ${num(m[k])}`);
  return out;
}

export function runItemView(d: RunDescription, live = false, hasCheckpoints = false): RunItemView {
  if (d.unreadable !== undefined) {
    // Listed so it hides nothing and can be deleted; nothing in it can be shown or compared.
    return {
      label: `${d.runId} (unreadable)`,
      description: shortDate(d.startedAt),
      tooltip: `unreadable run record: ${d.unreadable}\nrun: ${d.runId}`,
      icon: 'warning',
      iconColour: 'problemsWarningIcon.foreground',
      contextValue: 'rbpLab.run.failed.unreadable',
    };
  }
  const status = live ? 'running' : d.status;
  const what = d.method === 'gradcheck' ? `${d.experiment} · gradient check${d.from ? ` at step ${d.from.step} of ${d.from.runId}` : ''}` : `${d.experiment} · ${d.method}${d.K !== null ? ` K=${d.K}` : ''}`;
  const metrics = keyMetrics(d);
  const st = STATUS_ICON[status] ?? STATUS_ICON.failed;
  const tooltip = [
    d.label ? `${d.label}\n${what}` : what,
    `status: ${status}${d.reason ? ` — ${d.reason}` : ''}`,
    `started: ${shortDate(d.startedAt)}${d.finishedAt ? ` · finished: ${shortDate(d.finishedAt)}` : ''}`,
    d.backend ? `backend: ${d.backend}` : '',
    d.T ? `T = ${d.T}, ${d.steps} steps` : '',
    ...Object.entries(d.finalMetrics ?? {}).map(([k, v]) => `${k}: ${num(v)}`),
    `run: ${d.runId}`,
  ].filter(Boolean);
  return {
    label: d.label ? d.label : what,
    description: [d.label ? what : '', shortDate(d.startedAt), ...metrics].filter(Boolean).join(' · '),
    tooltip: tooltip.join('\n'),
    icon: st.icon,
    iconColour: st.colour,
    // `.checkpoints`: the context menu offers Compare TBPTT vs Neumann-RBP at one of them.
    contextValue: `rbpLab.run.${status}${d.method === 'gradcheck' ? '.gradcheck' : ''}${hasCheckpoints && d.method !== 'gradcheck' ? '.checkpoints' : ''}`,
  };
}
