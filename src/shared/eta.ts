import type { RunDescription } from '../run/recorder';

/**
 * How long a run will take: before it starts, from past runs of the same experiment, method and T
 * (their record's duration over their steps), and while it runs, from its recent step times. Pure
 * functions (the dashboard header, the status bar and the progress notification all use them).
 */

/** Intervals between training steps averaged for the ETA. */
export const ETA_WINDOW = 20;

export interface StepTime {
  step: number;
  /** Wall time since the run started when the step ended (metrics.elapsedMs). */
  elapsedMs: number;
}

export interface Eta {
  /** Wall time per step over the recent window (evaluations included, as they recur). */
  msPerStep: number;
  remainingMs: number;
  /** How many step intervals the estimate averages. */
  basis: number;
}

/**
 * The ETA from the last `window` step intervals (between the ends of consecutive training steps):
 * their mean wall time times the steps left. Differences of end times leave out what comes before
 * the first step ends — start-up, the step-0 evaluation and diagnosis, the first step's warm-up
 * (kernel compilation, first allocations) — so a slow start does not inflate the ETA; undefined
 * until there is one interval to go by, or when nothing is left.
 */
export function etaFromSteps(times: readonly StepTime[], stepsPlanned: number, window = ETA_WINDOW): Eta | undefined {
  if (times.length < 2 || !(stepsPlanned > 0)) return undefined;
  const last = times[times.length - 1];
  const remaining = stepsPlanned - (last.step + 1);
  if (remaining < 0) return undefined;
  const from = Math.max(0, times.length - 1 - window);
  const first = times[from];
  const steps = last.step - first.step;
  if (!(steps > 0)) return undefined;
  const msPerStep = Math.max(0, last.elapsedMs - first.elapsedMs) / steps;
  return { msPerStep, remainingMs: msPerStep * remaining, basis: times.length - 1 - from };
}

/** A past run as the estimate before a start reads it (run.json: its summary when there is one). */
export interface PastRun {
  experiment: string;
  method: string;
  T: number;
  status: string;
  stepsDone: number;
  durationMs: number;
}

export interface LengthEstimate {
  steps: number;
  /** Undefined: no past run to go by (the first steps calibrate). */
  ms?: number;
  /** Where the minutes come from, in words. */
  basis: string;
}

/** The run's length before it starts: its steps, and the median ms/step of past runs of the same experiment, method and T. */
export function lengthBeforeStart(target: { experiment: string; method: string; T: number; steps: number }, past: readonly PastRun[]): LengthEstimate {
  const rates = past
    .filter((r) => r.experiment === target.experiment && r.method === target.method && r.T === target.T && r.stepsDone > 0 && r.durationMs > 0 && r.status !== 'running')
    .map((r) => r.durationMs / r.stepsDone)
    .sort((a, b) => a - b);
  if (!rates.length) return { steps: target.steps, basis: 'no past run of this experiment, method and T: estimating from the first steps' };
  const mid = rates.length >> 1;
  const msPerStep = rates.length % 2 ? rates[mid] : (rates[mid - 1] + rates[mid]) / 2;
  return { steps: target.steps, ms: msPerStep * target.steps, basis: `from ${rates.length} past run${rates.length > 1 ? 's' : ''} of ${target.experiment} · ${target.method} · T = ${target.T}` };
}

/** 0:42, 12:05, 1:02:03. */
export function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** "about 12 min", "about 40 s", "about 2.5 h". */
export function fmtAbout(ms: number): string {
  const s = ms / 1000;
  if (s < 90) return `about ${Math.max(1, Math.round(s))} s`;
  if (s < 5400) return `about ${Math.round(s / 60)} min`;
  return `about ${(s / 3600).toFixed(1)} h`;
}

/** A recorded run as the length estimate reads it: run.json's summary (stepsDone, durationMs) when it has them, else its times and steps. */
export function pastRunOf(d: RunDescription): PastRun | undefined {
  const sum = (d.summary ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const durationMs = num(sum.durationMs) ?? (d.finishedAt ? Date.parse(d.finishedAt) - Date.parse(d.startedAt) : undefined);
  const stepsDone = num(sum.stepsDone) ?? num(sum.steps_done) ?? (d.status === 'completed' ? d.steps : undefined);
  if (durationMs === undefined || !Number.isFinite(durationMs) || stepsDone === undefined || d.method === 'gradcheck') return undefined;
  return { experiment: d.experiment, method: d.method, T: d.T, status: d.status, stepsDone, durationMs };
}

/** Before the first step: the run's length in steps, and in minutes where past runs tell. */
export function lengthMessage(e: { experiment: string; method: string; T: number; steps: number; stepLabel: string }, past: readonly RunDescription[]): string {
  const est = lengthBeforeStart(e, past.map(pastRunOf).filter((r): r is PastRun => r !== undefined));
  return `${e.steps} ${e.stepLabel}s${est.ms !== undefined ? `, ${fmtAbout(est.ms)} (${est.basis})` : ` (${est.basis})`}`;
}
