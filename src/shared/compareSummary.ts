/**
 * The verdict of a TBPTT vs Neumann-RBP gradient check in one line (vscode-free, DOM-free: the
 * webview draws it, the extension host shows it in notifications, tests check it).
 *
 * The paper's claim (Liao et al. 2018): on a convergent (contractive) model Neumann-RBP gives
 * the gradient of the fixed point as accurately as BPTT, in TBPTT's time, with memory constant in
 * K; TBPTT's memory grows with K. When ρ(J) ≥ 1 the Neumann series diverges and the claim does
 * not hold — the headline must say so just as plainly.
 */
import type { GradcheckResultMsg, GradcheckRowMsg } from '../protocol/messages';

export type Report = GradcheckResultMsg['report'];
export type Row = GradcheckRowMsg['row'];

/** An accurate gradient: relative error and cosine against `exact` (the headline here, the config notes in src/config/inline.ts). */
export const GOOD_REL_ERR = 1e-2;
export const GOOD_COS = 0.99;
const MiB = 2 ** 20;

/** Short scientific format used in headlines: 3.6e-6, 0.147, 0. */
export function sci(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a < 1e-3 || a >= 1e4 ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

export interface MemoryTrend {
  first: number;
  last: number;
  min: number;
  max: number;
  /** max − min stays within max(1% of min, 256 KiB). */
  flat: boolean;
  /** last − first beyond that tolerance. */
  growing: boolean;
}

export function memoryTrend(rows: readonly Row[]): MemoryTrend | undefined {
  const r = rows.filter((x) => x.K !== null).sort((a, b) => a.K! - b.K!);
  if (!r.length) return undefined;
  const ps = r.map((x) => x.peakBytes);
  const min = Math.min(...ps);
  const max = Math.max(...ps);
  const tol = Math.max(0.01 * min, 256 * 1024);
  return { first: ps[0], last: ps[ps.length - 1], min, max, flat: max - min <= tol, growing: ps[ps.length - 1] - ps[0] > tol };
}

export interface CompareHeadline {
  level: 'ok' | 'warn' | 'bad';
  /** The K the headline quotes (20 when checked, else the largest). */
  K: number;
  /** One line, starting with ✓, ⚠ or ✗. */
  text: string;
  /** Secondary lines: what else to know. */
  details: string[];
  neumann?: Row;
  tbptt?: Row;
  neumannMemory?: MemoryTrend;
  tbpttMemory?: MemoryTrend;
}

export const rowsOf = (report: Pick<Report, 'rows'>, method: string): Row[] => report.rows.filter((r) => r.method === method && r.K !== null).sort((a, b) => a.K! - b.K!);

export function headlineK(Ks: readonly number[]): number {
  return Ks.includes(20) ? 20 : Math.max(...Ks);
}

export function compareHeadline(report: Report, opts: { K?: number } = {}): CompareHeadline {
  const K = opts.K ?? headlineK(report.Ks);
  const nRows = rowsOf(report, 'Neumann_RBP');
  const tRows = rowsOf(report, 'TBPTT');
  const neumann = nRows.find((r) => r.K === K);
  const tbptt = tRows.find((r) => r.K === K);
  const neumannMemory = memoryTrend(nRows);
  const tbpttMemory = memoryTrend(tRows);
  const details: string[] = [];
  const rho = `ρ(J) = ${sci(report.rho)}`;
  if (!neumann) {
    return { level: 'warn', K, text: `⚠ No Neumann-RBP row at K=${K} in this gradient check`, details: [report.verdict.message], tbptt, neumannMemory, tbpttMemory };
  }
  const accurate = Number.isFinite(neumann.relErrExact) && neumann.relErrExact < GOOD_REL_ERR && neumann.cosExact > GOOD_COS;
  const memText = neumannMemory ? (neumannMemory.flat ? `${mib(neumann.peakBytes)} flat in K` : `${mib(neumann.peakBytes)}, varies ${mib(neumannMemory.min)}–${mib(neumannMemory.max)} over K`) : mib(neumann.peakBytes);
  const tbText = tbptt && tbpttMemory ? `TBPTT: ${mib(tbptt.peakBytes)} ${tbpttMemory.growing ? `growing (${mib(tbpttMemory.first)} at K=${tRows[0].K} → ${mib(tbpttMemory.last)} at K=${tRows[tRows.length - 1].K})` : 'flat in K'}` : '';
  let level: CompareHeadline['level'];
  let text: string;
  if (accurate && report.verdict.level !== 'bad') {
    level = report.verdict.level === 'ok' && (neumannMemory?.flat ?? true) ? 'ok' : 'warn';
    text = `${level === 'ok' ? '✓' : '⚠'} Neumann-RBP at K=${K}: error ${sci(neumann.relErrExact)} vs exact, ${memText}${tbText ? `; ${tbText}` : ''}`;
  } else {
    level = 'bad';
    text = `✗ Neumann-RBP fails here: ${rho}${report.rho >= 1 ? ' ≥ 1, the Neumann series diverges' : ''}; at K=${K} error ${sci(neumann.relErrExact)} vs exact, cosine ${sci(neumann.cosExact)} — use BPTT or TBPTT for this model`;
  }
  if (tbptt) details.push(`TBPTT at K=${K}: error ${sci(tbptt.relErrExact)} vs exact, cosine ${sci(tbptt.cosExact)}, ${sci(tbptt.timeMs)} ms; Neumann-RBP: cosine ${sci(neumann.cosExact)}, ${sci(neumann.timeMs)} ms`);
  details.push(`${rho} · forward ${report.forward.stepsToTol !== null ? `converged in ${report.forward.stepsToTol} steps` : `not converged in ${report.forward.steps} steps`} (relative residual ${sci(report.forward.finalRel)}) · ${report.verdict.message}`);
  if (!report.exactConverged) details.push(`the exact reference did not converge${report.exactNote ? ` (${report.exactNote})` : ''}: compare against BPTT`);
  return { level, K, text, details, neumann, tbptt, neumannMemory, tbpttMemory };
}

/** Compare TBPTT vs Neumann-RBP: the methods checked (BPTT and exact are always references). */
export const COMPARE_METHODS = ['TBPTT', 'Neumann_RBP'];
export const COMPARE_DEFAULT_KS = [5, 10, 20, 40];

/**
 * The run options Compare gives the worker (what `RunController.launch` turns into a RunSpec):
 * the method/K fields only name the run (the gradient check computes every method at every K).
 */
export function compareRunOptions(Ks: readonly number[]): { method: string; K: number; gradcheck: { Ks: number[]; methods: string[] } } {
  return { method: 'Neumann_RBP', K: headlineK(Ks), gradcheck: { Ks: [...Ks], methods: [...COMPARE_METHODS] } };
}

/** Parse "5, 10, 20 40" into [5, 10, 20, 40]; an error message when it is not a list of integers ≥ 1. */
export function parseKs(text: string): number[] | string {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (!parts.length) return 'enter at least one K';
  const Ks: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p) || Number(p) < 1) return `'${p}' is not an integer ≥ 1`;
    Ks.push(Number(p));
  }
  return [...new Set(Ks)].sort((a, b) => a - b);
}
