/**
 * What the dashboard needs of a recorded run: the host replays a run from disk when the panel
 * opens (or reopens after a reload or a restart) and sends only what the charts draw — the
 * forward/backward traces of the last few steps, downsampled metrics and memory, the
 * diagnostics, the last log lines and how the run ended — not the whole record.
 */
import { Envelope, OverlaySeries } from '../protocol/messages';
import type { RunDescription } from '../run/recorder';

export interface ReplayOptions {
  /** Forward/backward traces of this many latest steps (default 5). */
  traceSteps?: number;
  /** At most this many metrics events per kind, and memory events (default 2000). */
  maxPoints?: number;
  /** Last log lines kept (default 100). */
  maxLogs?: number;
}

/** Keep about `max` of `xs`, evenly spaced, always including the first and the last. */
export function downsample<T>(xs: T[], max: number): T[] {
  if (xs.length <= max || max < 2) return xs.slice();
  const out: T[] = [];
  const stride = (xs.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(xs[Math.round(i * stride)]);
  return out;
}

/** The subset of a run's events that redraws its dashboard, in recorded order. */
export function replaySelection(events: Envelope[], opts: ReplayOptions = {}): Envelope[] {
  const traceSteps = opts.traceSteps ?? 5;
  const maxPoints = opts.maxPoints ?? 2000;
  const maxLogs = opts.maxLogs ?? 100;
  const keep = new Set<Envelope>();
  const fwd: Envelope[] = [];
  const bwd: Envelope[] = [];
  const train: Envelope[] = [];
  const evals: Envelope[] = [];
  const mem: Envelope[] = [];
  const diag: Envelope[] = [];
  const logs: Envelope[] = [];
  for (const e of events) {
    switch (e.type) {
      case 'run/started':
      case 'run/finished':
      case 'run/failed':
      case 'gradcheck/row':
      case 'gradcheck/result':
        keep.add(e);
        break;
      case 'trace/forward':
        fwd.push(e);
        break;
      case 'trace/backward':
        bwd.push(e);
        break;
      case 'metrics':
        (e.kind === 'eval' ? evals : train).push(e);
        break;
      case 'memory':
        mem.push(e);
        break;
      case 'diagnostics':
        diag.push(e);
        break;
      case 'log':
        logs.push(e);
        break;
    }
  }
  for (const e of fwd.slice(-traceSteps)) keep.add(e);
  for (const e of bwd.slice(-traceSteps)) keep.add(e);
  for (const e of downsample(train, maxPoints)) keep.add(e);
  for (const e of downsample(evals, maxPoints)) keep.add(e);
  for (const e of downsample(mem, maxPoints)) keep.add(e);
  for (const e of downsample(diag, 200)) keep.add(e);
  for (const e of logs.slice(-maxLogs)) keep.add(e);
  return events.filter((e) => keep.has(e));
}

/** Curves of one recorded run for the Compare overlay (train loss and every eval metric). */
export function overlaySeries(d: RunDescription, events: Envelope[], maxPoints = 1000): OverlaySeries[] {
  const label = `${d.experiment} ${d.method}${d.K !== null ? ` K=${d.K}` : ''} (${d.runId.slice(0, 15)})`;
  const byMetric = new Map<string, { step: number; v: number; ms: number }[]>();
  for (const e of events) {
    if (e.type !== 'metrics') continue;
    for (const [k, v] of Object.entries(e.values)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      if (e.kind === 'train' && k !== 'loss') continue;
      const key = e.kind === 'eval' ? k : 'loss';
      let pts = byMetric.get(key);
      if (!pts) byMetric.set(key, (pts = []));
      pts.push({ step: e.step, v, ms: e.elapsedMs });
    }
  }
  const name = d.label ? `${d.label} (${d.runId.slice(0, 15)})` : label;
  return [...byMetric].map(([metric, pts]) => {
    const kept = downsample(pts, maxPoints);
    return { runId: d.runId, label: name, metric, points: kept.map((p) => [p.step, p.v] as [number, number]), wallMs: kept.map((p) => p.ms) };
  });
}
