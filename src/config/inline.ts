/**
 * What RBP Lab writes at the end of config lines after a run or a gradient check (vscode-free;
 * the extension turns these into decorations and hovers):
 *   at the T field (num_update / num_prop / num_sgd_step): steps to tolerance, final residual, ρ(J);
 *   at truncate_iter: gradient error and cosine vs exact at this K, peak memory vs TBPTT's;
 *   at grad_method: the verdict, and after a training run with gradient probes the last probe's
 *   error of the training gradient against exact (and BPTT) and its step.
 */
import type { RunnerName } from './schema';
import { EXPERIMENTS } from '../experiments/catalog';
import { fmt } from '../core/format';
import { methodLabel, parseMethodName, takesK } from '../core/gradients/catalog';
import { GOOD_COS, GOOD_REL_ERR } from '../shared/compareSummary';
import type { GradcheckReport } from '../run/gradcheck';
import type { VerdictInfo, Envelope } from '../protocol/messages';

export interface InlineNote {
  /** Dotted config path the note belongs to, e.g. model.truncate_iter. */
  path: string;
  text: string;
  level: 'ok' | 'warn' | 'bad' | 'info';
  /** Longer markdown for the hover. */
  hover: string;
}

const MiB = 2 ** 20;

export function notesFromGradcheck(runner: RunnerName, method: string, K: number, r: GradcheckReport): InlineNote[] {
  const notes: InlineNote[] = [];
  const tPath = `model.${EXPERIMENTS[runner].tField}`;
  const conv = r.forward.stepsToTol !== null;
  notes.push({
    path: tPath,
    level: conv ? 'ok' : 'warn',
    text: `${conv ? `✓ ${r.forward.stepsToTol} steps to ${r.forward.tol}` : `✗ not below ${r.forward.tol} in ${r.forward.steps} steps`} · residual ${fmt(r.forward.finalRel)} · ρ(J) = ${fmt(r.rho)}`,
    hover: `**Forward convergence** (T = ${r.T}): relative residual ${fmt(r.forward.finalRel)} after ${r.forward.steps} steps; ${conv ? `below ${r.forward.tol} after ${r.forward.stepsToTol} steps` : `never below ${r.forward.tol}`}. Spectral radius of J at the fixed point: ${fmt(r.rho, 3)}.`,
  });
  const m = takesK(method) ? parseMethodName(method) : 'Neumann_RBP';
  const row = r.rows.find((x) => x.method === m && x.K === K) ?? r.rows.find((x) => x.method === 'Neumann_RBP' && x.K === K);
  const tb = r.rows.find((x) => x.method === 'TBPTT' && x.K === K);
  if (row) {
    const good = row.relErrExact < GOOD_REL_ERR && row.cosExact > GOOD_COS;
    notes.push({
      path: 'model.truncate_iter',
      level: good ? 'ok' : row.cosExact > 0.9 ? 'warn' : 'bad',
      text: `K=${K} ${methodLabel(row.method)}: rel err ${fmt(row.relErrExact)}, cos ${row.cosExact.toFixed(4)} vs exact · peak ${(row.peakBytes / MiB).toFixed(0)} MiB${tb && tb !== row ? ` vs TBPTT ${(tb.peakBytes / MiB).toFixed(0)} MiB` : ''}`,
      hover: `**Gradient at K = ${K}** (${methodLabel(row.method)}): relative error ${fmt(row.relErrExact, 3)} and cosine ${row.cosExact.toFixed(6)} against the exact implicit gradient; against BPTT ${fmt(row.relErrBptt, 3)} / ${row.cosBptt.toFixed(6)}. Time ${row.timeMs.toFixed(0)} ms, peak tensor memory ${(row.peakBytes / MiB).toFixed(1)} MiB${tb ? ` (TBPTT at this K: ${(tb.peakBytes / MiB).toFixed(1)} MiB, ${tb.timeMs.toFixed(0)} ms)` : ''}.`,
    });
  }
  notes.push(verdictNote(r.verdict, r.from ? `At step ${r.from.step} of run ${r.from.runId}` : undefined));
  return notes;
}

/** The verdict at grad_method; `asOf` says where it was measured ('As of step 40'; a gradient check of the config's own weights: none). */
export function verdictNote(v: VerdictInfo, asOf?: string): InlineNote {
  return { path: 'model.grad_method', level: v.level, text: asOf ? `${asOf}: ${v.message}` : v.message, hover: `**Verdict${asOf ? ` (${asOf.toLowerCase()})` : ''}**: ${v.message}` };
}

/** Notes from a recorded training run: forward convergence of its last step, its last diagnostics, its backward residual. */
export function notesFromRun(runner: RunnerName, events: readonly Envelope[]): InlineNote[] {
  const notes: InlineNote[] = [];
  const last = <T extends Envelope['type']>(t: T) => [...events].reverse().find((e) => e.type === t) as Extract<Envelope, { type: T }> | undefined;
  const fwd = last('trace/forward');
  const diag = last('diagnostics');
  const bwd = last('trace/backward');
  const started = last('run/started');
  if (fwd) {
    const tol = 1e-4;
    const idx = fwd.rel.findIndex((x) => x !== null && x < tol);
    const final = fwd.rel[fwd.rel.length - 1];
    notes.push({
      path: `model.${EXPERIMENTS[runner].tField}`,
      level: fwd.diverged ? 'bad' : idx >= 0 ? 'ok' : 'warn',
      text: `${fwd.diverged ? '✗ diverged' : idx >= 0 ? `✓ ${idx + 1} steps to ${tol}` : `✗ not below ${tol}`} · residual ${final === null ? 'NaN' : fmt(final)}${diag ? ` · ρ(J) = ${diag.rho === null ? 'NaN' : fmt(diag.rho)}` : ''} (last run, step ${fwd.step})`,
      hover: `**Forward convergence in the last run** (${started ? `${started.method}, ${started.runId}` : ''}): ${fwd.rel.length} steps, final relative residual ${final === null ? 'NaN' : fmt(final, 3)}.`,
    });
  }
  if (bwd) {
    const res = bwd.residual.filter((x): x is number => x !== null);
    if (res.length) {
      const r = res[res.length - 1];
      notes.push({
        path: 'model.truncate_iter',
        level: r < 1e-3 ? 'ok' : r < 1e-1 ? 'warn' : 'bad',
        text: `${methodLabel(bwd.method)}: adjoint residual ${fmt(r)} after ${res.length} iterations (last run)`,
        hover: `**Adjoint residual** ||z − Jᵀz − g|| / ||g|| of ${methodLabel(bwd.method)} at the last training step: ${fmt(r, 3)}. Run a gradient check for the error against the exact gradient.`,
      });
    }
  }
  const probe = last('probe');
  if (probe) notes.push(probeNote(probe));
  if (diag) notes.push(verdictNote(diag.verdict, `As of ${started?.stepLabel ?? 'step'} ${diag.step}`));
  return notes;
}

/** The last gradient probe of a run: how far the gradient it trains with is from exact (and BPTT), at which step. */
export function probeNote(p: Extract<Envelope, { type: 'probe' }>): InlineNote {
  const what = `${methodLabel(p.method)}${p.K !== null ? `(${p.K})` : ''}`;
  const good = p.relErrExact < GOOD_REL_ERR && p.cosExact > GOOD_COS;
  return {
    path: 'model.grad_method',
    level: !Number.isFinite(p.relErrExact) ? 'bad' : good ? 'ok' : p.cosExact > 0.9 ? 'warn' : 'bad',
    text: `${what} gradient: rel err ${fmt(p.relErrExact)} vs exact${p.relErrBptt !== null ? `, ${fmt(p.relErrBptt)} vs BPTT` : ''} (last run, step ${p.step})`,
    hover: `**Gradient probe at step ${p.step}** (the last of the run): the ${what} gradient the run trains with has relative error ${fmt(p.relErrExact, 3)} and cosine ${p.cosExact.toFixed(6)} against the exact implicit gradient${p.exactConverged ? '' : ' (whose adjoint solve did not converge)'}${p.relErrBptt !== null && p.cosBptt !== null ? `; against BPTT ${fmt(p.relErrBptt, 3)} / ${p.cosBptt.toFixed(6)}` : ''}. ρ(J) = ${p.rho === null ? 'NaN' : fmt(p.rho, 3)}; the probe took ${Math.round(p.ms)} ms.`,
  };
}
