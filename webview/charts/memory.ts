/** Peak tensor memory each step's gradient computation needs on top of what is live (BPTT grows with T, RBP does not), and live bytes. */
import type { RunModel } from '../model';
import { baseOptions, makeChart, fmtBytes, type Theme, type LineChart } from './common';

function options(theme: Theme) {
  const o = baseOptions(theme, { xTitle: 'step', yTitle: 'MiB' });
  const y = o.scales!.y as { beginAtZero?: boolean };
  y.beginAtZero = true;
  return o;
}

export class MemoryChart {
  private chart: LineChart;
  constructor(
    canvas: HTMLCanvasElement,
    private caption: HTMLElement,
    private theme: Theme,
  ) {
    this.chart = makeChart(canvas, options(theme));
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.chart.options = options(theme);
  }

  update(m: RunModel): void {
    const mib = 1 / (1 << 20);
    this.chart.data.datasets = [
      { label: 'gradient peak (above live)', data: m.memory.map((e) => ({ x: e.step, y: e.peakBytes * mib })), borderColor: this.theme.palette[2], borderWidth: 2, indexAxis: 'x' as const },
      { label: 'live tensors', data: m.memory.map((e) => ({ x: e.step, y: e.liveBytes * mib })), borderColor: this.theme.palette[5], borderDash: [4, 3], indexAxis: 'x' as const },
    ];
    this.chart.update('none');
    const last = m.memory[m.memory.length - 1];
    this.caption.textContent = last ? `step ${last.step}: the gradient needed ${fmtBytes(last.peakBytes)} on top of ${fmtBytes(last.liveBytes)} live in ${last.numTensors} tensors, worker RSS ${fmtBytes(last.rssBytes)}` : '–';
  }
}
