/** Peak tensor memory each step's gradient computation needs on top of what is live (BPTT grows with T, RBP does not), and live bytes. */
import type { RunModel } from '../model';
import { baseOptions, fmtBytes, RunChart, type Theme } from './common';

function options(theme: Theme) {
  const o = baseOptions(theme, { xTitle: 'step', yTitle: 'MiB' });
  const y = o.scales!.y as { beginAtZero?: boolean };
  y.beginAtZero = true;
  return o;
}

/** Its x axis is the training step whatever the run calls it (memory is recorded per step). */
export class MemoryChart extends RunChart {
  constructor(canvas: HTMLCanvasElement, caption: HTMLElement, theme: Theme) {
    super(canvas, caption, theme, options);
  }

  update(m: RunModel): void {
    const mib = 1 / (1 << 20);
    this.draw([
      { label: 'gradient peak (above live)', data: m.memory.map((e) => ({ x: e.step, y: e.peakBytes * mib })), borderColor: this.theme.palette[2], borderWidth: 2, indexAxis: 'x' as const },
      { label: 'live tensors', data: m.memory.map((e) => ({ x: e.step, y: e.liveBytes * mib })), borderColor: this.theme.palette[5], borderDash: [4, 3], indexAxis: 'x' as const },
    ]);
    const last = m.memory[m.memory.length - 1];
    this.caption.textContent = last ? `step ${last.step}: the gradient needed ${fmtBytes(last.peakBytes)} on top of ${fmtBytes(last.liveBytes)} live in ${last.numTensors} tensors, worker RSS ${fmtBytes(last.rssBytes)}` : '–';
  }
}
