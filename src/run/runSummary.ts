/**
 * A run's progress and final numbers in its run.json (`summary`), kept current by the recorder as
 * events are recorded, so a listing of hundreds of runs (`rbp runs`, the dashboard's runs table)
 * reads each run's record and never its events. A run recorded before this existed has no such
 * summary: its numbers are read from the END of its events.jsonl (a bounded tail), never the whole
 * log. No tfjs, no vscode: the CLI, the recorder and the extension host share it. It imports nothing
 * of src/run (the recorder imports it; a run's table row is runRows.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseWorkerEvent, type Envelope } from '../protocol/messages';

/** run.json `summary`: the shared contract of issue 19 (the run/finished summary's own keys sit beside these). */
export interface RunProgress {
  /** Optimisation steps done (the last train step's index + 1). */
  stepsDone: number;
  /** Steps the run was asked for (run/started `steps`); null before it started. */
  stepsPlanned: number | null;
  /** Time since the start, as of the last event recorded (the run's elapsedMs at its end). */
  durationMs: number;
  /** When the last train step was recorded (ISO). */
  lastStepAt: string | null;
  finalLoss: { step: number; value: number } | null;
  /** The experiment's headline evaluation metric at its last evaluation (see PRIMARY_EVAL). */
  finalEval: { step: number; name: string; value: number } | null;
  /** The last ρ(J) estimate (null where not estimable) and the verdict's level, at its step. */
  lastRho: { step: number; value: number | null; verdict: string | null } | null;
  /** The last gradient probe: the training method's relative error vs exact (null where NaN). */
  lastProbe: { step: number; relErrExact: number | null; method: string } | null;
}

/** The keys of RunProgress, in order (what the run/finished summary must not overwrite). */
export const PROGRESS_KEYS = ['stepsDone', 'stepsPlanned', 'durationMs', 'lastStepAt', 'finalLoss', 'finalEval', 'lastRho', 'lastProbe'] as const;

/**
 * The headline evaluation metric, first found in an eval event: the citation GNN's test accuracy,
 * the Hopfield retrieval's bit error, hypergrad's meta-loss; another (a module's) its first metric.
 */
export const PRIMARY_EVAL = ['test_acc', 'retrieval_bit_err', 'eval_meta_loss', 'val_acc', 'eval_l1'] as const;

export function emptyProgress(stepsPlanned: number | null = null): RunProgress {
  return { stepsDone: 0, stepsPlanned, durationMs: 0, lastStepAt: null, finalLoss: null, finalEval: null, lastRho: null, lastProbe: null };
}

const finite = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Fold one recorded event into the progress (in place). `startMs` is the run's start (for the
 * duration of events that carry no elapsed time). Returns whether a field changed that a reader
 * waits for (an evaluation, ρ(J), a probe, the end): the recorder writes run.json at once then.
 */
export function foldProgress(p: RunProgress, e: Envelope, startMs: number | undefined): boolean {
  switch (e.type) {
    case 'run/started':
      p.stepsPlanned = e.steps;
      return true;
    case 'metrics': {
      p.durationMs = Math.max(p.durationMs, e.elapsedMs);
      if (e.kind === 'train') {
        p.stepsDone = Math.max(p.stepsDone, e.step + 1);
        p.lastStepAt = new Date(e.t).toISOString();
        const loss = finite(e.values.loss);
        if (loss !== null) p.finalLoss = { step: e.step, value: loss };
        return false;
      }
      const name = PRIMARY_EVAL.find((k) => finite(e.values[k]) !== null) ?? Object.keys(e.values).find((k) => finite(e.values[k]) !== null);
      if (name !== undefined) p.finalEval = { step: e.step, name, value: e.values[name] };
      return true;
    }
    case 'diagnostics':
      p.lastRho = { step: e.step, value: finite(e.rho), verdict: e.verdict.level };
      return true;
    case 'probe':
      p.lastProbe = { step: e.step, relErrExact: finite(e.relErrExact), method: e.method };
      return true;
    case 'run/finished':
    case 'run/failed':
      p.durationMs = Math.max(p.durationMs, e.elapsedMs);
      return true;
    default:
      if (startMs !== undefined) p.durationMs = Math.max(p.durationMs, e.t - startMs);
      return false;
  }
}

/** A run.json `summary` that holds the progress fields (runs recorded before them do not). */
export function progressOf(summary: unknown): RunProgress | undefined {
  if (typeof summary !== 'object' || summary === null) return undefined;
  const s = summary as Partial<RunProgress>;
  if (typeof s.stepsDone !== 'number' || typeof s.durationMs !== 'number') return undefined;
  const p = emptyProgress(typeof s.stepsPlanned === 'number' ? s.stepsPlanned : null);
  for (const k of PROGRESS_KEYS) if (s[k] !== undefined) (p as unknown as Record<string, unknown>)[k] = s[k];
  return p;
}

/** How much of the end of events.jsonl an old run's summary is read from. */
export const TAIL_BYTES = 512 * 2 ** 10;

/** The kind of an events.jsonl line the tail read wants, from its text alone (no parse): undefined for others. */
function tailKind(line: string): string | undefined {
  const m = /"type":"([a-z/]+)"/.exec(line);
  if (!m) return undefined;
  const t = m[1];
  if (t === 'metrics') return line.includes('"kind":"eval"') ? 'eval' : 'train';
  if (t === 'run/finished' || t === 'run/failed') return 'end';
  return t === 'diagnostics' || t === 'probe' ? t : undefined;
}

/**
 * The progress of a run recorded without one in run.json, from the last `maxBytes` of its
 * events.jsonl (the first, partial line dropped), read from its end: only the latest train step,
 * evaluation, diagnostics, probe and end are parsed (and the last line, for the duration), then
 * folded in recorded order. What lies before the tail stays null.
 */
export function progressFromTail(dir: string, stepsPlanned: number | null, startMs: number | undefined, maxBytes = TAIL_BYTES): RunProgress {
  const p = emptyProgress(stepsPlanned);
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, 'events.jsonl'), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return p;
  }
  let text: string;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return p;
    const start = Math.max(0, st.size - maxBytes);
    const buf = Buffer.alloc(st.size - start);
    const n = fs.readSync(fd, buf, 0, buf.length, start);
    text = buf.subarray(0, n).toString('utf8');
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
  } finally {
    fs.closeSync(fd);
  }
  const lines = text.split('\n');
  const want = new Set(['train', 'eval', 'diagnostics', 'probe', 'end', 'last']);
  const picked: { i: number; e: Envelope }[] = [];
  for (let i = lines.length - 1; i >= 0 && want.size; i--) {
    if (!lines[i].trim()) continue;
    const kind = tailKind(lines[i]);
    const wanted = (kind !== undefined && want.has(kind)) || want.has('last');
    if (!wanted) continue;
    let e: Envelope;
    try {
      e = parseWorkerEvent(JSON.parse(lines[i]));
    } catch {
      continue; // a torn or foreign line: skipped, as the full reader does
    }
    want.delete('last');
    if (kind !== undefined) want.delete(kind);
    picked.push({ i, e });
  }
  for (const { e } of picked.reverse()) foldProgress(p, e, startMs);
  return p;
}
