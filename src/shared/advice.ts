/**
 * What to do about a verdict, as config edits: `{ key, value, label }` naming a field of the run's
 * own experiment schema (test/shared/advice.test.ts checks every key and value any advice can give
 * against each runner's schema). The dashboard shows each as a button and the config editor as a
 * quick fix; both apply the same edit. Only remedies measured to help are offered (README,
 * "Verdicts that act", with the commands):
 *  - forward pass not converged while ρ(J) < 1 ('warn'): more forward steps T, enough for the
 *    residual to fall below the tolerance at rate ρ (with a margin), and, for the methods that work
 *    at the last forward state (the RBP family), Anderson acceleration of the forward solver;
 *  - ρ(J) ≥ 1 on a citation graph with sum aggregation: `aggregate_type: avg` (ρ 1.85 → 1.11 on
 *    Cora, cosines with BPTT 0.02 → 0.46);
 * and nothing else: where no edit was measured to help (ρ(J) ≥ 1 elsewhere), the list is empty
 * and the verdict says so. Every piece of advice raises convergence; none lowers T or K, so two
 * never pull one setting two ways (the test checks that too).
 */
import { EXPERIMENTS } from '../experiments/catalog';
import { SCHEMA, isRunnerName } from '../config/schema';
import { methodInfo } from '../core/gradients/catalog';
import { RHO_NOT_CONTRACTIVE } from '../core/verdictBands';

/** One config edit: set `key` (section.field) to `value`. */
export interface Advice {
  key: string;
  value: string | number;
  /** What the button / quick fix says. */
  label: string;
}

export interface AdviceInput {
  /** run/started.runner */
  runner: string;
  /** The run's config (run/started.config): sections of the authors' schema. */
  config: Record<string, unknown>;
  verdict: { level: 'ok' | 'warn' | 'bad'; rho: number; forwardConverged: boolean; finalRelResidual: number };
}

/** The verdict's tolerance on the forward pass's relative residual (diagnostics.verdict). */
export const FORWARD_TOL = 1e-4;
/** Margin on the forward steps the rate ρ predicts (the estimate is of the final state's linearisation). */
const T_MARGIN = 1.5;

function section(config: Record<string, unknown>, name: string): Record<string, unknown> {
  const s = config[name];
  return typeof s === 'object' && s !== null ? (s as Record<string, unknown>) : {};
}

/**
 * Forward steps for the residual `rel` after `T` steps to fall below `tol` at rate ρ: T plus
 * 1.5 × log(tol / rel) / log ρ, at least 2T, rounded up to a multiple of 10, at most `max`.
 */
export function forwardStepsFor(T: number, rel: number, rho: number, max: number, tol = FORWARD_TOL): number {
  const extra = rho > 0 && rho < 1 && Number.isFinite(rel) && rel > tol ? Math.log(tol / rel) / Math.log(rho) : 0;
  return Math.min(max, Math.max(2 * T, Math.ceil((T + T_MARGIN * extra) / 10) * 10));
}

export function adviceFor(input: AdviceInput): Advice[] {
  const { runner, config, verdict: v } = input;
  if (!isRunnerName(runner)) return [];
  const model = section(config, 'model');
  const out: Advice[] = [];
  if (v.level === 'warn' && !v.forwardConverged && v.rho < RHO_NOT_CONTRACTIVE) {
    const tField = EXPERIMENTS[runner].tField;
    const T = model[tField];
    const max = (SCHEMA[runner].model as Record<string, { max?: number }>)[tField]?.max ?? Infinity;
    if (typeof T === 'number' && T < max) {
      const next = forwardStepsFor(T, v.finalRelResidual, v.rho, max);
      out.push({ key: `model.${tField}`, value: next, label: `More forward steps: ${tField} ${T} → ${next}` });
    }
    const method = methodInfo(String(model.grad_method ?? 'BPTT'));
    if (method && !method.unroll && model.forward_solver !== 'anderson') out.push({ key: 'model.forward_solver', value: 'anderson', label: 'Anderson-accelerated forward pass: forward_solver anderson' });
  }
  if (v.level === 'bad' && runner === 'CitationRunner' && (model.aggregate_type ?? 'sum') === 'sum' && !(v.rho < RHO_NOT_CONTRACTIVE)) {
    out.push({ key: 'model.aggregate_type', value: 'avg', label: 'Average the messages: aggregate_type avg' });
  }
  return out;
}

/** The sentence a verdict gets when it has no advice to act on. */
export function noAdviceNote(input: AdviceInput): string | undefined {
  if (input.verdict.level === 'ok' || adviceFor(input).length) return undefined;
  return 'No config edit is known to fix this.';
}
