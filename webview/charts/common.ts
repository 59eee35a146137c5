/** Chart.js set-up shared by every chart: registered parts, theme colours, decimation, formats, and RunChart, the frame of a run's charts. */
import { Chart, LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Legend, Tooltip, Decimation, Filler, type ChartOptions, type Plugin } from 'chart.js';
import type { RunModel } from '../model';
import { spaceLogTicks } from './ticks';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Legend, Tooltip, Decimation, Filler);
// As Chart.js's own UMD build does: `Chart.getChart(canvas)` in the webview's developer tools (and in
// the webview test) shows what a chart holds and where it drew it.
(globalThis as { Chart?: typeof Chart }).Chart = Chart;

/** Smallest value a log axis shows: exact zeros (converged to machine precision) are drawn here. */
export const LOG_FLOOR = 1e-12;

export interface Theme {
  foreground: string;
  grid: string;
  font: string;
  palette: string[];
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

/** Colours from the --vscode-* variables, so light, dark and high-contrast themes all read well. */
export function readTheme(): Theme {
  const fg = cssVar('--vscode-charts-foreground', cssVar('--vscode-foreground', '#cccccc'));
  return {
    foreground: fg,
    grid: cssVar('--vscode-charts-lines', 'rgba(128,128,128,0.35)'),
    font: cssVar('--vscode-font-family', 'system-ui, sans-serif'),
    palette: [
      cssVar('--vscode-charts-blue', '#3794ff'),
      cssVar('--vscode-charts-orange', '#d18616'),
      cssVar('--vscode-charts-green', '#89d185'),
      cssVar('--vscode-charts-purple', '#b180d7'),
      cssVar('--vscode-charts-red', '#f14c4c'),
      cssVar('--vscode-charts-yellow', '#cca700'),
    ],
  };
}

/** `color` at opacity `alpha` (works for #rgb, #rrggbb and rgb()/rgba() colours). */
export function withAlpha(color: string, alpha: number): string {
  const c = color.trim();
  if (/^#([0-9a-f]{3})$/i.test(c)) {
    const [r, g, b] = c.slice(1).split('').map((h) => parseInt(h + h, 16));
    return `rgba(${r},${g},${b},${alpha})`;
  }
  if (/^#([0-9a-f]{6})([0-9a-f]{2})?$/i.test(c)) {
    const n = parseInt(c.slice(1, 7), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
  }
  const m = /^rgba?\(([^)]+)\)$/.exec(c);
  if (m) {
    const [r, g, b] = m[1].split(',').map((s) => s.trim());
    return `rgba(${r},${g},${b},${alpha})`;
  }
  return c;
}

export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

export function fmtBytes(b: number): string {
  if (b >= 1 << 30) return `${(b / (1 << 30)).toFixed(2)} GiB`;
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(1)} MiB`;
  if (b >= 1 << 10) return `${(b / (1 << 10)).toFixed(1)} KiB`;
  return `${b} B`;
}

/** Residuals for a log axis: non-finite → gap, ≤ 0 → the floor. */
export function logValue(v: number | null): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  return v <= LOG_FLOOR ? LOG_FLOOR : v;
}

/** Options every chart shares: no animation (live data), decimation, themed axes. */
export function baseOptions(theme: Theme, opts: { logY?: boolean; xTitle: string; yTitle: string; decimate?: boolean }): ChartOptions<'line'> {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    parsing: false,
    normalized: true,
    spanGaps: true,
    interaction: { mode: 'nearest', intersect: false, axis: 'x' },
    elements: { point: { radius: 0, hitRadius: 6 }, line: { borderWidth: 1.5, tension: 0 } },
    plugins: {
      decimation: { enabled: opts.decimate ?? true, algorithm: 'lttb', samples: 600, threshold: 1000 },
      // A dataset without a name (a faded earlier trace, a raw curve behind its smoothing) has no legend entry.
      legend: { labels: { color: theme.foreground, boxWidth: 12, font: { family: theme.font, size: 11 }, filter: (item) => Boolean(item.text) } },
      tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmtNum(ctx.parsed.y)}` } },
    },
    scales: {
      x: { type: 'linear', title: { display: true, text: opts.xTitle, color: theme.foreground }, ticks: { color: theme.foreground, precision: 0 }, grid: { color: theme.grid } },
      y: {
        type: opts.logY ? 'logarithmic' : 'linear',
        title: { display: true, text: opts.yTitle, color: theme.foreground },
        ticks: { color: theme.foreground, callback: (v) => fmtNum(Number(v)), maxTicksLimit: 7 },
        grid: { color: theme.grid },
        // A log axis' bound next to a nice tick would print over it (the type can change later: checked per build).
        afterBuildTicks: (scale) => {
          if (scale.type === 'logarithmic') scale.ticks = spaceLogTicks(scale.ticks, scale.height);
        },
      },
    },
  };
}

/**
 * The text a chart reads as to a screen reader: per named dataset its last value (and where), its
 * minimum and maximum; 'no data yet' when it draws nothing.
 */
export function chartSummary(datasets: readonly { label?: string; data: readonly { x: number; y: number | null }[] }[], xWord: string): string {
  const parts: string[] = [];
  for (const ds of datasets) {
    if (!ds.label) continue; // the faded earlier traces have no name
    let last: { x: number; y: number } | undefined;
    let min = Infinity;
    let max = -Infinity;
    for (const p of ds.data) {
      if (p.y === null || !Number.isFinite(p.y)) continue;
      last = p as { x: number; y: number };
      min = Math.min(min, p.y);
      max = Math.max(max, p.y);
    }
    if (!last) continue;
    parts.push(`${ds.label}: last ${fmtNum(last.y)} at ${xWord} ${fmtNum(last.x)}, min ${fmtNum(min)}, max ${fmtNum(max)}`);
  }
  return parts.length ? `${parts.join('; ')}.` : 'No data yet.';
}

/**
 * Accessibility, once for every chart: the canvas is an image (`role="img"`) named by what it plots
 * (`aria-label`), described by a visually hidden text — chartSummary of what it holds — rewritten
 * after every update, so a screen reader (or a test) reads the numbers the chart draws.
 */
function accessible(canvas: HTMLCanvasElement, what: string): Plugin<'line'> {
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', what);
  const id = `${canvas.id || 'chart'}-summary`;
  let summary = document.getElementById(id);
  if (!summary) {
    summary = document.createElement('p');
    summary.id = id;
    summary.className = 'sr-only chart-summary';
    (canvas.parentElement ?? canvas).insertAdjacentElement('afterend', summary);
  }
  canvas.setAttribute('aria-describedby', id);
  const el = summary;
  return {
    id: 'a11ySummary',
    afterUpdate(chart) {
      const xTitle = (chart.options.scales?.x as { title?: { text?: string } } | undefined)?.title?.text;
      const text = chartSummary(chart.data.datasets as { label?: string; data: { x: number; y: number | null }[] }[], typeof xTitle === 'string' ? xTitle : 'x');
      if (el.textContent !== text) el.textContent = text;
    },
  };
}

/** A Chart with its canvas; every chart module builds one and redraws from the model. `what` names what it plots (else the canvas' aria-label). */
export function makeChart(canvas: HTMLCanvasElement, options: ChartOptions<'line'>, plugins: Plugin<'line'>[] = [], what?: string): Chart<'line', { x: number; y: number | null }[]> {
  const name = what ?? canvas.getAttribute('aria-label') ?? 'chart';
  return new Chart(canvas, { type: 'line', data: { datasets: [] }, options, plugins: [...plugins, accessible(canvas, name)] });
}

export type LineChart = ReturnType<typeof makeChart>;

type Datasets = LineChart['data']['datasets'];

/**
 * The frame of each chart of one run (forward, backward, loss, evaluation, memory, probes, ρ(J)):
 * its Chart, the caption under it and the theme. `build` makes the options from the theme and the
 * run's step word (`step`, `epoch`, `meta-iteration`: the x axis title of the charts by step);
 * they are built again when either changes. `plugins` get the current theme from their argument
 * (a Chart draws as it is made, before a subclass' constructor may read `this`). A subclass draws
 * the model in `update`.
 */
export abstract class RunChart {
  protected readonly chart: LineChart;
  private stepLabel = 'step';

  constructor(
    canvas: HTMLCanvasElement,
    protected readonly caption: HTMLElement,
    protected theme: Theme,
    private readonly build: (theme: Theme, stepLabel: string) => ChartOptions<'line'>,
    plugins: (theme: () => Theme) => Plugin<'line'>[] = () => [],
  ) {
    this.chart = makeChart(canvas, build(theme, this.stepLabel), plugins(() => this.theme));
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.chart.options = this.build(theme, this.stepLabel);
  }

  abstract update(m: RunModel): void;

  /** The run's step word (`step` until its run/started says); the options follow a change of it. */
  protected stepWord(m: RunModel): string {
    const label = m.started?.stepLabel ?? 'step';
    if (label !== this.stepLabel) {
      this.stepLabel = label;
      this.chart.options = this.build(this.theme, label);
    }
    return label;
  }

  /** Draw these datasets at once (no animation: live data). */
  protected draw(datasets: Datasets): void {
    this.chart.data.datasets = datasets;
    this.chart.update('none');
  }
}
