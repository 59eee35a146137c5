/**
 * What the dashboard's charts hold and draw, read from the Chart.js objects in the page
 * (`Chart.getChart(canvas)`), and what they should draw, computed from the recorded events
 * independently of the webview's own model. A blank or stale chart, a shifted axis or a wrong
 * value fails here; counting inked pixels passed an empty chart (its axes and grid alone).
 */
import assert from 'node:assert/strict';
import type { Frame, Page } from 'playwright-core';
import type { Diagnostics, Envelope, ForwardTrace, BackwardTraceMsg, MemoryMsg, Metrics, GradcheckResultMsg, ProbeMsg } from '../../src/protocol/messages';

export type Pt = [number, number | null];

export interface ChartDataset {
  label: string;
  visible: boolean;
  /** The y axis the dataset is drawn against. */
  axis: string;
  /** The dataset's data as the chart holds it. */
  data: Pt[];
  /** Each drawn point read back from its pixel position through the chart's scales (null: a gap). */
  drawn: (Pt | null)[];
  /** Every drawn point lies inside the chart area. */
  inArea: boolean;
  logY: boolean;
  /** The y axis' extent (for the tolerance of a linear axis). */
  ySpan: number;
  xSpan: number;
}

/** Each dataset of the chart on `<canvas id=canvasId>`; null when the canvas has no chart. */
export function readChart(page: Page | Frame, canvasId: string): Promise<ChartDataset[] | null> {
  return page.evaluate((id) => {
    interface El { x: number; y: number; skip?: boolean }
    interface Scale { type: string; min: number; max: number; getValueForPixel(p: number): number }
    interface ChartLike {
      data: { datasets: { label?: string; data: { x: number; y: number | null }[] }[] };
      chartArea: { left: number; right: number; top: number; bottom: number };
      scales: Record<string, Scale>;
      getDatasetMeta(i: number): { data: El[]; xAxisID: string; yAxisID: string };
      isDatasetVisible(i: number): boolean;
    }
    const C = (window as unknown as { Chart?: { getChart(c: unknown): ChartLike | undefined } }).Chart;
    const chart = C?.getChart(document.getElementById(id));
    if (!chart) return null;
    const a = chart.chartArea;
    return chart.data.datasets.map((ds, i) => {
      const meta = chart.getDatasetMeta(i);
      const xs = chart.scales[meta.xAxisID];
      const ys = chart.scales[meta.yAxisID];
      const inside = (e: El) => e.x >= a.left - 0.5 && e.x <= a.right + 0.5 && e.y >= a.top - 0.5 && e.y <= a.bottom + 0.5;
      return {
        label: ds.label ?? '',
        visible: chart.isDatasetVisible(i),
        axis: meta.yAxisID,
        data: ds.data.map((p) => [p.x, p.y] as [number, number | null]),
        drawn: meta.data.map((e) => (e.skip ? null : ([xs.getValueForPixel(e.x), ys.getValueForPixel(e.y)] as [number, number]))),
        inArea: meta.data.every((e) => e.skip || inside(e)),
        logY: ys.type === 'logarithmic',
        ySpan: ys.max - ys.min,
        xSpan: xs.max - xs.min,
      };
    });
  }, canvasId);
}

export interface Want {
  /** Checked when given. */
  label?: string;
  points: Pt[];
  axis?: string;
}

/**
 * The chart holds exactly `want` (same datasets in the same order, same points) and drew every
 * point where its value is: read back from the pixel, within `rtol` (relative on a log axis, of
 * the axis' extent on a linear one).
 */
export function assertDrawn(got: ChartDataset[] | null, want: Want[], what: string, opts: { rtol?: number; inArea?: boolean } = {}): void {
  const rtol = opts.rtol ?? 1e-6;
  assert.ok(got, `${what}: no chart on the canvas`);
  assert.ok(want.length > 0, `${what}: nothing expected (the recorded run has no data for it)`);
  assert.equal(got.length, want.length, `${what}: ${got.length} datasets drawn, ${want.length} expected (${got.map((d) => d.label).join(' | ')})`);
  want.forEach((w, i) => {
    const g = got[i];
    const at = `${what}, dataset ${i}${w.label !== undefined ? ` '${w.label}'` : ''}`;
    if (w.label !== undefined) assert.equal(g.label, w.label, `${at}: label`);
    if (w.axis !== undefined) assert.equal(g.axis, w.axis, `${at}: y axis`);
    assert.ok(g.visible, `${at}: hidden`);
    assert.deepEqual(g.data, w.points, `${at}: data`);
    assert.equal(g.drawn.length, w.points.length, `${at}: ${g.drawn.length} points drawn for ${w.points.length}`);
    if (opts.inArea ?? true) assert.ok(g.inArea, `${at}: a point is drawn outside the chart area`);
    w.points.forEach(([x, y], k) => {
      const d = g.drawn[k];
      if (y === null) return assert.equal(d, null, `${at}, point ${k}: a gap is drawn`);
      assert.ok(d, `${at}, point ${k}: not drawn`);
      assert.ok(Math.abs(d[0] - x) <= rtol * Math.max(g.xSpan, Math.abs(x)), `${at}, point ${k}: drawn at x ${d[0]}, value ${x}`);
      const tol = g.logY ? rtol * Math.abs(y) : rtol * Math.max(g.ySpan, Math.abs(y));
      assert.ok(Math.abs(d[1]! - y) <= tol, `${at}, point ${k}: drawn at y ${d[1]}, value ${y}`);
    });
  });
}

const MiB = 2 ** 20;
/** Where a log axis draws a value: zeros at the 1e-12 floor, non-finite values as gaps. */
const onLog = (v: number | null): number | null => (v === null || !Number.isFinite(v) ? null : Math.max(v, 1e-12));

/** The dashboard keeps the traces of the latest six steps. */
const TRACES = 6;

/** What the run view's five charts should draw for the events a panel was sent. */
export function expectedRunCharts(events: Envelope[]): Record<'forward' | 'backward' | 'metrics' | 'eval' | 'memory' | 'probe' | 'rho', Want[]> {
  const of = <T extends Envelope['type']>(t: T) => events.filter((e) => e.type === t) as Extract<Envelope, { type: T }>[];
  const fwd = (of('trace/forward') as unknown as ForwardTrace[]).slice(-TRACES);
  const bwd = (of('trace/backward') as unknown as BackwardTraceMsg[]).slice(-TRACES);
  const metrics = of('metrics') as unknown as Metrics[];
  const memory = of('memory') as unknown as MemoryMsg[];
  const probes = of('probe') as unknown as ProbeMsg[];
  const probed = probes.length ? `${probes[0].method.replace('_RBP', '-RBP')}${probes[0].K !== null ? `(${probes[0].K})` : ''}` : '';
  const stepLabel = (events.find((e) => e.type === 'run/started') as { stepLabel?: string } | undefined)?.stepLabel ?? 'step';
  const series = (kind: 'train' | 'eval', key: string): Pt[] => metrics.filter((m) => m.kind === kind && Number.isFinite(m.values[key])).map((m) => [m.step, m.values[key]]);
  // Datasets in the order their first point arrived: the loss, and each evaluation metric.
  const keys = [...new Set(metrics.flatMap((m) => Object.keys(m.values).filter((k) => m.kind === 'eval' || k === 'loss').map((k) => `${m.kind}:${k}`)))];
  return {
    forward: fwd.map((tr, i) => ({ label: i === fwd.length - 1 ? `${stepLabel} ${tr.step}` : i === 0 ? 'earlier (faded)' : '', points: tr.rel.map((v, t) => [t + 1, onLog(v)]) })),
    backward: bwd.flatMap((tr, i) => {
      const latest = i === bwd.length - 1;
      const out: Want[] = [];
      if (tr.residual.some((v) => v !== null)) out.push({ label: latest ? `adjoint residual (${tr.step})` : '', points: tr.residual.map((v, k) => [k + 1, onLog(v)]) });
      if (tr.termNorm.some((v) => v !== null)) out.push({ label: latest ? `term norm ‖z_k‖/‖g‖ (${tr.step})` : '', points: tr.termNorm.map((v, k) => [k + 1, onLog(v)]) });
      return out;
    }),
    // The training loss and the evaluation metrics on charts of their own (their scales differ).
    metrics: keys.filter((key) => key === 'train:loss').map(() => ({ label: 'loss', axis: 'y', points: series('train', 'loss') })),
    eval: keys.filter((key) => key.startsWith('eval:')).map((key) => ({ label: key.slice(5), axis: 'y', points: series('eval', key.slice(5)) })),
    memory: [
      { label: 'gradient peak (above live)', points: memory.map((m) => [m.step, m.peakBytes / MiB] as Pt) },
      { label: 'live tensors', points: memory.map((m) => [m.step, m.liveBytes / MiB] as Pt) },
    ],
    // Gradient error over training: the probes' error vs exact, and vs BPTT where probed.
    probe: [
      ...(probes.length ? [{ label: `${probed} vs exact`, points: probes.map((p) => [p.step, onLog(p.relErrExact)] as Pt) }] : []),
      ...(probes.some((p) => p.relErrBptt !== null) ? [{ label: `${probed} vs BPTT`, points: probes.map((p) => [p.step, onLog(p.relErrBptt)] as Pt) }] : []),
    ],
    // ρ(J) over training: every diagnosis (step 0 and each evaluation), NaN as a gap.
    rho: [{ label: 'ρ(J)', points: (of('diagnostics') as unknown as Diagnostics[]).map((d) => [d.step, d.rho] as Pt) }],
  };
}

/** What the comparison view's five charts should draw for a gradient check's report. */
export function expectedCompareCharts(report: GradcheckResultMsg['report']): Record<'error' | 'cosine' | 'memory' | 'time' | 'residual', Want[]> {
  const label = (m: string) => m.replace('_RBP', '-RBP');
  const byMethod = report.methods.map((m) => ({ m, rows: report.rows.filter((r) => r.method === m && r.K !== null).sort((a, b) => a.K! - b.K!) })).filter((x) => x.rows.length);
  const bptt = report.rows.find((r) => r.method === 'BPTT');
  const Ks = [...new Set(report.rows.filter((r) => r.K !== null).map((r) => r.K!))].sort((a, b) => a - b);
  const ref = (l: string, y: number | null | undefined): Want[] => (y === null || y === undefined ? [] : [{ label: l, points: [[Ks[0], y], [Ks[Ks.length - 1], y]] }]);
  const pts = (rows: typeof report.rows, f: (r: (typeof report.rows)[number]) => number | null): Pt[] => rows.map((r) => [r.K!, f(r)]);
  return {
    error: [
      ...byMethod.flatMap(({ m, rows }) => [
        { label: `${label(m)} vs exact`, points: pts(rows, (r) => onLog(r.relErrExact)) },
        { label: `${label(m)} vs BPTT`, points: pts(rows, (r) => onLog(r.relErrBptt)) },
      ]),
      ...ref('BPTT vs exact', bptt && onLog(bptt.relErrExact)),
    ],
    cosine: byMethod.flatMap(({ m, rows }) => [
      { label: `${label(m)} vs exact`, points: pts(rows, (r) => r.cosExact) },
      { label: `${label(m)} vs BPTT`, points: pts(rows, (r) => r.cosBptt) },
    ]),
    memory: [...byMethod.map(({ m, rows }) => ({ label: label(m), points: pts(rows, (r) => r.peakBytes / MiB) })), ...ref(`BPTT (all ${report.T} steps)`, bptt && bptt.peakBytes / MiB)],
    time: [...byMethod.map(({ m, rows }) => ({ label: label(m), points: pts(rows, (r) => r.timeMs) })), ...ref('BPTT', bptt?.timeMs)],
    residual: byMethod.flatMap(({ m, rows }) => rows.filter((r) => r.residualTrace.some((v) => v !== null)).map((r) => ({ label: `${label(m)} K=${r.K}`, points: r.residualTrace.map((v, k) => [k + 1, onLog(v)] as Pt) }))),
  };
}
