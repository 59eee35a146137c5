/**
 * What the dashboard needs of a recorded run: the host replays a run from disk when the panel
 * opens (or reopens after a reload or a restart) and sends only what the charts draw — the
 * forward/backward traces of the last few steps, downsampled metrics and memory, the
 * diagnostics, the last log lines and how the run ended — not the whole record.
 */
import { Envelope, OverlaySeries } from '../protocol/messages';
import type { RunDescription } from '../run/recorder';
import { methodLabel } from '../core/gradients/catalog';
import { seriesOfEvent } from '../shared/seriesRegistry';

/** Series the overlay already names its own way (train loss as `loss`, eval metrics by name, the probes above). */
const OWN_NAMES = /^(train:loss|eval:.*|probe:(relErrExact|relErrBptt|rho))$/;

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

/** How a kind of event is thinned for replay: all kept, the latest n, or about n evenly spaced. */
type Keep = { all: true } | { last: number } | { spread: number };

/**
 * The subset of a run's events that redraws its dashboard, in recorded order. `events` may be a
 * stream (a recorded run read line by line): kinds kept as "the latest n" hold only n at a time.
 */
export function replaySelection(events: Iterable<Envelope>, opts: ReplayOptions = {}): Envelope[] {
  const traceSteps = opts.traceSteps ?? 5;
  const maxPoints = opts.maxPoints ?? 2000;
  // Event kinds not listed (progress, acks, ...) are not replayed.
  const rules: Record<string, Keep> = {
    'run/started': { all: true },
    'run/finished': { all: true },
    'run/failed': { all: true },
    'gradcheck/row': { all: true },
    'gradcheck/result': { all: true },
    'trace/forward': { last: traceSteps },
    'trace/backward': { last: traceSteps },
    'metrics/train': { spread: maxPoints },
    'metrics/eval': { spread: maxPoints },
    memory: { spread: maxPoints },
    diagnostics: { spread: 200 },
    probe: { spread: maxPoints },
    checkpoint: { all: true },
    log: { last: opts.maxLogs ?? 100 },
  };
  const bins = new Map<string, { at: number; e: Envelope }[]>();
  let at = 0;
  for (const e of events) {
    const key = e.type === 'metrics' ? `metrics/${e.kind === 'eval' ? 'eval' : 'train'}` : e.type;
    const n = at++;
    if (!Object.hasOwn(rules, key)) continue;
    const rule = rules[key];
    let bin = bins.get(key);
    if (!bin) bins.set(key, (bin = []));
    if ('last' in rule && rule.last <= 0) continue;
    bin.push({ at: n, e });
    if ('last' in rule && bin.length > 2 * rule.last) bin.splice(0, bin.length - rule.last);
  }
  const kept: { at: number; e: Envelope }[] = [];
  for (const [key, bin] of bins) {
    const rule = rules[key];
    kept.push(...('all' in rule ? bin : 'last' in rule ? bin.slice(Math.max(0, bin.length - rule.last)) : downsample(bin, rule.spread)));
  }
  return kept.sort((a, b) => a.at - b.at).map((k) => k.e);
}

/** The probe fields the Compare overlay offers, as `probe:<field>` (null where not probed). */
export const PROBE_OVERLAY_FIELDS = ['relErrExact', 'relErrBptt', 'rho'] as const;

/**
 * Curves of one recorded run for the Compare overlay: train loss, every eval metric, the gradient
 * probes' error and ρ(J), and (issue 19) every other series of the registry under its key
 * (`train:grad_norm`, `train:step_ms`, `diagnostics:rho`, `forward:finalRel`, `memory:peakBytes`, …).
 * Each point's wall time is its event's recorded time (`t`) since the run started (the run/started
 * event's `t`; else the first event's): one clock for every series.
 */
export function overlaySeries(d: RunDescription, events: Envelope[], maxPoints = 1000): OverlaySeries[] {
  const label = `${d.experiment} ${methodLabel(d.method)}${d.K !== null ? ` K=${d.K}` : ''} (${d.runId.slice(0, 15)})`;
  const byMetric = new Map<string, { step: number; v: number; ms: number }[]>();
  const add = (key: string, step: number, v: number, ms: number) => {
    let pts = byMetric.get(key);
    if (!pts) byMetric.set(key, (pts = []));
    pts.push({ step, v, ms });
  };
  const t0 = (events.find((e) => e.type === 'run/started') ?? events[0])?.t ?? 0;
  for (const e of events) {
    const ms = e.t - t0;
    if (e.type !== 'metrics') for (const [key, step, v] of seriesOfEvent(e)) if (!OWN_NAMES.test(key)) add(key, step, v, ms);
    if (e.type === 'probe') {
      for (const f of PROBE_OVERLAY_FIELDS) {
        const v = e[f];
        if (typeof v === 'number' && Number.isFinite(v)) add(`probe:${f}`, e.step, v, ms);
      }
      continue;
    }
    if (e.type !== 'metrics') continue;
    for (const [k, v] of Object.entries(e.values)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      if (e.kind === 'train' && k !== 'loss') {
        add(`train:${k}`, e.step, v, ms);
        continue;
      }
      add(e.kind === 'eval' ? k : 'loss', e.step, v, ms);
    }
  }
  const name = d.label ? `${d.label} (${d.runId.slice(0, 15)})` : label;
  return [...byMetric].map(([metric, pts]) => {
    const kept = downsample(pts, maxPoints);
    return { runId: d.runId, label: name, metric, points: kept.map((p) => [p.step, p.v] as [number, number]), wallMs: kept.map((p) => p.ms) };
  });
}
