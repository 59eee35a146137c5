/**
 * Export any chart: its drawn data as CSV (seriesToCsv, which csvToSeries parses back) or JSON, or
 * the canvas as PNG on the theme's background. The webview posts {type:'export', format, chart,
 * data}; the host shows a save dialog and writes the file.
 */
import { Chart } from 'chart.js';
import { seriesToCsv, seriesToJson, type Series } from '../src/shared/series';
import type { WebviewToHost } from '../src/protocol/messages';

/** The chart's datasets as series (what is drawn; unnamed faded traces get a name). */
export function chartSeries(canvas: HTMLCanvasElement): { xLabel: string; yLabel: string; series: Series[] } {
  const chart = Chart.getChart(canvas);
  if (!chart) return { xLabel: 'x', yLabel: 'y', series: [] };
  const scales = chart.options.scales as Record<string, { title?: { text?: string } }> | undefined;
  const xLabel = String(scales?.x?.title?.text ?? 'x');
  const yLabel = String(scales?.y?.title?.text ?? 'y');
  const names = new Map<string, number>();
  const series = chart.data.datasets.map((ds, i) => {
    // Chart.js' decimation swaps `data` for a decimated copy and keeps the original in `_data`.
    const data = ((ds as unknown as { _data?: unknown[] })._data ?? ds.data) as ({ x: number; y: number | null } | null)[];
    let name = ds.label || (i > 0 && chart.data.datasets[i - 1].label ? `${chart.data.datasets[i - 1].label} (raw)` : `series ${i + 1}`);
    const n = names.get(name) ?? 0;
    names.set(name, n + 1);
    if (n) name = `${name} #${n + 1}`;
    return { name, points: data.filter((p): p is { x: number; y: number } => p !== null && typeof p === 'object' && typeof p.y === 'number' && Number.isFinite(p.y)).map((p) => ({ x: p.x, y: p.y })) };
  });
  return { xLabel, yLabel, series };
}

export function pngOf(canvas: HTMLCanvasElement): string {
  const out = document.createElement('canvas');
  out.width = canvas.width;
  out.height = canvas.height;
  const ctx = out.getContext('2d')!;
  ctx.fillStyle = getComputedStyle(document.body).backgroundColor || '#ffffff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(canvas, 0, 0);
  return out.toDataURL('image/png');
}

export function exportMessage(chart: string, canvas: HTMLCanvasElement, format: 'csv' | 'json' | 'png', meta: Record<string, unknown> = {}): Extract<WebviewToHost, { type: 'export' }> {
  if (format === 'png') return { type: 'export', format, chart, data: pngOf(canvas) };
  const { xLabel, yLabel, series } = chartSeries(canvas);
  const data = format === 'csv' ? seriesToCsv(series, xLabel) : seriesToJson(series, { chart, xLabel, yLabel, ...meta });
  return { type: 'export', format, chart, data };
}
