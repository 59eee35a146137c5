/**
 * Gradient check: at one batch and one set of weights, every method at every K, compared with
 * `exact` and with BPTT: relative error, cosine, time, peak tensor bytes, plus forward
 * convergence, ρ(J) and the verdict. `rbp gradcheck` prints it; Compare in the extension draws it.
 */
import { tf } from '../core/tf';
import { getMethod, methods as catalog, parseMethodName, takesK, type MethodName } from '../core/gradients';
import type { GradientResult } from '../core/gradients/types';
import { measurePeak } from '../core/memory';
import { compareGrads } from '../core/metrics';
import { dispose } from '../core/state';
import type { ExperimentSession } from '../experiments/types';
import { DIAGNOSE_ITERS } from './runner';
import { spectralRadius, verdict } from '../core/diagnostics';
import type { Linearization } from '../core/system';
import type { State } from '../core/state';
import type { RunSpec, WorkerEvent, GradcheckRowMsg, GradcheckResultMsg } from '../protocol/messages';
import { selectBackend, describeChoice, isBackendRequest, BackendRequest } from '../core/backend';
import { loadExperiment } from '../experiments';
import { RunError } from '../experiments/types';
import { resolveRun } from './resolve';

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
  /** Progress callback (row done). */
  onRow?: (row: GradcheckRow) => void;
}

function timed(fn: () => GradientResult): { r: GradientResult; ms: number; peak: number } {
  const t0 = performance.now();
  const { result, memory } = measurePeak(fn);
  return { r: result, ms: performance.now() - t0, peak: memory.peakBytes };
}

export function gradcheck(experiment: string, session: ExperimentSession, opts: GradcheckOptions): GradcheckReport {
  const sys = session.system;
  const T = session.T;
  const tol = opts.tol ?? 1e-4;
  const methods = opts.methods ?? defaultGradcheckMethods();
  session.beforeStep(0);
  const base = { T, K: 1, ...session.gradientOptions, trace: true };
  // ρ(J) at the last forward state, from exact's own linearisation (no second forward pass): the
  // state every gradient method here starts from, with the session's forward solver. The power
  // iteration's time is taken out of exact's row (its two state-sized vectors stay in exact's peak).
  let rho = NaN;
  let rhoMs = 0;
  const inspect = (lin: Linearization, h: State) => {
    const t0 = performance.now();
    rho = spectralRadius(lin, h, DIAGNOSE_ITERS).rho;
    rhoMs = performance.now() - t0;
  };
  const ex = timed(() => getMethod('exact').compute(sys, { ...base, keepAdjoint: true, inspect }));
  ex.ms -= rhoMs;
  const bp = timed(() => getMethod('BPTT').compute(sys, base));
  const exactGrads = [...ex.r.grads, ...ex.r.lossGrads];
  const bpttGrads = [...bp.r.grads, ...bp.r.lossGrads];
  const rows: GradcheckRow[] = [];
  const row = (m: MethodName, K: number | null, t: { r: GradientResult; ms: number; peak: number }): GradcheckRow => {
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
  const report: GradcheckReport = {
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
  };
  dispose(ex.r.grads, ex.r.lossGrads, ex.r.adjoint, bp.r.grads, bp.r.lossGrads);
  return report;
}

/**
 * A gradient check as a recorded run (used by the worker for Compare and by `rbp gradcheck`):
 * run/started, one gradcheck/row per method and K, gradcheck/result, run/finished.
 */
export async function runGradcheck(spec: RunSpec, emit: (e: WorkerEvent) => void): Promise<GradcheckReport> {
  const t0 = Date.now();
  const Ks = spec.gradcheck?.Ks ?? DEFAULT_KS;
  if (!Ks.length || !Ks.every((k) => Number.isInteger(k) && k >= 1)) throw new RunError('bad-config', `gradient check K values must be integers ≥ 1; got ${JSON.stringify(Ks)}`);
  const methods = spec.gradcheck?.methods?.map((m) => {
    const p = parseMethodName(m);
    if (!p) throw new RunError('bad-config', `unknown method '${m}'`);
    return p;
  });
  const resolved = resolveRun({ ...spec, gradcheck: undefined });
  const exp = await loadExperiment(resolved.config.runner);
  if (!exp) throw new RunError('bad-config', `runner ${String(resolved.config.runner)} is not available in this build`);
  const req = spec.backend ?? 'auto';
  if (!isBackendRequest(req)) throw new RunError('bad-config', `unknown backend '${req}' (tensorflow-gpu, tensorflow, wasm, cpu or auto)`);
  const choice = await selectBackend(req as BackendRequest, { searchPaths: spec.nativeSearchPaths });
  const session = await exp.create(resolved.config, resolved.method, resolved.K, { dataDir: spec.dataDir, configDir: resolved.configDir, log: (text) => emit({ type: 'log', level: 'info', text }) });
  try {
    const ms = methods ?? defaultGradcheckMethods();
    emit({
      type: 'run/started',
      experiment: resolved.experimentName,
      title: `${exp.title(resolved.config)}: gradient check`,
      runner: String(resolved.config.runner),
      method: 'gradcheck',
      K: null,
      T: session.T,
      steps: 2 + Ks.length * ms.filter(takesK).length,
      stepLabel: 'row',
      backend: { name: choice.name, description: describeChoice(choice), skipped: choice.skipped, nodeVersion: process.version, execPath: process.execPath },
      config: resolved.config,
      startedAt: new Date(t0).toISOString(),
      notes: resolved.notes,
      pid: process.pid,
    });
    const report = gradcheck(resolved.experimentName, session, { Ks, methods, onRow: (row) => emit({ type: 'gradcheck/row', row }) });
    emit({ type: 'gradcheck/result', report });
    emit({ type: 'run/finished', status: 'completed', elapsedMs: Date.now() - t0, summary: { rho: report.rho, verdict: report.verdict.level } });
    return report;
  } finally {
    session.dispose();
  }
}
