/** Host ↔ webview: what the dashboard is sent (every message checked by the webview too) and what it may ask. */
import { anyOf, arr, bool, float, message, messages, nullable, num, obj, oneOf, optional, pair, record, str, type Infer, type Schema } from './schema';
import { parseWorkerEvent, type Envelope } from './workerEvents';

const runSummary = obj({
  runId: str,
  experiment: str,
  method: str,
  K: nullable(num),
  status: oneOf('running', 'completed', 'cancelled', 'failed'),
  startedAt: str,
  backend: optional(str),
  finalMetrics: record(float),
  reason: optional(str),
  label: optional(str),
});
export type RunSummary = Infer<typeof runSummary>;

/** One curve of a run, for the Compare overlay: [step, value] pairs, already downsampled. */
const overlaySeries = obj({
  runId: str,
  label: str,
  metric: str,
  points: arr(pair(num, num)),
  /** Wall-clock time of each point since the run started (ms), aligned with `points` (x by wall time). */
  wallMs: optional(arr(num)),
});
export type OverlaySeries = Infer<typeof overlaySeries>;

/** One panel of the Compare overlay's small multiples: a registry series of every picked run, its y scale (absent: the registry's). */
const panelSpec = obj({
  metric: str,
  yScale: optional(oneOf('log', 'linear')),
});
export type PanelSpec = Infer<typeof panelSpec>;

/**
 * The Compare overlay's controls, kept by the webview (setState) across hide/reload/restart and by
 * the host (workspace state) across closing and opening the panel.
 */
const overlaySettings = obj({
  /** issue 19: the panels (small multiples), in order; absent in a state from before them (then `metric` and `yScale` are the one panel's). */
  panels: optional(arr(panelSpec)),
  metric: optional(str),
  /** Debiased EMA weight, 0 (off) … 0.99. */
  smoothing: optional(num),
  yScale: optional(oneOf('log', 'linear')),
  xAxis: optional(oneOf('step', 'wall')),
  ignoreOutliers: optional(bool),
  /** Runs toggled off in the legend. */
  hidden: optional(arr(str)),
});
export type OverlaySettings = Infer<typeof overlaySettings>;

// issue 19 (dash-table): one row of the runs table (src/shared/runsTable.ts RunRow), from run.json's summary.
const runRow = obj({
  runId: str,
  name: str,
  experiment: str,
  status: oneOf('running', 'completed', 'failed', 'stopped'),
  unreadable: optional(str),
  reason: optional(str),
  method: str,
  K: nullable(num),
  T: nullable(num),
  lr: nullable(num),
  seed: nullable(num),
  stepsDone: nullable(num),
  stepsPlanned: nullable(num),
  durationMs: nullable(num),
  startedAt: str,
  finalLoss: nullable(obj({ step: num, value: float })),
  finalEval: nullable(obj({ step: num, name: str, value: float })),
  lastRho: nullable(obj({ step: num, value: nullable(num), verdict: nullable(str) })),
  lastProbe: nullable(obj({ step: num, relErrExact: nullable(num), method: str })),
  checkpoints: arr(num),
  config: record(nullable(anyOf(str, num, bool))),
});
export type RunRowMsg = Infer<typeof runRow>;

/** issue 19 (dash-table): the runs table's sort, filter and config-diff view, kept like the overlay's settings. */
const tableSettings = obj({
  sort: optional(obj({ column: str, dir: oneOf('asc', 'desc') })),
  filter: optional(str),
  /** Config diff of two picked runs: only the keys that differ (else every key, the differing ones marked). */
  diffOnly: optional(bool),
});
export type TableSettings = Infer<typeof tableSettings>;

/** What the webview keeps across hide/reload/restart (vscode.setState and the panel serializer). */
const webviewState = obj({
  runId: optional(str),
  overlayRunIds: optional(arr(str)),
  overlay: optional(overlaySettings),
  // issue 19 (dash-table)
  table: optional(tableSettings),
});
export type WebviewState = Infer<typeof webviewState>;

/** A worker event as the host forwards it (checked like one read from events.jsonl). */
const envelope: Schema<Envelope> = { parse: (v) => parseWorkerEvent(v) };

// ---- host → webview ----

export const parseHostToWebview = messages('host message', [
  message('runs', { runs: arr(runSummary) }),
  /** Events of the shown run, live or replayed; `replay` marks a batch read from disk. */
  message('events', { events: arr(envelope), replay: optional(bool) }),
  /** Clear the charts: the events that follow belong to `runId`. */
  message('reset', { runId: str }),
  message('select', { runId: str }),
  /** Curves of several runs drawn over each other (Compare Runs); `settings`: the panels and controls the host kept (workspace state). */
  message('overlay', { series: arr(overlaySeries), settings: optional(overlaySettings) }),
  /** Whether runs may start here (false in an untrusted workspace), with the reason. */
  message('trust', { trusted: bool, reason: optional(str) }),
  // issue 19 (dash-table): every recorded run as a row of the runs table (their summaries, never their logs).
  message('runsTable', { rows: arr(runRow) }),
  /** Some runs changed (src/shared/runsUpdate.ts): their rows and summaries as now, and the runs gone; the rest stay as they are. */
  message('runsUpdate', { rows: arr(runRow), runs: arr(runSummary), removed: arr(str) }),
]);
export type HostToWebview = ReturnType<typeof parseHostToWebview>;

// ---- webview → host ----

export const parseWebviewMessage = messages('webview message', [
  message('ready', { state: optional(webviewState) }),
  message('stop', { runId: str }),
  message('select', { runId: str }),
  message('export', { format: oneOf('csv', 'json', 'png'), chart: str, data: str }),
  message('openRun', { runId: str }),
  /** Compare TBPTT vs Neumann-RBP at the weights of this run's checkpoint at `step` (rbpLab.compareAtCheckpoint). */
  message('compareAt', { runId: str, step: num }),
  // issue 19 (dash-table): the runs picked in the runs table, to overlay (kept by the host for the next panel).
  message('pickRuns', { runIds: arr(str) }),
  /** issue 19: the overlay's panels and controls changed (kept by the host for the next panel, as the picks are). */
  message('overlaySettings', { settings: overlaySettings }),
  // issue 19 (dash-decide)
  /** Apply one piece of the verdict's advice (src/shared/advice.ts) to the config file of this run (rbpLab.applyConfigFix). */
  message('applyFix', { runId: str, key: str, value: anyOf(str, num) }),
]);
export type WebviewToHost = ReturnType<typeof parseWebviewMessage>;
