/**
 * Compare TBPTT vs Neumann-RBP: a gradient check (every method at every K on one batch and one
 * set of weights) drawn side by side — gradient error and cosine vs K (against exact, solid, and
 * against BPTT, dashed), peak memory vs K, time vs K, the adjoint residual per iteration for each
 * K, a table of every row, and a headline verdict (green ✓ when the paper's claim holds on this
 * model, red ✗ when it does not). Rows are drawn as they stream in.
 */
import type { RunModel } from '../model';
import { baseOptions, makeChart, logValue, withAlpha, type Theme, type LineChart } from './common';
import { compareHeadline, rowsOf, sci, mib, type Row } from '../../src/shared/compareSummary';
import { methodLabel } from '../../src/core/gradients/catalog';

const $ = (id: string) => document.getElementById(id)!;
const MiB = 2 ** 20;


function methodColour(theme: Theme, m: string): string {
  switch (m) {
    case 'Neumann_RBP':
      return theme.palette[0];
    case 'TBPTT':
      return theme.palette[1];
    case 'RBP':
      return theme.palette[2];
    case 'CG_RBP':
      return theme.palette[3];
    case 'BPTT':
      return theme.foreground;
    default:
      return theme.palette[5];
  }
}

type Dataset = LineChart['data']['datasets'][number];

export class CompareView {
  private charts: Record<'error' | 'cosine' | 'memory' | 'time' | 'residual', LineChart>;
  constructor(private theme: Theme) {
    this.charts = {
      error: makeChart($('chart-cmp-error') as HTMLCanvasElement, this.options('error')),
      cosine: makeChart($('chart-cmp-cosine') as HTMLCanvasElement, this.options('cosine')),
      memory: makeChart($('chart-cmp-memory') as HTMLCanvasElement, this.options('memory')),
      time: makeChart($('chart-cmp-time') as HTMLCanvasElement, this.options('time')),
      residual: makeChart($('chart-cmp-residual') as HTMLCanvasElement, this.options('residual')),
    };
  }

  private options(which: keyof CompareView['charts']) {
    const t = this.theme;
    switch (which) {
      case 'error':
        return baseOptions(t, { logY: true, xTitle: 'K', yTitle: 'relative error', decimate: false });
      case 'cosine': {
        const o = baseOptions(t, { xTitle: 'K', yTitle: 'cosine similarity', decimate: false });
        Object.assign(o.scales!.y!, { suggestedMin: 0, max: 1.02 });
        return o;
      }
      case 'memory':
        return baseOptions(t, { xTitle: 'K', yTitle: 'peak MiB', decimate: false });
      case 'time':
        return baseOptions(t, { xTitle: 'K', yTitle: 'ms', decimate: false });
      case 'residual':
        return baseOptions(t, { logY: true, xTitle: 'backward iteration k', yTitle: 'adjoint residual', decimate: false });
    }
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    for (const k of Object.keys(this.charts) as (keyof CompareView['charts'])[]) this.charts[k].options = this.options(k);
  }

  update(m: RunModel): void {
    const rows = m.gradcheckRows;
    const report = m.gradcheck;
    const methods = report?.methods ?? [...new Set(rows.filter((r) => r.K !== null).map((r) => r.method))];
    const byMethod = methods.map((meth) => ({ meth, rows: rowsOf({ rows }, meth) })).filter((x) => x.rows.length);
    const bptt = rows.find((r) => r.method === 'BPTT');
    const Ks = [...new Set(rows.filter((r) => r.K !== null).map((r) => r.K!))].sort((a, b) => a - b);
    const kRange = Ks.length ? [Ks[0], Ks[Ks.length - 1]] : [];
    const point = { pointRadius: 3.5, pointHoverRadius: 5, borderWidth: 2 };
    const ref = (label: string, y: number | null): Dataset[] => (y === null || !kRange.length ? [] : [{ label, data: kRange.map((x) => ({ x, y })), borderColor: withAlpha(this.theme.foreground, 0.6), borderDash: [2, 3], borderWidth: 1.25, pointRadius: 0 }]);

    const c = (meth: string) => methodColour(this.theme, meth);
    const err: Dataset[] = [];
    const cos: Dataset[] = [];
    for (const { meth, rows: rs } of byMethod) {
      err.push({ label: `${methodLabel(meth)} vs exact`, data: rs.map((r) => ({ x: r.K!, y: logValue(r.relErrExact) })), borderColor: c(meth), backgroundColor: c(meth), ...point });
      err.push({ label: `${methodLabel(meth)} vs BPTT`, data: rs.map((r) => ({ x: r.K!, y: logValue(r.relErrBptt) })), borderColor: withAlpha(c(meth), 0.75), backgroundColor: withAlpha(c(meth), 0.75), borderDash: [6, 4], ...point, pointStyle: 'rectRot' });
      cos.push({ label: `${methodLabel(meth)} vs exact`, data: rs.map((r) => ({ x: r.K!, y: r.cosExact })), borderColor: c(meth), backgroundColor: c(meth), ...point });
      cos.push({ label: `${methodLabel(meth)} vs BPTT`, data: rs.map((r) => ({ x: r.K!, y: r.cosBptt })), borderColor: withAlpha(c(meth), 0.75), backgroundColor: withAlpha(c(meth), 0.75), borderDash: [6, 4], ...point, pointStyle: 'rectRot' });
    }
    if (bptt) err.push(...ref('BPTT vs exact', logValue(bptt.relErrExact)));
    this.set('error', err);
    this.set('cosine', cos);
    this.set('memory', [...byMethod.map(({ meth, rows: rs }) => ({ label: methodLabel(meth), data: rs.map((r) => ({ x: r.K!, y: r.peakBytes / MiB })), borderColor: c(meth), backgroundColor: c(meth), ...point })), ...ref(`BPTT (all ${m.started?.T ?? 'T'} steps)`, bptt ? bptt.peakBytes / MiB : null)]);
    this.set('time', [...byMethod.map(({ meth, rows: rs }) => ({ label: methodLabel(meth), data: rs.map((r) => ({ x: r.K!, y: r.timeMs })), borderColor: c(meth), backgroundColor: c(meth), ...point })), ...ref('BPTT', bptt ? bptt.timeMs : null)]);
    const res: Dataset[] = [];
    for (const { meth, rows: rs } of byMethod) {
      rs.forEach((r, i) => {
        if (!r.residualTrace.some((v) => v !== null)) return;
        const alpha = 0.35 + (0.65 * (i + 1)) / rs.length;
        res.push({ label: `${methodLabel(meth)} K=${r.K}`, data: r.residualTrace.map((v, k) => ({ x: k + 1, y: logValue(v) })), borderColor: withAlpha(c(meth), alpha), backgroundColor: withAlpha(c(meth), alpha), borderWidth: 1.5 + i * 0.4, pointRadius: 0 });
      });
    }
    this.set('residual', res);
    const noResidual = byMethod.filter(({ rows: rs }) => rs.every((r) => r.residualTrace.every((v) => v === null))).map(({ meth }) => methodLabel(meth));
    $('cap-cmp-residual').textContent = res.length ? `each K's adjoint residual ‖z_k − z_{k−1}‖ per iteration${noResidual.length ? `; ${noResidual.join(', ')} has none (it back-propagates through the last K steps of the unroll)` : ''}` : 'no adjoint residuals yet';
    this.renderTable(rows);
    this.renderHeadline(m);
  }

  private set(which: keyof CompareView['charts'], datasets: Dataset[]): void {
    const ch = this.charts[which];
    ch.data.datasets = datasets;
    const y = ch.options.scales?.y as { type?: string; suggestedMax?: number; suggestedMin?: number } | undefined;
    if (y?.type === 'logarithmic') {
      // Head room on log axes: points at the top edge stay visible.
      const ys = datasets.flatMap((d) => d.data.map((p) => p.y)).filter((v): v is number => v !== null && v > 0);
      y.suggestedMax = ys.length ? Math.max(...ys) * 4 : undefined;
    }
    ch.update('none');
  }

  private renderHeadline(m: RunModel): void {
    const box = $('compare-headline');
    const icon = box.querySelector('.codicon')!;
    const text = $('compare-headline-text');
    const details = $('compare-details');
    const report = m.gradcheck;
    const setLevel = (level: string, ic: string) => {
      box.dataset.level = level;
      icon.className = `codicon codicon-${ic}`;
    };
    for (const k of ['K', 'relErrExact', 'cosExact', 'peakBytes', 'tbpttPeakBytes', 'rho']) delete box.dataset[k];
    if (report) {
      const h = compareHeadline(report);
      setLevel(h.level, h.level === 'ok' ? 'pass-filled' : h.level === 'warn' ? 'warning' : 'error');
      text.textContent = h.text;
      details.replaceChildren(...h.details.map((d) => Object.assign(document.createElement('li'), { textContent: d })));
      // Full-precision numbers for tests and tooltips.
      box.dataset.K = String(h.K);
      box.dataset.rho = String(report.rho);
      if (h.neumann) Object.assign(box.dataset, { relErrExact: String(h.neumann.relErrExact), cosExact: String(h.neumann.cosExact), peakBytes: String(h.neumann.peakBytes) });
      if (h.tbptt) box.dataset.tbpttPeakBytes = String(h.tbptt.peakBytes);
      return;
    }
    details.replaceChildren();
    const n = m.gradcheckRows.length;
    const total = m.started?.steps ?? 0;
    if (m.end?.type === 'run/failed') {
      setLevel('bad', 'error');
      text.textContent = `✗ The gradient check failed (${m.end.kind}): ${m.end.reason}`;
    } else if (m.end) {
      setLevel('warn', 'circle-slash');
      text.textContent = `Gradient check ${m.end.status} after ${n} of ${total} rows`;
    } else {
      setLevel('none', 'loading codicon-modifier-spin');
      text.textContent = `Computing the gradient check on one batch and one set of weights… ${n} / ${total || '?'} rows`;
    }
  }

  private renderTable(rows: Row[]): void {
    const body = $('cmp-table').querySelector('tbody')!;
    body.replaceChildren(
      ...rows.map((r) => {
        const tr = document.createElement('tr');
        tr.dataset.method = r.method;
        const cells = [methodLabel(r.method), r.K === null ? '–' : String(r.K), sci(r.relErrExact), r.cosExact.toFixed(6), sci(r.relErrBptt), r.cosBptt.toFixed(6), r.timeMs.toFixed(0), mib(r.peakBytes), sci(r.residual)];
        tr.replaceChildren(...cells.map((c) => Object.assign(document.createElement('td'), { textContent: c })));
        return tr;
      }),
    );
  }
}
