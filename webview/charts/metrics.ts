/** Loss (left axis, log) and evaluation metrics (right axis) per step; decimated for long runs. */
import type { RunModel } from '../model';
import { baseOptions, makeChart, fmtNum, type Theme, type LineChart } from './common';

function options(theme: Theme, stepLabel: string) {
  const o = baseOptions(theme, { logY: true, xTitle: stepLabel, yTitle: 'loss' });
  o.scales!.y2 = { type: 'linear', position: 'right', title: { display: true, text: 'eval metrics', color: theme.foreground }, ticks: { color: theme.foreground, callback: (v) => fmtNum(Number(v)) }, grid: { drawOnChartArea: false } };
  return o;
}

export class MetricsChart {
  private chart: LineChart;
  private stepLabel = 'step';
  constructor(
    canvas: HTMLCanvasElement,
    private caption: HTMLElement,
    private theme: Theme,
  ) {
    this.chart = makeChart(canvas, options(theme, this.stepLabel));
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.chart.options = options(theme, this.stepLabel);
  }

  update(m: RunModel): void {
    const label = m.started?.stepLabel ?? 'step';
    if (label !== this.stepLabel) {
      this.stepLabel = label;
      this.chart.options = options(this.theme, label);
    }
    const keys = [...m.series.keys()].filter((k) => k === 'loss' || k.startsWith('eval:'));
    const palette = this.theme.palette;
    this.chart.data.datasets = keys.map((k, i) => {
      const pts = m.series.get(k)!;
      const isEval = k.startsWith('eval:');
      // Chart.js decimation replaces `data` in place; give it a copy so the model keeps every point.
      return {
        label: isEval ? k.slice(5) : k,
        data: pts.slice(),
        yAxisID: isEval ? 'y2' : 'y',
        borderColor: palette[i % palette.length],
        borderWidth: isEval ? 1.5 : 2,
        pointRadius: isEval && pts.length < 60 ? 2.5 : 0,
        indexAxis: 'x' as const,
      };
    });
    const hasEval = keys.some((k) => k.startsWith('eval:'));
    const y2 = this.chart.options.scales?.y2;
    if (y2) y2.display = hasEval;
    this.chart.update('none');
    const loss = m.series.get('loss');
    const lastLoss = loss?.[loss.length - 1];
    const evals = keys.filter((k) => k.startsWith('eval:')).map((k) => `${k.slice(5)} ${fmtNum(m.series.get(k)!.at(-1)?.y)}`);
    this.caption.textContent = lastLoss ? `${label} ${lastLoss.x}: loss ${fmtNum(lastLoss.y)}${evals.length ? ` · ${evals.join(' · ')}` : ''} (${loss!.length} points)` : '–';
  }
}
