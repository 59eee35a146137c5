/**
 * Pure helpers for chart series, shared by the webview and the extension host (no DOM, no
 * vscode): TensorBoard-style debiased smoothing, min/max decimation, robust axis ranges, and
 * CSV/JSON export with a parser for round trips.
 */

export type Point = { x: number; y: number };
export interface Series {
  name: string;
  points: Point[];
}

/**
 * Exponential moving average with TensorBoard's debiasing: s_k = w·s_{k−1} + (1 − w)·y_k,
 * reported as s_k / (1 − w^k), so the start is not dragged towards 0. Non-finite values pass
 * through unchanged and do not enter the average. w ∈ [0, 1): 0 = no smoothing.
 */
export function smoothEma(ys: readonly number[], weight: number): number[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  let last = 0;
  let n = 0;
  return ys.map((y) => {
    if (!Number.isFinite(y)) return y;
    last = last * w + (1 - w) * y;
    n++;
    const debias = w === 0 ? 1 : 1 - Math.pow(w, n);
    return last / debias;
  });
}

/**
 * Keep at most `max` points: split the x range into max/2 buckets and keep each bucket's min and
 * max (in x order), plus the first and last point. Spikes survive; a line keeps its envelope.
 */
export function decimateMinMax(points: readonly Point[], max: number): Point[] {
  if (points.length <= max || max < 4) return points.slice();
  const buckets = Math.floor((max - 2) / 2);
  const out: Point[] = [points[0]];
  const inner = points.length - 2;
  for (let b = 0; b < buckets; b++) {
    const start = 1 + Math.floor((b * inner) / buckets);
    const end = 1 + Math.floor(((b + 1) * inner) / buckets);
    if (end <= start) continue;
    let lo = start;
    let hi = start;
    for (let i = start; i < end; i++) {
      if (points[i].y < points[lo].y) lo = i;
      if (points[i].y > points[hi].y) hi = i;
    }
    if (lo === hi) out.push(points[lo]);
    else if (lo < hi) out.push(points[lo], points[hi]);
    else out.push(points[hi], points[lo]);
  }
  out.push(points[points.length - 1]);
  return out;
}

function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * The y range to draw when ignoring outliers (as TensorBoard's option): the 5th to 95th
 * percentile of the finite values, padded by 5%. Log scale: computed on log10 of positive values.
 */
export function robustRange(ys: readonly number[], log = false): { min: number; max: number } | undefined {
  const vals = ys.filter((y) => Number.isFinite(y) && (!log || y > 0)).map((y) => (log ? Math.log10(y) : y));
  if (vals.length < 2) return undefined;
  vals.sort((a, b) => a - b);
  let lo = quantile(vals, 0.05);
  let hi = quantile(vals, 0.95);
  if (hi === lo) {
    hi += 0.5;
    lo -= 0.5;
  }
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  return log ? { min: Math.pow(10, lo), max: Math.pow(10, hi) } : { min: lo, max: hi };
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Wide CSV: first column x, one column per series, rows at the union of x values. */
export function seriesToCsv(series: readonly Series[], xLabel = 'step'): string {
  const xs = Array.from(new Set(series.flatMap((s) => s.points.map((p) => p.x)))).sort((a, b) => a - b);
  const maps = series.map((s) => new Map(s.points.map((p) => [p.x, p.y])));
  const lines = [[xLabel, ...series.map((s) => s.name)].map(csvCell).join(',')];
  for (const x of xs) lines.push([String(x), ...maps.map((m) => (m.has(x) ? String(m.get(x)) : ''))].join(','));
  return lines.join('\n') + '\n';
}

function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Parse what seriesToCsv wrote. */
export function csvToSeries(csv: string): { xLabel: string; series: Series[] } {
  const lines = csv.split('\n').filter((l) => l.length > 0);
  const header = splitCsvLine(lines[0]);
  const series: Series[] = header.slice(1).map((name) => ({ name, points: [] }));
  for (const line of lines.slice(1)) {
    const cells = splitCsvLine(line);
    const x = Number(cells[0]);
    cells.slice(1).forEach((c, i) => {
      if (c !== '') series[i].points.push({ x, y: Number(c) });
    });
  }
  return { xLabel: header[0], series };
}

export function seriesToJson(series: readonly Series[], meta: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...meta, series }, null, 2);
}

/** Stable colour per run id (same run → same colour in every chart and every session). */
export function colourFor(id: string, palette: readonly string[] = DEFAULT_PALETTE): string {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return palette[(h >>> 0) % palette.length];
}

export const DEFAULT_PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
