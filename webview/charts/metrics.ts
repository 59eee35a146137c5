/**
 * Two charts, each on its own scale: the training loss per step (log), and the evaluation metrics
 * at each evaluation (linear); decimated for long runs.
 */
import type { RunModel } from '../model';
import { baseOptions, fmtNum, RunChart, type Theme } from './common';

export type MetricsKind = 'loss' | 'eval';

function options(theme: Theme, stepLabel: string, kind: MetricsKind) {
  return kind === 'loss' ? baseOptions(theme, { logY: true, xTitle: stepLabel, yTitle: 'training loss' }) : baseOptions(theme, { xTitle: stepLabel, yTitle: 'evaluation metric' });
}

export class MetricsChart extends RunChart {
  constructor(
    canvas: HTMLCanvasElement,
    caption: HTMLElement,
    theme: Theme,
    private readonly kind: MetricsKind = 'loss',
  ) {
    super(canvas, caption, theme, (t, stepLabel) => options(t, stepLabel, kind));
  }

  update(m: RunModel): void {
    const label = this.stepWord(m);
    const keys = [...m.series.keys()].filter((k) => (this.kind === 'loss' ? k === 'loss' : k.startsWith('eval:')));
    const palette = this.theme.palette;
    const datasets = keys.map((k, i) => {
      const pts = m.series.get(k)!;
      const isEval = this.kind === 'eval';
      // Chart.js decimation replaces `data` in place; give it a copy so the model keeps every point.
      return {
        label: isEval ? k.slice(5) : k,
        data: pts.slice(),
        borderColor: palette[(isEval ? i + 1 : i) % palette.length],
        borderWidth: isEval ? 1.5 : 2,
        pointRadius: isEval && pts.length < 60 ? 2.5 : 0,
        indexAxis: 'x' as const,
      };
    });
    this.draw(datasets);
    if (this.kind === 'loss') {
      const loss = m.series.get('loss');
      const last = loss?.[loss.length - 1];
      this.caption.textContent = last ? `${label} ${last.x}: loss ${fmtNum(last.y)} (${loss!.length} points)` : '–';
    } else {
      const evals = keys.map((k) => `${k.slice(5)} ${fmtNum(m.series.get(k)!.at(-1)?.y)}`);
      const lastX = Math.max(-1, ...keys.map((k) => m.series.get(k)!.at(-1)?.x ?? -1));
      this.caption.textContent = evals.length ? `${label} ${lastX}: ${evals.join(' · ')} (${m.series.get(keys[0])!.length} evaluations)` : 'no evaluation yet';
    }
  }
}
