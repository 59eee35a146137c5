/**
 * The one message protocol of RBP Lab, shared by the worker process, the extension host and the
 * webview. Worker → host events are also what the run recorder writes, one JSON line each, to
 * `<run>/events.jsonl`, so a recorded run replays through the same code as a live one.
 * Every boundary validates with `parseWorkerEvent` / `parseHostCommand` / `parseWebviewMessage`.
 */

export const PROTOCOL_VERSION = 1;

export interface BackendInfo {
  name: string;
  description: string;
  skipped: { name: string; reason: string }[];
  nodeVersion: string;
  execPath: string;
}

export interface VerdictInfo {
  level: 'ok' | 'warn' | 'bad';
  trustRbp: boolean;
  rho: number;
  forwardConverged: boolean;
  finalRelResidual: number;
  message: string;
}

export interface RunSpec {
  /** Built-in name (hopfield, cora, pubmed, citeseer, hypergrad) or a config file path. */
  experiment: string;
  /** The resolved config (authors' schema), when the caller has one. */
  config?: Record<string, unknown>;
  method?: string;
  K?: number;
  steps?: number;
  seed?: number;
  backend?: string;
  /** Record the run here (a folder that will hold run.json and events.jsonl). */
  outDir?: string;
  dataDir?: string;
  /** Extra folders to look for native tfjs packages in (the extension's global storage). */
  nativeSearchPaths?: string[];
  overrides?: string[];
  /** Run a gradient check (every method at every K on one batch and one set of weights) instead of training. */
  gradcheck?: { Ks: number[]; methods?: string[] };
}

// ---- worker → host (and recorded) ----

export interface RunStarted {
  type: 'run/started';
  experiment: string;
  title: string;
  runner: string;
  method: string;
  K: number | null;
  T: number;
  steps: number;
  stepLabel: string;
  backend: BackendInfo;
  config: Record<string, unknown>;
  startedAt: string;
  notes: string[];
  /** The process computing the run (lets a reader tell a live run from one whose process died). */
  pid?: number;
}

/** Forward residuals of one training step's forward pass (all its solver steps in one message). */
export interface ForwardTrace {
  type: 'trace/forward';
  step: number;
  abs: number[];
  rel: number[];
  converged: boolean;
  diverged: boolean;
}

export interface BackwardTraceMsg {
  type: 'trace/backward';
  step: number;
  method: string;
  /** Adjoint residual per iteration (null where the method has none). */
  residual: (number | null)[];
  /** ||z_k|| / ||g|| per iteration (BPTT/TBPTT). */
  termNorm: (number | null)[];
}

export interface Metrics {
  type: 'metrics';
  step: number;
  elapsedMs: number;
  /** e.g. loss, grad_norm, val_acc, test_acc, lr, meta_loss, ... */
  values: Record<string, number>;
  /** 'train' per step, 'eval' for evaluations. */
  kind: 'train' | 'eval';
}

export interface Diagnostics {
  type: 'diagnostics';
  step: number;
  rho: number;
  verdict: VerdictInfo;
}

export interface MemoryMsg {
  type: 'memory';
  step: number;
  peakBytes: number;
  liveBytes: number;
  rssBytes: number;
  numTensors: number;
}

export interface LogMsg {
  type: 'log';
  level: 'info' | 'warn' | 'error';
  text: string;
}

export interface RunFinished {
  type: 'run/finished';
  status: 'completed' | 'cancelled';
  elapsedMs: number;
  summary: Record<string, number | string | boolean>;
}

export type FailureKind = 'error' | 'diverged' | 'crashed' | 'killed' | 'out-of-memory' | 'no-start' | 'bad-config' | 'bad-data';

export interface RunFailed {
  type: 'run/failed';
  kind: FailureKind;
  reason: string;
  elapsedMs: number;
}

/** One method at one K of a gradient check (the fields of run/gradcheck.ts GradcheckRow). */
export interface GradcheckRowMsg {
  type: 'gradcheck/row';
  row: {
    method: string;
    K: number | null;
    relErrExact: number;
    cosExact: number;
    relErrBptt: number;
    cosBptt: number;
    timeMs: number;
    peakBytes: number;
    loss: number;
    residual: number | null;
    residualTrace: (number | null)[];
    vjps: number;
    jvps: number;
  };
}

/** The whole gradient-check report (run/gradcheck.ts GradcheckReport), the same one `rbp gradcheck --json` prints. */
export interface GradcheckResultMsg {
  type: 'gradcheck/result';
  report: {
    experiment: string;
    T: number;
    Ks: number[];
    methods: string[];
    rows: GradcheckRowMsg['row'][];
    forward: { stepsToTol: number | null; tol: number; finalRel: number; steps: number };
    rho: number;
    verdict: VerdictInfo;
    exactConverged: boolean;
    exactNote?: string;
    backend: string;
  };
}

export type WorkerEvent = RunStarted | ForwardTrace | BackwardTraceMsg | Metrics | Diagnostics | MemoryMsg | LogMsg | RunFinished | RunFailed | GradcheckRowMsg | GradcheckResultMsg;

/** Events as they travel or are recorded: stamped with the run they belong to and a sequence number. */
export type Envelope<E = WorkerEvent> = E & { runId: string; seq: number; t: number };

// ---- worker → host, not recorded ----

/** The worker's first message: it is alive and listening (sent before any run). */
export interface WorkerReady {
  type: 'worker/ready';
  pid: number;
}

// ---- host → worker ----

export type HostCommand = { type: 'run/start'; runId: string; spec: RunSpec } | { type: 'run/cancel'; runId: string };

// ---- host ↔ webview ----

export interface RunSummary {
  runId: string;
  experiment: string;
  method: string;
  K: number | null;
  status: 'running' | 'completed' | 'cancelled' | 'failed';
  startedAt: string;
  backend?: string;
  finalMetrics: Record<string, number>;
  reason?: string;
  label?: string;
}

/** One curve of a run, for the Compare overlay: [step, value] pairs, already downsampled. */
export interface OverlaySeries {
  runId: string;
  label: string;
  metric: string;
  points: [number, number][];
  /** Wall-clock time of each point since the run started (ms), aligned with `points` (x by wall time). */
  wallMs?: number[];
}

/** The Compare overlay's controls, kept by the webview (setState) across hide/reload/restart. */
export interface OverlaySettings {
  metric?: string;
  /** Debiased EMA weight, 0 (off) … 0.99. */
  smoothing?: number;
  yScale?: 'log' | 'linear';
  xAxis?: 'step' | 'wall';
  ignoreOutliers?: boolean;
  /** Runs toggled off in the legend. */
  hidden?: string[];
}

export type HostToWebview =
  | { type: 'runs'; runs: RunSummary[] }
  /** Events of the shown run, live or replayed; `replay` marks a batch read from disk. */
  | { type: 'events'; events: Envelope[]; replay?: boolean }
  /** Clear the charts: the events that follow belong to `runId`. */
  | { type: 'reset'; runId: string }
  | { type: 'select'; runId: string }
  /** Curves of several runs drawn over each other (Compare Runs). */
  | { type: 'overlay'; series: OverlaySeries[] }
  /** Whether runs may start here (false in an untrusted workspace), with the reason. */
  | { type: 'trust'; trusted: boolean; reason?: string }
  | { type: 'compare'; result: unknown };

/** What the webview keeps across hide/reload/restart (vscode.setState and the panel serializer). */
export interface WebviewState {
  runId?: string;
  overlayRunIds?: string[];
  overlay?: OverlaySettings;
}

export type WebviewToHost =
  | { type: 'ready'; state?: WebviewState }
  | { type: 'stop'; runId: string }
  | { type: 'select'; runId: string }
  | { type: 'export'; format: 'csv' | 'json' | 'png'; chart: string; data: string }
  | { type: 'openRun'; runId: string };

// ---- validation ----

type Check = (v: unknown) => boolean;
const num: Check = (v) => typeof v === 'number';
const numOrNull: Check = (v) => v === null || typeof v === 'number';
const str: Check = (v) => typeof v === 'string';
const bool: Check = (v) => typeof v === 'boolean';
const obj: Check = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr =
  (c: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every(c);
const oneOf =
  (...xs: string[]): Check =>
  (v) =>
    typeof v === 'string' && xs.includes(v);
const optional =
  (c: Check): Check =>
  (v) =>
    v === undefined || c(v);

const WORKER_EVENT_FIELDS: Record<WorkerEvent['type'], Record<string, Check>> = {
  'run/started': { experiment: str, title: str, runner: str, method: str, K: numOrNull, T: num, steps: num, stepLabel: str, backend: obj, config: obj, startedAt: str, notes: arr(str), pid: optional(num) },
  'trace/forward': { step: num, abs: arr(numOrNull), rel: arr(numOrNull), converged: bool, diverged: bool },
  'trace/backward': { step: num, method: str, residual: arr(numOrNull), termNorm: arr(numOrNull) },
  metrics: { step: num, elapsedMs: num, values: obj, kind: oneOf('train', 'eval') },
  diagnostics: { step: num, rho: numOrNull, verdict: obj },
  memory: { step: num, peakBytes: num, liveBytes: num, rssBytes: num, numTensors: num },
  log: { level: oneOf('info', 'warn', 'error'), text: str },
  'run/finished': { status: oneOf('completed', 'cancelled'), elapsedMs: num, summary: obj },
  'gradcheck/row': { row: obj },
  'gradcheck/result': { report: obj },
  'run/failed': { kind: oneOf('error', 'diverged', 'crashed', 'killed', 'out-of-memory', 'no-start', 'bad-config', 'bad-data'), reason: str, elapsedMs: num },
};

export class ProtocolError extends Error {}

function checkFields(v: Record<string, unknown>, fields: Record<string, Check>, what: string): void {
  for (const [k, c] of Object.entries(fields)) if (!c(v[k])) throw new ProtocolError(`${what}: field '${k}' is missing or has the wrong type`);
}

/** Validate an event envelope coming from a worker or read from events.jsonl. */
export function parseWorkerEvent(v: unknown): Envelope {
  if (!obj(v)) throw new ProtocolError('event is not an object');
  const e = v as Record<string, unknown>;
  // Own keys only: an event typed 'toString' or 'constructor' must not find Object.prototype's members.
  const fields = typeof e.type === 'string' && Object.hasOwn(WORKER_EVENT_FIELDS, e.type) ? WORKER_EVENT_FIELDS[e.type as WorkerEvent['type']] : undefined;
  if (!fields) throw new ProtocolError(`unknown event type ${JSON.stringify(e.type)}`);
  checkFields(e, { runId: str, seq: num, t: num }, String(e.type));
  checkFields(e, fields, String(e.type));
  if (e.type === 'gradcheck/row') reviveRow(e.row as Record<string, unknown>);
  if (e.type === 'gradcheck/result') {
    const report = e.report as Record<string, unknown>;
    if (!Array.isArray(report.rows) || !report.rows.every(obj)) throw new ProtocolError('gradcheck/result: field \'report.rows\' is missing or has the wrong type');
    for (const r of report.rows as Record<string, unknown>[]) reviveRow(r);
    if (report.rho === null) report.rho = NaN;
  }
  return v as Envelope;
}

/** JSON turns NaN/±Inf into null: gradient-check numbers come back as NaN, so consumers always get numbers. */
const ROW_NUMBERS = ['relErrExact', 'cosExact', 'relErrBptt', 'cosBptt', 'timeMs', 'peakBytes', 'loss'] as const;
function reviveRow(r: Record<string, unknown>): void {
  for (const k of ROW_NUMBERS) {
    if (r[k] === null) r[k] = NaN;
    else if (typeof r[k] !== 'number') throw new ProtocolError(`gradcheck row: field '${k}' is missing or has the wrong type`);
  }
}

/** Validate what a worker sends over IPC: its ready message or an event envelope. */
export function parseWorkerMessage(v: unknown): Envelope | WorkerReady {
  if (obj(v) && (v as Record<string, unknown>).type === 'worker/ready') {
    checkFields(v as Record<string, unknown>, { pid: num }, 'worker/ready');
    return v as unknown as WorkerReady;
  }
  return parseWorkerEvent(v);
}

export function parseHostCommand(v: unknown): HostCommand {
  if (!obj(v)) throw new ProtocolError('command is not an object');
  const c = v as Record<string, unknown>;
  if (c.type === 'run/start') {
    checkFields(c, { runId: str, spec: obj }, 'run/start');
    const s = c.spec as Record<string, unknown>;
    checkFields(s, { experiment: str, method: optional(str), K: optional(num), steps: optional(num), seed: optional(num), backend: optional(str), outDir: optional(str), dataDir: optional(str), nativeSearchPaths: optional(arr(str)), overrides: optional(arr(str)), config: optional(obj), gradcheck: optional(obj) }, 'run/start.spec');
    if (s.gradcheck !== undefined) checkFields(s.gradcheck as Record<string, unknown>, { Ks: arr(num), methods: optional(arr(str)) }, 'run/start.spec.gradcheck');
    return c as HostCommand;
  }
  if (c.type === 'run/cancel') {
    checkFields(c, { runId: str }, 'run/cancel');
    return c as HostCommand;
  }
  throw new ProtocolError(`unknown command type ${JSON.stringify(c.type)}`);
}

export function parseWebviewMessage(v: unknown): WebviewToHost {
  if (!obj(v)) throw new ProtocolError('webview message is not an object');
  const m = v as Record<string, unknown>;
  switch (m.type) {
    case 'ready':
      if (m.state !== undefined) {
        if (!obj(m.state)) throw new ProtocolError('ready: field \'state\' is not an object');
        checkFields(m.state as Record<string, unknown>, { runId: optional(str), overlayRunIds: optional(arr(str)), overlay: optional(obj) }, 'ready.state');
        const o = (m.state as Record<string, unknown>).overlay as Record<string, unknown> | undefined;
        if (o) checkFields(o, { metric: optional(str), smoothing: optional(num), yScale: optional(oneOf('log', 'linear')), xAxis: optional(oneOf('step', 'wall')), ignoreOutliers: optional(bool), hidden: optional(arr(str)) }, 'ready.state.overlay');
      }
      return m as WebviewToHost;
    case 'stop':
    case 'select':
    case 'openRun':
      checkFields(m, { runId: str }, String(m.type));
      return m as WebviewToHost;
    case 'export':
      checkFields(m, { format: oneOf('csv', 'json', 'png'), chart: str, data: str }, 'export');
      return m as WebviewToHost;
    default:
      throw new ProtocolError(`unknown webview message type ${JSON.stringify(m.type)}`);
  }
}

const RUN_STATUS = oneOf('running', 'completed', 'cancelled', 'failed');

/** Validate a host → webview message (the webview checks what it is sent, too). */
export function parseHostToWebview(v: unknown): HostToWebview {
  if (!obj(v)) throw new ProtocolError('host message is not an object');
  const m = v as Record<string, unknown>;
  switch (m.type) {
    case 'runs':
      checkFields(m, { runs: arr(obj) }, 'runs');
      for (const r of m.runs as Record<string, unknown>[]) checkFields(r, { runId: str, experiment: str, method: str, K: numOrNull, status: RUN_STATUS, startedAt: str, finalMetrics: obj }, 'runs[]');
      return m as HostToWebview;
    case 'events':
      checkFields(m, { events: arr(obj), replay: optional(bool) }, 'events');
      for (const e of m.events as unknown[]) parseWorkerEvent(e);
      return m as HostToWebview;
    case 'reset':
    case 'select':
      checkFields(m, { runId: str }, String(m.type));
      return m as HostToWebview;
    case 'overlay':
      checkFields(m, { series: arr(obj) }, 'overlay');
      for (const s of m.series as Record<string, unknown>[]) checkFields(s, { runId: str, label: str, metric: str, points: arr(arr(num)), wallMs: optional(arr(num)) }, 'overlay.series[]');
      return m as HostToWebview;
    case 'trust':
      checkFields(m, { trusted: bool, reason: optional(str) }, 'trust');
      return m as HostToWebview;
    case 'compare':
      return m as HostToWebview;
    default:
      throw new ProtocolError(`unknown host message type ${JSON.stringify(m.type)}`);
  }
}
