/** Compare Runs: one metric of several recorded runs drawn over each other. */
import type { OverlaySeries } from '../../src/protocol/messages';
import { baseOptions, makeChart, type Theme, type LineChart } from './common';

export class OverlayChart {
  private chart: LineChart;
  private series: OverlaySeries[] = [];
  metric = 'loss';
  constructor(
    canvas: HTMLCanvasElement,
    private theme: Theme,
  ) {
    this.chart = makeChart(canvas, baseOptions(theme, { logY: true, xTitle: 'step', yTitle: this.metric }));
  }

  get metrics(): string[] {
    return [...new Set(this.series.map((s) => s.metric))];
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
    this.draw();
  }

  private draw(): void {
    const positive = this.series.filter((s) => s.metric === this.metric).every((s) => s.points.every(([, y]) => y > 0));
    this.chart.options = baseOptions(this.theme, { logY: positive && this.metric === 'loss', xTitle: 'step', yTitle: this.metric });
    this.chart.data.datasets = this.series
      .filter((s) => s.metric === this.metric)
      .map((s, i) => ({ label: s.label, data: s.points.map(([x, y]) => ({ x, y })), borderColor: this.theme.palette[i % this.theme.palette.length], borderWidth: 1.75, indexAxis: 'x' as const }));
    this.chart.update('none');
  }
}
