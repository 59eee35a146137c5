/**
 * The dashboard webview: live charts of one run (forward residuals, backward residuals, loss and
 * metrics, memory), a header with the run's facts and verdict, and the Compare overlay. Every
 * message from the host is validated; chart updates are throttled to at most 10 per second.
 */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import { parseHostToWebview, type HostToWebview, type RunSummary, type WebviewState, type WebviewToHost } from '../src/protocol/messages';
import { RunModel } from './model';
import { readTheme } from './charts/common';
import { ForwardChart } from './charts/forward';
import { BackwardChart } from './charts/backward';
import { MetricsChart } from './charts/metrics';
import { MemoryChart } from './charts/memory';
import { OverlayChart } from './charts/overlay';
import { CompareView } from './charts/compare';
import { ProbeChart } from './charts/probe';
import { RhoChart } from './charts/rho';
import { exportMessage } from './export';
import { renderHeader } from './header';
import { RunsTableView } from './runsTable';
import { renderConfigDiff } from './configDiff';
import { applyRunsUpdate } from '../src/shared/runsUpdate';
import type { RunRow } from '../src/shared/runsTable';

interface VsCodeApi {
  postMessage(msg: WebviewToHost): void;
  getState(): WebviewState | undefined;
  setState(s: WebviewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const model = new RunModel();
let theme = readTheme();
let state: WebviewState = vscode.getState() ?? {};
const charts = {
  forward: new ForwardChart($<HTMLCanvasElement>('chart-forward'), $('cap-forward'), theme),
  backward: new BackwardChart($<HTMLCanvasElement>('chart-backward'), $('cap-backward'), theme),
  metrics: new MetricsChart($<HTMLCanvasElement>('chart-metrics'), $('cap-metrics'), theme, 'loss'),
  eval: new MetricsChart($<HTMLCanvasElement>('chart-eval'), $('cap-eval'), theme, 'eval'),
  memory: new MemoryChart($<HTMLCanvasElement>('chart-memory'), $('cap-memory'), theme),
  probe: new ProbeChart($<HTMLCanvasElement>('chart-probe'), $('cap-probe'), theme),
  rho: new RhoChart($<HTMLCanvasElement>('chart-rho'), $('cap-rho'), theme),
  // issue 19: the overlay's panels (small multiples) and controls, kept in the webview state (reload) and by the host (closed and opened again).
  overlay: new OverlayChart($('overlay-panels'), $<HTMLSelectElement>('overlay-add'), theme, state.overlay, (s) => {
    state = { ...state, overlay: s };
    vscode.setState(state);
    post({ type: 'overlaySettings', settings: s });
    syncOverlayControls();
  }),
  compare: new CompareView(theme),
};
// issue 19 (dash-table): the runs table; its picked runs are the overlay's runs, kept with the sort and filter.
const runsTable = new RunsTableView($('runs-scroll'), $<HTMLTableElement>('runs-table'), $<HTMLInputElement>('runs-filter'), $('cap-runs'), {
  onPick(runIds) {
    state = { ...state, overlayRunIds: runIds };
    vscode.setState(state);
    post({ type: 'pickRuns', runIds });
    drawDiff();
  },
  onSettings(s) {
    state = { ...state, table: { ...state.table, sort: s.sort, filter: s.filter } };
    vscode.setState(state);
  },
  onCompareAt(runId, step) {
    post({ type: 'compareAt', runId, step });
  },
});
runsTable.restore(state.table ?? {}, state.overlayRunIds ?? []);
const diffOnly = $<HTMLInputElement>('diff-only');
diffOnly.checked = state.table?.diffOnly ?? false;
function drawDiff(): void {
  renderConfigDiff($('diff-card'), $<HTMLTableElement>('diff-table'), $('diff-summary'), runsTable.pickedRows(), diffOnly.checked);
}
diffOnly.addEventListener('change', () => {
  state = { ...state, table: { ...state.table, diffOnly: diffOnly.checked } };
  vscode.setState(state);
  drawDiff();
});
let trust: { trusted: boolean; reason?: string } = { trusted: true };
let runs: RunSummary[] = [];
/** The runs table's rows as last listed, with the updates since (runsUpdate). */
let tableRows: RunRow[] = [];

// ---- throttled rendering (≤ 10 updates/s) ----

const MIN_FRAME_MS = 100;
let drawn = { forward: -1, backward: -1, metrics: -1, memory: -1, header: -1, log: -1, compare: -1, probe: -1, rho: -1 };
let lastRender = 0;
let scheduled = false;
let renders = 0;

function scheduleRender(): void {
  if (scheduled) return;
  scheduled = true;
  const wait = Math.max(0, MIN_FRAME_MS - (performance.now() - lastRender));
  setTimeout(() => requestAnimationFrame(render), wait);
}

function render(): void {
  scheduled = false;
  const t0 = performance.now();
  lastRender = t0;
  renders++;
  const v = model.version;
  document.body.dataset.view = model.isGradcheck ? 'compare' : 'run';
  if (v.compare !== drawn.compare) charts.compare.update(model);
  if (v.forward !== drawn.forward) charts.forward.update(model);
  if (v.backward !== drawn.backward) charts.backward.update(model);
  if (v.metrics !== drawn.metrics) {
    charts.metrics.update(model);
    charts.eval.update(model);
  }
  if (v.memory !== drawn.memory) charts.memory.update(model);
  if (v.probe !== drawn.probe) charts.probe.update(model);
  if (v.rho !== drawn.rho) charts.rho.update(model);
  renderHeader(model, { trusted: trust.trusted, trustReason: trust.reason });
  if (v.log !== drawn.log) {
    const log = $('log');
    log.textContent = model.logs.join('\n');
    log.scrollTop = log.scrollHeight;
  }
  drawn = { ...v };
  // For tests and for the curious: how many renders, and how long the last one took.
  document.body.dataset.renders = String(renders);
  document.body.dataset.renderMs = (performance.now() - t0).toFixed(1);
}

// Elapsed time ticks while a run goes.
setInterval(() => {
  if (model.status === 'running') renderHeader(model, { trusted: trust.trusted, trustReason: trust.reason });
}, 1000);

// ---- runs selector ----

const select = $<HTMLElement & { value: string }>('run-select');
function renderRuns(): void {
  const current = model.runId;
  const list = [...runs];
  if (current && !list.some((r) => r.runId === current)) list.unshift({ runId: current, experiment: model.started?.experiment ?? '?', method: model.started?.method ?? '?', K: null, status: model.status === 'idle' ? 'running' : model.status, startedAt: '', finalMetrics: {} });
  select.replaceChildren(
    ...list.slice(0, 200).map((r) => {
      const o = document.createElement('vscode-option') as HTMLElement & { value: string; selected: boolean; description: string };
      o.value = r.runId;
      o.textContent = `${r.experiment} · ${r.method}${r.K !== null ? ` K=${r.K}` : ''} · ${r.status} · ${r.runId.slice(0, 15)}`;
      o.description = r.reason ?? '';
      o.selected = r.runId === current;
      return o;
    }),
  );
  if (current) select.value = current;
}
select.addEventListener('change', () => {
  if (select.value && select.value !== model.runId) post({ type: 'select', runId: select.value });
});

$('stop').addEventListener('click', () => {
  if (model.runId && model.status === 'running') post({ type: 'stop', runId: model.runId });
});

// Compare TBPTT vs Neumann-RBP at the chosen checkpoint of the shown run (the host runs rbpLab.compareAtCheckpoint).
$('compare-at').addEventListener('click', () => {
  const step = Number($<HTMLSelectElement>('ckpt-select').value);
  if (model.runId && model.checkpoints.some((c) => c.step === step)) post({ type: 'compareAt', runId: model.runId, step });
});

// The verdict's advice: each button sets one config field (the host checks it against the run's verdict).
$('advice').addEventListener('click', (ev) => {
  const b = (ev.target as HTMLElement | null)?.closest<HTMLElement>('[data-fix-key]');
  if (!b || !model.runId) return;
  post({ type: 'applyFix', runId: model.runId, key: b.dataset.fixKey!, value: JSON.parse(b.dataset.fixValue!) as string | number });
});

// Overlay controls shared by every panel: smoothing, x axis, outliers (each panel has its series and y scale).
const smoothing = $<HTMLInputElement>('overlay-smoothing');
const xAxis = $<HTMLSelectElement>('overlay-xaxis');
const outliers = $<HTMLInputElement>('overlay-outliers');
function syncOverlayControls(): void {
  const s = charts.overlay.settings;
  smoothing.value = String(s.smoothing);
  $('overlay-smoothing-value').textContent = s.smoothing.toFixed(2);
  xAxis.value = s.xAxis;
  outliers.checked = s.ignoreOutliers;
}
smoothing.addEventListener('input', () => charts.overlay.update({ smoothing: Number(smoothing.value) }));
xAxis.addEventListener('change', () => charts.overlay.update({ xAxis: xAxis.value === 'wall' ? 'wall' : 'step' }));
outliers.addEventListener('change', () => charts.overlay.update({ ignoreOutliers: outliers.checked }));
syncOverlayControls();

// Export buttons on every chart: CSV / JSON of the drawn data, PNG of the canvas.
document.addEventListener('click', (ev) => {
  const b = (ev.target as HTMLElement | null)?.closest<HTMLElement>('[data-export]');
  if (!b) return;
  const chart = b.dataset.chart!;
  const canvas = document.getElementById(`chart-${chart}`) as HTMLCanvasElement | null;
  if (!canvas) return;
  const format = b.dataset.export as 'csv' | 'json' | 'png';
  // A panel of the overlay ('overlay', 'overlay-1', …) is named by its series and carries the runs it draws.
  const panel = /^overlay(?:-(\d+))?$/.exec(chart);
  const name = panel ? `overlay-${charts.overlay.settings.panels[Number(panel[1] ?? 0)]?.metric ?? ''}` : `${model.runId ? `${model.runId}-` : ''}${chart}`;
  post(exportMessage(name, canvas, format, { runId: panel ? undefined : model.runId, runs: panel ? charts.overlay.runIds : undefined }));
});

function post(msg: WebviewToHost): void {
  vscode.postMessage(msg);
}

function saveState(): void {
  state = { ...state, runId: model.runId };
  vscode.setState(state);
}

// ---- host messages ----

function handle(msg: HostToWebview): void {
  switch (msg.type) {
    case 'reset':
    case 'select':
      model.reset(msg.runId);
      saveState();
      renderRuns();
      break;
    case 'events':
      for (const e of msg.events) model.apply(e);
      if (msg.events.some((e) => e.type === 'run/started' || e.type === 'run/finished' || e.type === 'run/failed')) renderRuns();
      break;
    case 'runs':
      runs = msg.runs;
      renderRuns();
      break;
    case 'overlay': {
      $('overlay-card').hidden = msg.series.length === 0;
      // A panel opened afresh has no webview state: the host sends the panels it kept.
      if (msg.settings && !state.overlay) {
        charts.overlay.restore(msg.settings);
        state = { ...state, overlay: charts.overlay.settings };
        syncOverlayControls();
      }
      charts.overlay.setSeries(msg.series);
      state = { ...state, overlayRunIds: [...new Set(msg.series.map((s) => s.runId))] };
      vscode.setState(state);
      runsTable.setPicked(state.overlayRunIds ?? []);
      drawDiff();
      break;
    }
    case 'runsTable':
      tableRows = msg.rows;
      runsTable.setRows(tableRows);
      drawDiff();
      break;
    case 'runsUpdate':
      runs = applyRunsUpdate(runs, msg.runs, msg.removed);
      tableRows = applyRunsUpdate(tableRows, msg.rows, msg.removed);
      runsTable.setRows(tableRows);
      renderRuns();
      drawDiff();
      break;
    case 'trust':
      trust = { trusted: msg.trusted, reason: msg.reason };
      model.version.header++;
      break;
  }
  scheduleRender();
}

window.addEventListener('message', (ev: MessageEvent<unknown>) => {
  let msg: HostToWebview;
  try {
    msg = parseHostToWebview(ev.data);
  } catch (err) {
    console.warn('rbp-lab: ignored an invalid message from the host:', (err as Error).message);
    return;
  }
  handle(msg);
});

// Re-read the colours when the theme changes (VS Code swaps the body's classes).
new MutationObserver(() => {
  theme = readTheme();
  for (const c of Object.values(charts)) c.setTheme(theme);
  drawn = { forward: -1, backward: -1, metrics: -1, memory: -1, header: -1, log: -1, compare: -1, probe: -1, rho: -1 };
  scheduleRender();
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

render();
post({ type: 'ready', state });
