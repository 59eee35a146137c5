/** Forward residual per solver step (log y): the latest training step in front, earlier ones fading. */
import type { RunModel } from '../model';
import { baseOptions, logValue, withAlpha, fmtNum, RunChart, type Theme } from './common';

const OPTS = { logY: true, xTitle: 'forward step t', yTitle: '‖h_t − h_{t−1}‖ / ‖h_t‖', decimate: false };

export class ForwardChart extends RunChart {
  constructor(canvas: HTMLCanvasElement, caption: HTMLElement, theme: Theme) {
    super(canvas, caption, theme, (t) => baseOptions(t, OPTS));
  }

  update(m: RunModel): void {
    const n = m.forward.length;
    const color = this.theme.palette[0];
    const datasets = m.forward.map((tr, i) => {
      const latest = i === n - 1;
      const alpha = latest ? 1 : 0.15 + (0.5 * (i + 1)) / n;
      return {
        label: latest ? `${m.started?.stepLabel ?? 'step'} ${tr.step}` : i === 0 ? `earlier (faded)` : '',
        data: tr.rel.map((v, t) => ({ x: t + 1, y: logValue(v) })),
        borderColor: withAlpha(latest && tr.diverged ? this.theme.palette[4] : color, alpha),
        borderWidth: latest ? 2.25 : 1,
        order: n - i,
      };
    });
    this.draw(datasets);
    const last = m.forward[n - 1];
    if (!last) {
      this.caption.textContent = 'waiting for the first forward pass…';
      delete this.caption.dataset.step;
      delete this.caption.dataset.points;
      return;
    }
    const final = [...last.rel].reverse().find((v) => v !== null);
    const state = last.diverged ? 'diverged (NaN/Inf)' : last.converged ? 'converged (tolerance met)' : 'ran all T steps';
    this.caption.textContent = `${m.started?.stepLabel ?? 'step'} ${last.step}: ${last.rel.length} forward steps, final relative residual ${fmtNum(final ?? null)} — ${state}`;
    this.caption.dataset.step = String(last.step);
    this.caption.dataset.points = String(last.rel.length);
  }
}
