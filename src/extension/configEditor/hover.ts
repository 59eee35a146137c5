/** The markdown of a noted line's hover: the notes, a residual chart of the run, a link to the dashboard. */
import type { InlineNote } from '../../config/inline';
import type { RunNotes } from './digest';
import { sparklineSvg, svgDataUri } from './sparkline';

/** The command link that opens the dashboard at a run (trusted for this one command only). */
export function openDashboardLink(runId: string): string {
  return `command:rbpLab.openDashboard?${encodeURIComponent(JSON.stringify([runId]))}`;
}

/** The hover of a noted line: the notes, a residual chart of the run, and a link to the dashboard. */
export function hoverMarkdown(notes: readonly InlineNote[], run: { runId: string; notes: RunNotes }, which: 'forward' | 'backward'): string {
  const lines: string[] = [];
  for (const n of notes) lines.push(n.hover);
  const fwd = run.notes.forward;
  const bwd = run.notes.backward;
  // The chart of the line's own quantity only: the T line's hover (forward convergence) never draws the
  // adjoint residual, nor truncate_iter's the forward one — a gradient check records no forward trace.
  const chart = which === 'backward' ? (bwd ? { title: bwd.label, values: bwd.values } : undefined) : fwd ? { title: 'Forward relative residual per step (last run)', values: fwd } : undefined;
  if (chart) {
    const svg = sparklineSvg(chart.values, { tol: 1e-4 });
    if (svg) lines.push(`${chart.title}, log scale (dashed: 1e-4):\n\n![${chart.title}](${svgDataUri(svg)})`);
  }
  lines.push(`[$(graph-line) Open ${run.runId} in the dashboard](${openDashboardLink(run.runId)})`);
  return lines.join('\n\n');
}
