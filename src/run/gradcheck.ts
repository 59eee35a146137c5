/**
 * Gradient check: at one batch and one set of weights, every method at every K, compared with
 * `exact` and with BPTT: relative error, cosine, time, peak tensor bytes, plus forward
 * convergence, ρ(J) and the verdict. `rbp gradcheck` prints it; Compare in the extension draws it.
 */
import { tf } from '../core/tf';
import { getMethod, methods as catalog, takesK, type MethodName } from '../core/gradients';
import type { GradientOptions, GradientResult } from '../core/gradients/types';
import { measurePeak } from '../core/memory';
import { compareGrads } from '../core/metrics';
import { dispose } from '../core/state';
import type { ExperimentSession } from '../experiments/types';
import { DIAGNOSE_ITERS, spectralRadius, verdict } from '../core/diagnostics';
import type { Linearization } from '../core/system';
import type { State } from '../core/state';
import type { RunSpec, WorkerEvent, GradcheckRowMsg, GradcheckResultMsg } from '../protocol/messages';
import { selectBackend, closeKernelPool, describeChoice, adapterField, BackendRequest } from '../core/backend';
import { describeAdapter } from '../core/webgpu';
import { loadExperiment } from '../experiments';
import { RunError } from '../experiments/types';
import { resolveGradcheck, checkRequest, checkMemory, explainAllocation } from './resolve';
import { Cancelled, releasingOnThrow } from '../core/cancel';
import { restoreFrom } from './checkpoint';

/** One method at one K; the protocol's row type (the worker sends these as they are computed). */
export type GradcheckRow = GradcheckRowMsg['row'];

/** The whole report, as `rbp gradcheck --json` prints it and the compare view draws it. */
export type GradcheckReport = GradcheckResultMsg['report'];

export const DEFAULT_KS = [5, 10, 20, 40];
/** Every method that takes K (TBPTT, RBP, CG-RBP, Neumann-RBP and any registered since). */
export const defaultGradcheckMethods = (): MethodName[] => catalog().filter((m) => m.takesK).map((m) => m.name);

export interface GradcheckOptions {
  Ks: number[];
  methods?: MethodName[];
  tol?: number;
  /** The step whose batch (and learning rate) to check at: a checkpoint's step; default 0. */
  step?: number;
  /** The run and step of the checkpoint the session's weights came from (recorded in the report). */
  from?: { runId: string; step: number };
  /** Progress callback (row done). */
  onRow?: (row: GradcheckRow) => void;
  /** Checked inside every method's loops: true ends the check by throwing `Cancelled`. */
  cancelled?: () => boolean;
}

type Timed = { r: GradientResult; ms: number; peak: number };

function timed(fn: () => GradientResult): Timed {
  const t0 = performance.now();
  const { result, memory } = measurePeak(() => releasingOnThrow(fn));
  return { r: result, ms: performance.now() - t0, peak: memory.peakBytes };
}

/**
 * The references every comparison here is made against, at the system's current weights and batch:
 * `exact` (its adjoint kept), ρ(J) from exact's own linearisation at the last forward state (no
 * second forward pass; the power iteration's time is taken out of exact's row, its two state-sized
 * vectors stay in exact's peak), and BPTT unless `withBptt` is false. The gradient check and the
 * training probes both use it, so a probe's numbers are a gradient check's.
 */
export function references(sys: ExperimentSession['system'], base: GradientOptions, withBptt = true): { ex: Timed; bp?: Timed; rho: number } {
  let rho = NaN;
  let rhoMs = 0;
  const inspect = (lin: Linearization, h: State) => {
    const t0 = performance.now();
    rho = spectralRadius(lin, h, DIAGNOSE_ITERS, undefined, base.cancelled).rho;
    rhoMs = performance.now() - t0;
  };
  const ex = timed(() => getMethod('exact').compute(sys, { ...base, keepAdjoint: true, inspect }));
  ex.ms -= rhoMs;
  try {
    const bp = withBptt ? timed(() => getMethod('BPTT').compute(sys, base)) : undefined;
    return { ex, bp, rho };
  } catch (err) {
    dispose(ex.r.grads, ex.r.lossGrads, ex.r.adjoint);
    throw err;
  }
}

export function gradcheck(experiment: string, session: ExperimentSession, opts: GradcheckOptions): GradcheckReport {
  const sys = session.system;
  const T = session.T;
  const tol = opts.tol ?? 1e-4;
  const methods = opts.methods ?? defaultGradcheckMethods();
  session.beforeStep(opts.step ?? 0);
  const base = { T, K: 1, ...session.gradientOptions, trace: true, cancelled: opts.cancelled };
  const { ex, bp: bpOrNone, rho } = references(sys, base);
  const bp = bpOrNone!;
  // The references are released however the comparison ends (a cancelled row throws).
  try {
    const exactGrads = [...ex.r.grads, ...ex.r.lossGrads];
    const bpttGrads = [...bp.r.grads, ...bp.r.lossGrads];
    const rows: GradcheckRow[] = [];
    const row = (m: MethodName, K: number | null, t: Timed): GradcheckRow => {
      const all = [...t.r.grads, ...t.r.lossGrads];
      const ce = compareGrads(all, exactGrads);
      const cb = compareGrads(all, bpttGrads);
      const its = t.r.backward.iterations;
      const res = its.map((i) => (i.residual === undefined || !Number.isFinite(i.residual) ? null : i.residual));
      const out: GradcheckRow = {
        method: m,
        K,
        relErrExact: ce.relErr,
        cosExact: ce.cosine,
        relErrBptt: cb.relErr,
        cosBptt: cb.cosine,
        timeMs: t.ms,
        peakBytes: t.peak,
        loss: t.r.loss,
        residual: res.length ? res[res.length - 1] : null,
        residualTrace: res,
        vjps: t.r.vjps,
        jvps: t.r.jvps,
      };
      opts.onRow?.(out);
      return out;
    };
    rows.push(row('exact', null, ex));
    rows.push(row('BPTT', null, bp));
    for (const K of opts.Ks) {
      for (const m of methods) {
        if (!takesK(m)) continue;
        const t = timed(() => getMethod(m).compute(sys, { ...base, K, zRef: ex.r.adjoint }));
        rows.push(row(m, K, t));
        dispose(t.r.grads, t.r.lossGrads);
      }
    }
    const fw = ex.r.forward;
    const firstBelow = fw.relResidual.findIndex((r) => r < tol);
    const d = { rho, verdict: verdict(rho, fw) };
    const lastIt = ex.r.backward.iterations[ex.r.backward.iterations.length - 1];
    return {
      experiment,
      T,
      Ks: opts.Ks,
      methods,
      rows,
      forward: { stepsToTol: firstBelow >= 0 ? firstBelow + 1 : null, tol, finalRel: fw.finalRel, steps: fw.steps },
      rho: d.rho,
      verdict: d.verdict,
      exactConverged: Boolean(ex.r.backward.converged),
      exactNote: ex.r.backward.note ?? (lastIt ? undefined : 'no iterations'),
      backend: tf.getBackend(),
      ...(opts.from ? { from: opts.from } : {}),
    };
  } finally {
    dispose(ex.r.grads, ex.r.lossGrads, ex.r.adjoint, bp.r.grads, bp.r.lossGrads);
  }
}

/**
 * A gradient check as a recorded run (used by the worker for Compare and by `rbp gradcheck`):
 * run/started, one gradcheck/row per method and K, gradcheck/result, run/finished. Cancelled
 * (`control.cancelled`, checked inside every loop): run/finished 'cancelled' and no report.
 */
export async function runGradcheck(spec: RunSpec, emit: (e: WorkerEvent) => void, control: { cancelled(): boolean } = { cancelled: () => false }): Promise<GradcheckReport | undefined> {
  const t0 = Date.now();
  const { Ks, methods } = resolveGradcheck(spec, DEFAULT_KS);
  const resolved = checkRequest(spec);
  const exp = await loadExperiment(resolved.config.runner);
  if (!exp) throw new RunError('bad-config', `runner ${String(resolved.config.runner)} is not available in this build`);
  const choice = await selectBackend((spec.backend ?? 'auto') as BackendRequest, { searchPaths: spec.nativeSearchPaths, threads: spec.threads });
  checkMemory({ ...resolved, method: 'BPTT' }, choice.name);
  let session: ExperimentSession;
  try {
    session = await exp.create(resolved.config, resolved.method, resolved.K, { dataDir: spec.dataDir, configDir: resolved.configDir, log: (text) => emit({ type: 'log', level: 'info', text }), cancelled: control.cancelled });
  } catch (err) {
    await closeKernelPool();
    throw explainAllocation(err, resolved);
  }
  try {
    const ms = methods ?? defaultGradcheckMethods();
    let from: { runId: string; step: number } | undefined;
    const notes = [...resolved.notes];
    if (spec.gradcheck?.from) {
      const r = restoreFrom(spec.gradcheck.from, session, String(resolved.config.runner), resolved.config);
      from = r.from;
      notes.push(`at the weights of ${r.file}: ${session.stepLabel} ${r.from.step} of run ${r.from.runId} (trained with ${r.trainedWith})`, ...r.notes);
    }
    emit({
      type: 'run/started',
      experiment: resolved.experimentName,
      title: `${exp.title(resolved.config)}: gradient check${from ? ` at ${session.stepLabel} ${from.step} of ${from.runId}` : ''}`,
      runner: String(resolved.config.runner),
      method: 'gradcheck',
      K: null,
      T: session.T,
      steps: 2 + Ks.length * ms.filter(takesK).length,
      stepLabel: 'row',
      backend: { name: choice.name, description: describeChoice(choice), skipped: choice.skipped, nodeVersion: process.version, execPath: process.execPath, ...adapterField(choice) },
      config: resolved.config,
      startedAt: new Date(t0).toISOString(),
      notes,
      pid: process.pid,
      ...(from ? { from } : {}),
      ...(resolved.configDir ? { configDir: resolved.configDir } : {}),
    });
    let report: GradcheckReport;
    try {
      report = gradcheck(resolved.experimentName, session, { Ks, methods, step: from?.step, from, onRow: (row) => emit({ type: 'gradcheck/row', row }), cancelled: control.cancelled });
    } catch (err) {
      if (!(err instanceof Cancelled)) throw explainAllocation(err, resolved);
      emit({ type: 'run/finished', status: 'cancelled', elapsedMs: Date.now() - t0, summary: {} });
      return undefined;
    }
    if (choice.adapter) report.adapter = describeAdapter(choice.adapter);
    emit({ type: 'gradcheck/result', report });
    emit({ type: 'run/finished', status: 'completed', elapsedMs: Date.now() - t0, summary: { rho: report.rho, verdict: report.verdict.level } });
    return report;
  } finally {
    session.dispose();
    await closeKernelPool(); // no worker thread outlives the check
  }
}
