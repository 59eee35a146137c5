/**
 * Compare Runs as small multiples (issue 19, as W&B panels): one panel per registry series, every
 * picked run a curve in each, a stable colour per run (colourFor) across panels. Per panel: its
 * series and linear/log y (default: the registry's scale). Shared by all panels: TensorBoard's
 * debiased EMA smoothing with the raw curve faint behind, x by step or by wall time since the run
 * started (one switch; the axis title says which), outlier-robust y range, and the runs toggled
 * off in a legend. Panels are added from the series the picked runs record (at most MAX_PANELS)
 * and removed; everything here is the caller's to persist (webview state and, through the host,
 * workspace state).
 */
import type { OverlaySeries, OverlaySettings, PanelSpec } from '../../src/protocol/messages';
import { colourFor, smoothEma, robustRange } from '../../src/shared/series';
import { baseOptions, makeChart, withAlpha, fmtNum, type Theme, type LineChart } from './common';
import { seriesInfo, type SeriesInfo } from '../../src/shared/seriesRegistry';

/** The registry's entry of an overlay metric: `loss` is the train loss, a bare name an eval metric (issue 19). */
export function overlaySeriesInfo(metric: string): SeriesInfo | undefined {
  return seriesInfo(metric) ?? seriesInfo(metric === 'loss' ? 'train:loss' : `eval:${metric}`);
}

/** At most this many panels: each is a 260 px chart; more than six stop being a glance. */
export const MAX_PANELS = 6;

export interface ResolvedOverlaySettings {
  smoothing: number;
  xAxis: 'step' | 'wall';
  ignoreOutliers: boolean;
  hidden: string[];
  panels: PanelSpec[];
}

export const DEFAULT_OVERLAY: ResolvedOverlaySettings = { smoothing: 0, xAxis: 'step', ignoreOutliers: false, hidden: [], panels: [{ metric: 'loss' }] };

/** Settings as stored (the panels, or a state from before them: one metric and one y scale) with defaults filled in. */
export function resolveOverlaySettings(s: OverlaySettings = {}): ResolvedOverlaySettings {
  const panels = s.panels?.length ? s.panels.slice(0, MAX_PANELS) : [{ metric: s.metric ?? 'loss', ...(s.yScale ? { yScale: s.yScale } : {}) }];
  return {
    smoothing: s.smoothing ?? DEFAULT_OVERLAY.smoothing,
    xAxis: s.xAxis ?? DEFAULT_OVERLAY.xAxis,
    ignoreOutliers: s.ignoreOutliers ?? DEFAULT_OVERLAY.ignoreOutliers,
    hidden: s.hidden ?? [],
    panels: panels.map((p) => ({ ...p })),
  };
}

/** Ids of panel i's elements: panel 0 keeps the ids the overlay had before it had panels. */
export const panelId = (what: 'chart' | 'cap' | 'metric' | 'yscale', i: number): string =>
  ({ chart: 'chart-overlay', cap: 'cap-overlay', metric: 'overlay-metric', yscale: 'overlay-yscale' })[what] + (i ? `-${i}` : '');

/** The name a series goes by in the lists: the registry's label and the key. */
export function seriesName(metric: string): string {
  const info = overlaySeriesInfo(metric);
  return info ? `${info.label} (${metric})` : metric;
}

/** One panel: one series of every picked run. */
class Panel {
  readonly chart: LineChart;
  private datasetRunIds: string[] = [];
  /** Whether the y axis is drawn log. */
  logY = false;
  byWall = false;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly caption: HTMLElement,
    theme: Theme,
    private readonly onToggle: (runId: string) => void,
  ) {
    this.chart = makeChart(canvas, baseOptions(theme, { xTitle: 'step', yTitle: '' }));
  }

  draw(theme: Theme, spec: PanelSpec, s: ResolvedOverlaySettings, series: readonly OverlaySeries[]): void {
    const metric = spec.metric;
    const shown = series.filter((x) => x.metric === metric);
    const byWall = s.xAxis === 'wall' && shown.every((x) => x.wallMs && x.wallMs.length === x.points.length);
    const positive = shown.every((x) => x.points.every(([, y]) => y > 0));
    const info = overlaySeriesInfo(metric);
    this.logY = positive && (spec.yScale ?? info?.scale ?? (metric === 'loss' ? 'log' : 'linear')) === 'log';
    this.byWall = byWall;
    const label = info?.label ?? metric;
    const yTitle = `${label}${info?.unit ? ` (${info.unit})` : ''}`;
    const xTitle = byWall ? 'wall time since run start (s)' : 'step';
    const o = baseOptions(theme, { logY: this.logY, xTitle, yTitle, decimate: false });
    const datasets: LineChart['data']['datasets'] = [];
    const runIds: string[] = [];
    const visibleYs: number[] = [];
    for (const x of shown) {
      const colour = colourFor(x.runId);
      const hidden = s.hidden.includes(x.runId);
      const xs = x.points.map(([step], i) => (byWall ? x.wallMs![i] / 1000 : step));
      const ys = x.points.map(([, y]) => y);
      if (!hidden) visibleYs.push(...ys);
      if (s.smoothing > 0) {
        const sm = smoothEma(ys, s.smoothing);
        datasets.push({ label: x.label, data: xs.map((xx, i) => ({ x: xx, y: sm[i] })), borderColor: colour, backgroundColor: colour, borderWidth: 2, hidden });
        runIds.push(x.runId);
        datasets.push({ label: '', data: xs.map((xx, i) => ({ x: xx, y: ys[i] })), borderColor: withAlpha(colour, 0.22), borderWidth: 1, hidden, order: 1 });
        runIds.push(x.runId);
      } else {
        datasets.push({ label: x.label, data: xs.map((xx, i) => ({ x: xx, y: ys[i] })), borderColor: colour, backgroundColor: colour, borderWidth: 1.75, hidden });
        runIds.push(x.runId);
      }
    }
    if (s.ignoreOutliers) {
      const r = robustRange(visibleYs, this.logY);
      if (r) Object.assign(o.scales!.y!, { min: r.min, max: r.max });
    }
    const legend = o.plugins!.legend!; // (its unnamed raw curves have no entry: baseOptions)
    legend.onClick = (_e, item) => {
      const id = item.datasetIndex !== undefined ? this.datasetRunIds[item.datasetIndex] : undefined;
      if (id) this.onToggle(id);
    };
    // Accessibility: the canvas is named by the series and the runs it draws (makeChart keeps the text fallback).
    this.canvas.setAttribute('aria-label', `${label}${info?.unit ? ` (${info.unit})` : ''} by ${byWall ? 'wall time' : 'step'}, ${this.logY ? 'log' : 'linear'} y, of ${shown.length ? shown.map((x) => x.label).join(', ') : 'no run'}`);
    this.canvas.dataset.series = metric;
    this.chart.options = o;
    this.chart.data.datasets = datasets;
    this.datasetRunIds = runIds;
    this.chart.update('none');
    const nRuns = new Set(shown.map((x) => x.runId)).size;
    const hiddenN = shown.filter((x) => s.hidden.includes(x.runId)).length;
    this.caption.textContent = nRuns
      ? `${nRuns} runs · ${metric} by ${byWall ? 'wall time' : 'step'} · ${this.logY ? 'log' : 'linear'} y${s.smoothing > 0 ? ` · smoothing ${s.smoothing.toFixed(2)} (debiased EMA; raw curves faint)` : ''}${s.ignoreOutliers ? ' · outliers ignored (5–95 %)' : ''}${hiddenN ? ` · ${hiddenN} hidden (click the legend)` : ' · click a legend entry to hide a run'}` +
        (s.xAxis === 'wall' && !byWall ? ' · wall time not recorded for every run: by step' : '') +
        ` · last: ${shown.map((x) => fmtNum(x.points.at(-1)?.[1])).join(', ')}`
      : `no picked run records ${metric}`;
  }

  destroy(): void {
    this.chart.destroy();
  }
}

/**
 * The overlay's panels, built into `container` (one <figure> per panel: its series list, its y
 * scale, a remove button, the chart and its caption). `addSelect` offers the series not shown yet.
 */
export class OverlayChart {
  private series: OverlaySeries[] = [];
  private panels: Panel[] = [];
  settings: ResolvedOverlaySettings;

  constructor(
    private readonly container: HTMLElement,
    private readonly addSelect: HTMLSelectElement,
    private theme: Theme,
    settings: OverlaySettings = {},
    private readonly onChange?: (s: ResolvedOverlaySettings) => void,
  ) {
    this.settings = resolveOverlaySettings(settings);
    addSelect.addEventListener('change', () => {
      if (addSelect.value) this.addPanel(addSelect.value);
      addSelect.value = '';
    });
    this.build();
  }

  /** The first panel's series (what the card's export buttons export). */
  get metric(): string {
    return this.settings.panels[0].metric;
  }

  /** Every series the picked runs record, in the order the host sent them. */
  get metrics(): string[] {
    return [...new Set(this.series.map((s) => s.metric))];
  }

  get runIds(): string[] {
    return [...new Set(this.series.map((s) => s.runId))];
  }

  /** Panel i's chart (for tests and the export buttons). */
  chartOf(i: number): LineChart | undefined {
    return this.panels[i]?.chart;
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.draw();
  }

  setSeries(series: OverlaySeries[]): void {
    this.series = series;
    // The first panel falls back to a recorded series (a metric no picked run has draws nothing); the others stay as set.
    if (series.length && !this.metrics.includes(this.metric)) this.settings.panels[0] = { metric: this.metrics[0] };
    this.build();
  }

  /** Settings kept elsewhere (the host's workspace state, for a panel opened afresh). */
  restore(settings: OverlaySettings): void {
    this.settings = resolveOverlaySettings(settings);
    this.build();
  }

  setMetric(metric: string, panel = 0): void {
    const panels = this.settings.panels.map((p, i) => (i === panel ? { metric } : p));
    this.update({ panels });
  }

  setYScale(yScale: 'log' | 'linear' | undefined, panel = 0): void {
    const panels = this.settings.panels.map((p, i) => (i === panel ? { metric: p.metric, ...(yScale ? { yScale } : {}) } : p));
    this.update({ panels });
  }

  /** A panel for `metric` (nothing when it is shown already or MAX_PANELS are). */
  addPanel(metric: string): void {
    if (this.settings.panels.length >= MAX_PANELS || this.settings.panels.some((p) => p.metric === metric)) return;
    this.update({ panels: [...this.settings.panels, { metric }] });
  }

  removePanel(i: number): void {
    if (this.settings.panels.length <= 1) return;
    this.update({ panels: this.settings.panels.filter((_, k) => k !== i) });
  }

  /** Change settings, redraw, and tell the owner (who persists them). */
  update(patch: Partial<ResolvedOverlaySettings>): void {
    const rebuild = patch.panels !== undefined;
    this.settings = { ...this.settings, ...patch };
    if (rebuild) this.build();
    else this.draw();
    this.onChange?.(this.settings);
  }

  private toggle(runId: string): void {
    const hidden = new Set(this.settings.hidden);
    if (hidden.has(runId)) hidden.delete(runId);
    else hidden.add(runId);
    this.update({ hidden: [...hidden] });
  }

  /** Rebuild the panels' DOM and charts (the panel list or the series changed), then draw. */
  private build(): void {
    for (const p of this.panels) p.destroy();
    this.panels = [];
    const metrics = this.metrics;
    const specs = this.settings.panels;
    const figures = specs.map((spec, i) => {
      const fig = document.createElement('figure');
      fig.className = 'overlay-panel';
      fig.dataset.panel = String(i);
      fig.dataset.series = spec.metric;
      const head = document.createElement('div');
      head.className = 'controls panel-head';
      const pick = document.createElement('vscode-single-select') as HTMLElement & { value: string };
      pick.id = panelId('metric', i);
      pick.setAttribute('aria-label', `Series of panel ${i + 1}`);
      const options = metrics.includes(spec.metric) ? metrics : [spec.metric, ...metrics];
      pick.append(
        ...options.map((k) => {
          const o = document.createElement('vscode-option') as HTMLElement & { value: string; selected: boolean };
          o.value = k;
          o.textContent = seriesName(k);
          o.selected = k === spec.metric;
          return o;
        }),
      );
      pick.addEventListener('change', () => {
        if (pick.value && pick.value !== this.settings.panels[i]?.metric) this.setMetric(pick.value, i);
      });
      const yLabel = document.createElement('label');
      yLabel.htmlFor = panelId('yscale', i);
      yLabel.textContent = 'Y';
      const y = document.createElement('select');
      y.id = panelId('yscale', i);
      for (const v of ['auto', 'log', 'linear']) y.append(new Option(v, v, false, (spec.yScale ?? 'auto') === v));
      y.addEventListener('change', () => this.setYScale(y.value === 'auto' ? undefined : (y.value as 'log' | 'linear'), i));
      head.append(pick, yLabel, y);
      // Export this panel: its drawn data (CSV, JSON) or its image (main.ts' export handler; panel 0 is 'overlay').
      const exp = document.createElement('span');
      exp.className = 'export';
      exp.setAttribute('role', 'group');
      exp.setAttribute('aria-label', `Export the panel of ${spec.metric}`);
      for (const f of ['csv', 'json', 'png']) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'tool';
        b.dataset.export = f;
        b.dataset.chart = i ? `overlay-${i}` : 'overlay';
        b.title = f === 'png' ? 'Export the panel as a PNG image' : `Export the panel's data as ${f.toUpperCase()}`;
        b.textContent = f.toUpperCase();
        exp.append(b);
      }
      head.append(exp);
      if (specs.length > 1) {
        const rm = document.createElement('button');
        rm.type = 'button';
        rm.className = 'tool';
        rm.dataset.removePanel = String(i);
        rm.textContent = '✕';
        rm.title = `Remove the panel of ${spec.metric}`;
        rm.setAttribute('aria-label', rm.title);
        rm.addEventListener('click', () => this.removePanel(i));
        head.append(rm);
      }
      const box = document.createElement('div');
      box.className = 'chart';
      const canvas = document.createElement('canvas');
      canvas.id = panelId('chart', i);
      box.append(canvas);
      const cap = document.createElement('p');
      cap.className = 'caption';
      cap.id = panelId('cap', i);
      fig.append(head, box, cap);
      return { fig, canvas, cap };
    });
    this.container.replaceChildren(...figures.map((f) => f.fig));
    this.panels = figures.map((f) => new Panel(f.canvas, f.cap, this.theme, (id) => this.toggle(id)));
    // The series not shown yet, to add as a panel.
    const free = metrics.filter((m) => !specs.some((p) => p.metric === m));
    const full = specs.length >= MAX_PANELS;
    this.addSelect.replaceChildren(new Option(full ? `at most ${MAX_PANELS} panels` : free.length ? 'Add a panel…' : 'every series shown', ''), ...(full ? [] : free.map((m) => new Option(seriesName(m), m))));
    this.addSelect.disabled = full || !free.length;
    this.draw();
  }

  private draw(): void {
    this.panels.forEach((p, i) => p.draw(this.theme, this.settings.panels[i], this.settings, this.series));
  }
}
