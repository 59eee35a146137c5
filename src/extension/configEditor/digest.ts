/**
 * A run as the config editor keeps it (the last event of each kind, not the history) and the
 * notes and residual series it gives a config: from a training run's traces and diagnostics, or
 * from a gradient check's rows.
 */
import type { ParsedConfig } from '../../config/load';
import { RUNNERS, type RunnerName } from '../../config/schema';
import { notesFromGradcheck, notesFromRun, type InlineNote } from '../../config/inline';
import type { Envelope, VerdictInfo } from '../../protocol/messages';
import { adviceFor, type Advice } from '../../shared/advice';
import { methodLabel, parseMethodName, takesK } from '../../core/gradients/catalog';

/** What the notes and charts need of a run: the last event of each kind (a long run's history is not kept) and the gradient-check rows done. */
export interface RunDigest {
  events: Envelope[];
  rows: number;
}

const SKIP = new Set<string>(['metrics', 'memory', 'log']);

export function digestEvents(events: readonly Envelope[]): RunDigest {
  const d: RunDigest = { events: [], rows: 0 };
  for (const e of events) foldEvent(d, e);
  return d;
}

/** Fold one more event into a digest (in place). */
export function foldEvent(d: RunDigest, e: Envelope): void {
  if (SKIP.has(e.type)) return;
  if (e.type === 'gradcheck/row') {
    d.rows++;
    return;
  }
  d.events = [...d.events.filter((x) => x.type !== e.type), e];
}

export interface ConfigModel {
  runner: RunnerName;
  method: string;
  K: number;
}

export function configModel(parsed: ParsedConfig): ConfigModel | undefined {
  const runner = parsed.config.runner as RunnerName;
  if (!(RUNNERS as readonly string[]).includes(runner)) return undefined;
  const m = (parsed.config.model ?? {}) as Record<string, unknown>;
  const K = typeof m.truncate_iter === 'number' && Number.isInteger(m.truncate_iter) && m.truncate_iter >= 1 ? m.truncate_iter : 20;
  return { runner, method: typeof m.grad_method === 'string' ? m.grad_method : 'BPTT', K };
}

/** The K of a report closest to the config's K (the config's own when the report has it). */
export function nearestK(Ks: readonly number[], K: number): number | undefined {
  return [...Ks].sort((a, b) => Math.abs(a - K) - Math.abs(b - K) || a - b)[0];
}

export interface RunNotes {
  notes: InlineNote[];
  /** Forward relative residual per solver step of the last forward pass. */
  forward?: (number | null)[];
  /** Adjoint residual per backward iteration (the run's last backward pass, or the gradient check's row). */
  backward?: { label: string; values: (number | null)[] };
  kind: 'train' | 'gradcheck';
  status: 'running' | 'completed' | 'cancelled' | 'failed';
}

/** Notes (and chart data) for a config from one of its runs, given as compact events. */
export function notesForRun(cfg: ConfigModel, digest: RunDigest): RunNotes {
  const events = digest.events;
  const find = <T extends Envelope['type']>(t: T) => events.find((e) => e.type === t) as Extract<Envelope, { type: T }> | undefined;
  const started = find('run/started');
  const result = find('gradcheck/result');
  const failed = find('run/failed');
  const finished = find('run/finished');
  const status: RunNotes['status'] = failed ? 'failed' : finished ? finished.status : 'running';
  const kind = started?.method === 'gradcheck' || result ? 'gradcheck' : 'train';
  const out: RunNotes = { notes: [], kind, status };
  if (result) {
    const r = result.report;
    const K = nearestK(r.Ks, cfg.K) ?? cfg.K;
    out.notes = notesFromGradcheck(cfg.runner, cfg.method, K, r);
    const m = takesK(cfg.method) ? parseMethodName(cfg.method) : 'Neumann_RBP';
    const row = r.rows.find((x) => x.method === m && x.K === K && x.residualTrace.some((v) => v !== null)) ?? r.rows.find((x) => x.K === K && x.residualTrace.some((v) => v !== null));
    if (row) out.backward = { label: `${methodLabel(row.method)} adjoint residual, K = ${K} (gradient check)`, values: row.residualTrace };
  } else if (kind === 'train') {
    out.notes = notesFromRun(cfg.runner, events);
    const fwd = find('trace/forward');
    if (fwd) out.forward = fwd.rel;
    const bwd = find('trace/backward');
    if (bwd && bwd.residual.some((v) => v !== null)) out.backward = { label: `${methodLabel(bwd.method)} adjoint residual per iteration (step ${bwd.step + 1})`, values: bwd.residual };
  } else if (status === 'running') {
    out.notes = [{ path: 'model.grad_method', level: 'info', text: `⋯ gradient check running (${digest.rows}/${started?.steps ?? '?'} rows)`, hover: '**Gradient check** in progress.' }];
  }
  if (failed) out.notes.push({ path: 'model.grad_method', level: 'bad', text: `✗ last ${kind === 'gradcheck' ? 'gradient check' : 'run'} failed (${failed.kind}): ${failed.reason.slice(0, 160)}`, hover: `**Last ${kind === 'gradcheck' ? 'gradient check' : 'run'} failed** (${failed.kind}): ${failed.reason}` });
  else if (status === 'running' && kind === 'train' && out.notes.length) {
    // Mark live values as such.
    out.notes = out.notes.map((n) => ({ ...n, text: n.text.replace('(last run', '(running') }));
  }
  return out;
}

/** A run's last verdict, the step it was measured at, and the config edits it advises (src/shared/advice.ts). */
export interface RunVerdict {
  runId: string;
  step: number;
  /** Where it was measured, in words: 'step 40', 'epoch 19', 'the initial weights' (a gradient check), 'step 3 of run …'. */
  asOf: string;
  verdict: VerdictInfo;
  advice: Advice[];
}

export function runVerdict(digest: RunDigest): RunVerdict | undefined {
  const started = digest.events.find((e) => e.type === 'run/started') as Extract<Envelope, { type: 'run/started' }> | undefined;
  const d = digest.events.find((e) => e.type === 'diagnostics') as Extract<Envelope, { type: 'diagnostics' }> | undefined;
  const r = digest.events.find((e) => e.type === 'gradcheck/result') as Extract<Envelope, { type: 'gradcheck/result' }> | undefined;
  const verdict = d?.verdict ?? r?.report.verdict;
  if (!started || !verdict) return undefined;
  // A gradient check judges the config's own weights (step 0), or a checkpoint's.
  const step = d ? d.step : (started.from?.step ?? 0);
  const asOf = d ? `${started.stepLabel} ${d.step}` : started.from ? `step ${started.from.step} of run ${started.from.runId}` : 'the initial weights';
  return { runId: started.runId, step, asOf, verdict, advice: adviceFor({ runner: started.runner, config: started.config, verdict }) };
}
