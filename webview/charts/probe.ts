/**
 * Gradient error over training: at each probed step, the relative error of the gradient the run
 * trains with against the exact implicit gradient (solid) and against BPTT (dashed, where probed),
 * on a log axis; ρ(J) at that step in the tooltip.
 */
import type { RunModel } from '../model';
import { baseOptions, fmtNum, logValue, RunChart, type Theme } from './common';
import type { ProbeMsg } from '../../src/protocol/messages';

function options(theme: Theme, stepLabel: string, rhoAt: (step: number) => number | null) {
  const o = baseOptions(theme, { logY: true, xTitle: stepLabel, yTitle: 'relative error', decimate: false });
  o.plugins!.tooltip = { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmtNum(ctx.parsed.y)}`, afterBody: (items) => (items.length ? `ρ(J) ${fmtNum(rhoAt(items[0].parsed.x ?? NaN))}` : '') } };
  return o;
}

export class ProbeChart extends RunChart {
  private probes: ProbeMsg[] = [];
  constructor(canvas: HTMLCanvasElement, caption: HTMLElement, theme: Theme) {
    // `this.probes` is read by the tooltip, on hover: never while the chart is being made
    super(canvas, caption, theme, (t, stepLabel) => options(t, stepLabel, (step) => this.probes.find((p) => p.step === step)?.rho ?? null));
  }

  update(m: RunModel): void {
    const label = this.stepWord(m);
    this.probes = m.probes;
    const p = m.probes;
    const what = p.length ? `${p[0].method.replace('_RBP', '-RBP')}${p[0].K !== null ? `(${p[0].K})` : ''}` : 'training gradient';
    const point = { pointRadius: p.length < 80 ? 2.5 : 0, borderWidth: 2, indexAxis: 'x' as const };
    const vsExact = { label: `${what} vs exact`, data: p.map((e) => ({ x: e.step, y: logValue(e.relErrExact) })), borderColor: this.theme.palette[0], ...point };
    const vsBptt = { label: `${what} vs BPTT`, data: p.map((e) => ({ x: e.step, y: logValue(e.relErrBptt) })), borderColor: this.theme.palette[1], borderDash: [5, 4], ...point };
    this.draw(p.some((e) => e.relErrBptt !== null) ? [vsExact, vsBptt] : [vsExact]);
    const last = p[p.length - 1];
    this.caption.textContent = last
      ? `${label} ${last.step}: error ${fmtNum(last.relErrExact)} vs exact (cosine ${fmtNum(last.cosExact)})${last.relErrBptt !== null ? `, ${fmtNum(last.relErrBptt)} vs BPTT` : ''}, ρ(J) ${fmtNum(last.rho)}; the probe took ${Math.round(last.ms)} ms (${p.length} probes)`
      : 'no gradient probes in this run (rbpLab.probeEvery / --probe-every)';
  }
}
