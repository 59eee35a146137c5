/**
 * Compare Runs: one metric of several recorded runs drawn over each other, as TensorBoard and W&B
 * do: a stable colour per run (colourFor), TensorBoard's debiased EMA smoothing with the raw curve
 * faint behind, log/linear y, x by step or wall time, outlier-robust y range, and a legend that
 * toggles runs. The settings are the caller's to persist (webview state).
 */
import type { OverlaySeries, OverlaySettings } from '../../src/protocol/messages';
import { colourFor, smoothEma, robustRange } from '../../src/shared/series';
import { baseOptions, makeChart, withAlpha, fmtNum, type Theme, type LineChart } from './common';
import { seriesInfo, type SeriesInfo } from '../../src/shared/seriesRegistry';

/** The registry's entry of an overlay metric: `loss` is the train loss, a bare name an eval metric (issue 19). */
export function overlaySeriesInfo(metric: string): SeriesInfo | undefined {
  return seriesInfo(metric) ?? seriesInfo(metric === 'loss' ? 'train:loss' : `eval:${metric}`);
}

export type ResolvedOverlaySettings = Required<Omit<OverlaySettings, 'yScale' | 'metric'>> & Pick<OverlaySettings, 'yScale' | 'metric'>;

export const DEFAULT_OVERLAY: ResolvedOverlaySettings = { smoothing: 0, xAxis: 'step', ignoreOutliers: false, hidden: [] };

export class OverlayChart {
  private chart: LineChart;
  private series: OverlaySeries[] = [];
  private datasetRunIds: string[] = [];
  settings: ResolvedOverlaySettings;
  metric = 'loss';
  /** Whether the y axis is drawn log (auto: log for a positive loss). */
  logY = true;

  constructor(
    canvas: HTMLCanvasElement,
    private theme: Theme,
    settings: OverlaySettings = {},
    private caption?: HTMLElement,
    private onChange?: (s: ResolvedOverlaySettings) => void,
  ) {
    this.settings = { ...DEFAULT_OVERLAY, ...settings };
    if (settings.metric) this.metric = settings.metric;
    this.chart = makeChart(canvas, baseOptions(theme, { logY: true, xTitle: 'step', yTitle: this.metric }));
  }

  get metrics(): string[] {
    return [...new Set(this.series.map((s) => s.metric))];
  }

  get runIds(): string[] {
    return [...new Set(this.series.map((s) => s.runId))];
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.draw();
  }

  setSeries(series: OverlaySeries[]): void {
    this.series = series;
    if (!this.metrics.includes(this.metric)) this.metric = this.metrics[0] ?? 'loss';
    this.draw();
  }

  setMetric(metric: string): void {
    this.metric = metric;
    this.update({ metric });
  }

  /** Change settings, redraw, and tell the owner (who persists them). */
  update(patch: Partial<ResolvedOverlaySettings>): void {
    this.settings = { ...this.settings, ...patch };
    this.draw();
    this.onChange?.(this.settings);
  }

  private toggle(runId: string): void {
    const hidden = new Set(this.settings.hidden);
    if (hidden.has(runId)) hidden.delete(runId);
    else hidden.add(runId);
    this.update({ hidden: [...hidden] });
  }

  private draw(): void {
    const s = this.settings;
    const shown = this.series.filter((x) => x.metric === this.metric);
    const byWall = s.xAxis === 'wall' && shown.every((x) => x.wallMs && x.wallMs.length === x.points.length);
    const positive = shown.every((x) => x.points.every(([, y]) => y > 0));
    const info = overlaySeriesInfo(this.metric);
    this.logY = positive && (s.yScale ? s.yScale === 'log' : (info?.scale ?? (this.metric === 'loss' ? 'log' : 'linear')) === 'log');
    const yTitle = info ? `${info.label}${info.unit ? ` (${info.unit})` : ''}` : this.metric;
    const o = baseOptions(this.theme, { logY: this.logY, xTitle: byWall ? 'wall time (s)' : 'step', yTitle, decimate: false });
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
    const legend = o.plugins!.legend!;
    legend.labels = { ...legend.labels, filter: (item) => Boolean(item.text) };
    legend.onClick = (_e, item) => {
      const id = item.datasetIndex !== undefined ? this.datasetRunIds[item.datasetIndex] : undefined;
      if (id) this.toggle(id);
    };
    this.chart.options = o;
    this.chart.data.datasets = datasets;
    this.datasetRunIds = runIds;
    this.chart.update('none');
    if (this.caption) {
      const nRuns = new Set(shown.map((x) => x.runId)).size;
      const hiddenN = shown.filter((x) => s.hidden.includes(x.runId)).length;
      this.caption.textContent = nRuns
        ? `${nRuns} runs · ${this.metric} by ${byWall ? 'wall time' : 'step'} · ${this.logY ? 'log' : 'linear'} y${s.smoothing > 0 ? ` · smoothing ${s.smoothing.toFixed(2)} (debiased EMA; raw curves faint)` : ''}${s.ignoreOutliers ? ' · outliers ignored (5–95 %)' : ''}${hiddenN ? ` · ${hiddenN} hidden (click the legend)` : ' · click a legend entry to hide a run'}` +
          (s.xAxis === 'wall' && !byWall ? ' · wall time not recorded for every run: by step' : '') +
          (shown.length ? ` · last: ${shown.map((x) => fmtNum(x.points.at(-1)?.[1])).join(', ')}` : '')
        : 'no runs with this metric';
    }
  }
}
