/**
 * ρ(J) over training: the spectral radius estimate at each diagnosis (step 0 and every
 * evaluation) against the step, over the verdict's bands — contractive (below RHO_NEAR_ONE), near 1,
 * not contractive (from RHO_NOT_CONTRACTIVE) — the same thresholds the verdict uses.
 */
import type { Plugin } from 'chart.js';
import type { RunModel } from '../model';
import { baseOptions, fmtNum, withAlpha, RunChart, type Theme } from './common';
import { RHO_NEAR_ONE, RHO_NOT_CONTRACTIVE, rhoBand } from '../../src/core/verdictBands';

/** The bands drawn behind the curve: [from, to) in ρ, with the verdict's name. */
export const RHO_BANDS = [
  { name: 'contractive', from: 0, to: RHO_NEAR_ONE },
  { name: 'near 1', from: RHO_NEAR_ONE, to: RHO_NOT_CONTRACTIVE },
  { name: 'not contractive', from: RHO_NOT_CONTRACTIVE, to: Infinity },
] as const;

function bandColors(theme: Theme): string[] {
  return [withAlpha(theme.palette[2], 0.12), withAlpha(theme.palette[5], 0.16), withAlpha(theme.palette[4], 0.14)];
}

/** Fills each band's part of the plot area before the curve is drawn. */
function bandsPlugin(colors: () => string[]): Plugin<'line'> {
  return {
    id: 'rhoBands',
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea: a, scales } = chart;
      const y = scales.y;
      if (!y || !a) return;
      const c = colors();
      ctx.save();
      RHO_BANDS.forEach((b, i) => {
        const top = Math.max(a.top, y.getPixelForValue(Math.min(b.to, y.max)));
        const bottom = Math.min(a.bottom, y.getPixelForValue(Math.max(b.from, y.min)));
        if (bottom <= top || b.from > y.max || b.to < y.min) return;
        ctx.fillStyle = c[i];
        ctx.fillRect(a.left, top, a.right - a.left, bottom - top);
      });
      ctx.restore();
    },
  };
}

function options(theme: Theme, stepLabel: string) {
  const o = baseOptions(theme, { xTitle: stepLabel, yTitle: 'ρ(J)', decimate: false });
  // Always show 1 and the near-1 band; more when ρ goes beyond.
  o.scales!.y!.min = 0;
  (o.scales!.y as { suggestedMax?: number }).suggestedMax = 1.1;
  o.plugins!.tooltip = { callbacks: { label: (ctx) => `ρ(J) ${fmtNum(ctx.parsed.y)} (${rhoBand(ctx.parsed.y ?? NaN)})` } };
  return o;
}

export class RhoChart extends RunChart {
  constructor(canvas: HTMLCanvasElement, caption: HTMLElement, theme: Theme) {
    super(canvas, caption, theme, options, (current) => [bandsPlugin(() => bandColors(current()))]);
  }

  update(m: RunModel): void {
    const label = this.stepWord(m);
    const h = m.rhoHistory;
    this.draw([{ label: 'ρ(J)', data: h.map((d) => ({ x: d.step, y: d.rho })), borderColor: this.theme.palette[0], pointRadius: h.length < 80 ? 3 : 0, borderWidth: 2, indexAxis: 'x' as const }]);
    const last = h[h.length - 1];
    this.caption.textContent = last ? `ρ(J) ${fmtNum(last.rho)} as of ${label} ${last.step} (${rhoBand(last.rho ?? NaN)}; ${h.length} estimates)` : 'no ρ(J) estimate yet';
  }
}
