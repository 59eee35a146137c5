/** The backward pass: adjoint residual (RBP family) or term norm (BPTT/TBPTT) per iteration (log y). */
import type { RunModel } from '../model';
import { baseOptions, logValue, withAlpha, fmtNum, RunChart, type Theme, type LineChart } from './common';

const OPTS = { logY: true, xTitle: 'backward iteration k', yTitle: 'residual / term norm', decimate: false };

export class BackwardChart extends RunChart {
  constructor(canvas: HTMLCanvasElement, caption: HTMLElement, theme: Theme) {
    super(canvas, caption, theme, (t) => baseOptions(t, OPTS));
  }

  update(m: RunModel): void {
    const n = m.backward.length;
    const [cRes, cTerm] = [this.theme.palette[1], this.theme.palette[3]];
    const datasets: LineChart['data']['datasets'] = [];
    m.backward.forEach((tr, i) => {
      const latest = i === n - 1;
      const alpha = latest ? 1 : 0.12 + (0.45 * (i + 1)) / n;
      const hasRes = tr.residual.some((v) => v !== null);
      const hasTerm = tr.termNorm.some((v) => v !== null);
      if (hasRes)
        datasets.push({ label: latest ? `adjoint residual (${tr.step})` : '', data: tr.residual.map((v, k) => ({ x: k + 1, y: logValue(v) })), borderColor: withAlpha(cRes, alpha), borderWidth: latest ? 2.25 : 1, order: n - i });
      if (hasTerm)
        datasets.push({ label: latest ? `term norm ‖z_k‖/‖g‖ (${tr.step})` : '', data: tr.termNorm.map((v, k) => ({ x: k + 1, y: logValue(v) })), borderColor: withAlpha(cTerm, alpha), borderDash: [5, 3], borderWidth: latest ? 2 : 1, order: n - i });
    });
    this.draw(datasets);
    const last = m.backward[n - 1];
    if (!last) {
      this.caption.textContent = 'waiting for the first backward pass…';
      return;
    }
    const res = [...last.residual].reverse().find((v) => v !== null);
    const term = [...last.termNorm].reverse().find((v) => v !== null);
    this.caption.textContent = `${last.method}, ${m.started?.stepLabel ?? 'step'} ${last.step}: ${Math.max(last.residual.length, last.termNorm.length)} iterations` + (res !== undefined ? `, final residual ${fmtNum(res)}` : '') + (term !== undefined ? `, last term norm ${fmtNum(term)}` : '');
  }
}
