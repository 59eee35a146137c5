/**
 * The training loop every experiment shares, used by the CLI and by the worker process alike:
 * per step, one gradient computation with the chosen method, then the optimiser; events for the
 * forward residuals, the backward trace, metrics, memory and diagnostics go to `emit`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../core/tf';
import { selectBackend, describeChoice, adapterField, closeKernelPool, BackendRequest } from '../core/backend';
import { getMethod, takesK } from '../core/gradients';
import type { GradientResult } from '../core/gradients/types';
import { measurePeak } from '../core/memory';
import { NaiveSolver } from '../core/solvers/naive';
import { linearize } from '../core/system';
import { DIAGNOSE_ITERS, spectralRadius, verdict, forwardConverged, TrainingWatch } from '../core/diagnostics';
import { dispose, hasNonFinite } from '../core/state';
import { l2 } from '../core/metrics';
import type { RunSpec, WorkerEvent, BackendInfo } from '../protocol/messages';
import { loadExperiment } from '../experiments';
import { RunError, ExperimentSession } from '../experiments/types';
import { checkRequest, checkMemory, explainAllocation, type ResolvedRun } from './resolve';
import { restoreFrom, writeCheckpoint, configDigest, type CheckpointMeta } from './checkpoint';
import { probeGradient } from './probe';
import { gradcheck } from './gradcheck';
import type { MethodName } from '../core/gradients/types';
import { Cancelled, releasingOnThrow, throwIfCancelled } from '../core/cancel';

export interface RunControl {
  cancelled(): boolean;
  /**
   * Told whether Stop now would leave finished steps to checkpoint (true between a step's optimiser
   * update and the next checkpoint): the worker tells the host, which then waits for that write.
   */
  unsaved?(pending: boolean): void;
}

/** ρ(J) and the verdict at the end of a plain T-step forward pass. */
export function diagnose(session: ExperimentSession, iters = DIAGNOSE_ITERS, cancelled?: () => boolean): { rho: number; verdict: ReturnType<typeof verdict> } {
  return releasingOnThrow(() => {
    const sys = session.system;
    const h0 = sys.initialState();
    const res = new NaiveSolver().solve(sys, h0, { maxSteps: session.T, keep: 1, cancelled });
    const last = res.history[0];
    const lin = linearize(sys, last.h, sys.params as tf.Tensor[], last.t, 'linearize');
    const est = spectralRadius(lin, last.h, iters, undefined, cancelled);
    lin.dispose();
    dispose(h0, res.h, last.h);
    return { rho: est.rho, verdict: verdict(est.rho, res.stats) };
  });
}

/** Relative residual below which a forward pass counts as converged (the verdict's default). */
const CONVERGED_REL = 1e-4;

/**
 * The closing check of a training run (RunSpec.finalCheck): a gradient check at the final weights
 * of the method trained with, against `exact` and BPTT (the same code as `rbp gradcheck`), as
 * summary fields `check_*` (ρ(J) and the verdict at the final weights included).
 */
export function finalCheck(experiment: string, session: ExperimentSession, method: MethodName, K: number, cancelled?: () => boolean): Record<string, number | string | boolean> {
  const r = gradcheck(experiment, session, { Ks: [K], methods: [method], cancelled });
  const row = r.rows.find((x) => x.method === method && (x.K === null || x.K === K))!;
  return {
    check_method: row.K === null ? method : `${method} K=${K}`,
    check_rel_err_vs_exact: row.relErrExact,
    check_cos_vs_exact: row.cosExact,
    check_cos_vs_bptt: row.cosBptt,
    check_exact_converged: r.exactConverged,
    check_rho: r.rho,
    check_verdict: r.verdict.message,
  };
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

function finiteOrNull(x: number | undefined): number | null {
  return x === undefined || !Number.isFinite(x) ? null : x;
}

/**
 * Train. `control.cancelled` is checked inside every forward and backward loop (through the
 * gradient options and the session's context): a cancelled run ends with run/finished
 * 'cancelled' within one update of the request, whatever T and K are.
 */
export async function runExperiment(spec: RunSpec, emit: (e: WorkerEvent) => void, control: RunControl = { cancelled: () => false }): Promise<'completed' | 'cancelled'> {
  const t0 = Date.now();
  const resolved = checkRequest(spec);
  const experiment = await loadExperiment(resolved.config.runner);
  if (!experiment) throw new RunError('bad-config', `runner ${String(resolved.config.runner)} is not available in this build`);
  const choice = await selectBackend((spec.backend ?? 'auto') as BackendRequest, { searchPaths: spec.nativeSearchPaths, threads: spec.threads });
  checkMemory(resolved, choice.name);
  const backend: BackendInfo = { name: choice.name, description: describeChoice(choice), skipped: choice.skipped, nodeVersion: process.version, execPath: process.execPath, ...adapterField(choice) };
  let session: ExperimentSession;
  try {
    session = await experiment.create(resolved.config, resolved.method, resolved.K, {
      dataDir: spec.dataDir,
      configDir: resolved.configDir,
      log: (text) => emit({ type: 'log', level: 'info', text }),
      cancelled: control.cancelled,
    });
  } catch (err) {
    await closeKernelPool();
    throw explainAllocation(err, resolved);
  }
  const method = getMethod(resolved.method);
  const K = takesK(method.name) ? resolved.K : null;
  let resumedFrom: { runId: string; step: number } | undefined;
  const notes = [...resolved.notes];
  try {
    const from = resumeSource(spec, resolved);
    if (from) {
      const r = restoreFrom(from, session, String(resolved.config.runner), resolved.config);
      resumedFrom = r.from;
      notes.push(`resumed from ${r.file}: ${session.stepLabel} ${r.from.step} of run ${r.from.runId} (${r.trainedWith})`, ...r.notes);
      if (r.from.step >= session.numSteps) notes.push(`the checkpoint is at ${session.stepLabel} ${r.from.step}, not before the run's last (${session.numSteps}): nothing to train`);
    }
  } catch (err) {
    session.dispose();
    throw err;
  }
  const probeEvery = probeInterval(spec, resolved);
  const ckMeta: CheckpointMeta = {
    experiment: resolved.experimentName,
    runner: String(resolved.config.runner),
    configDigest: configDigest(resolved.config),
    method: method.name,
    K,
    stepLabel: session.stepLabel,
    backend: choice.name,
  };
  const checkpoint = (step: number, reason: 'periodic' | 'final' | 'stopped') => {
    if (!spec.checkpointDir) return;
    const { file, bytes } = writeCheckpoint(spec.checkpointDir, ckMeta, session, step, (f, b) => emit({ type: 'checkpoint/writing', step, file: f, bytes: b, reason }));
    emit({ type: 'checkpoint', step, file, bytes, reason });
  };
  emit({
    type: 'run/started',
    experiment: resolved.experimentName,
    title: experiment.title(resolved.config),
    runner: String(resolved.config.runner),
    method: resolved.method,
    K,
    T: session.T,
    steps: session.numSteps,
    stepLabel: session.stepLabel,
    backend,
    config: resolved.config,
    startedAt: new Date(t0).toISOString(),
    notes,
    pid: process.pid,
    ...(resumedFrom ? { resumedFrom } : {}),
    ...(resolved.configDir ? { configDir: resolved.configDir } : {}),
  });
  const elapsed = () => Date.now() - t0;
  let lastValues: Record<string, number> = {};
  const peak = { tensorBytes: 0, rssBytes: 0 };
  let i = 0;
  // A stopped run's checkpoint holds `done` finished steps; none is written when Stop came inside a
  // step before its optimiser update (its batch order may already be drawn): the last one stands then.
  let done = 0;
  let lastCheckpoint = 0;
  let stepBegun = false;
  const mark = () => control.unsaved?.(!stepBegun && done > lastCheckpoint && !!spec.checkpointDir);
  // Divergence that stays finite: a warning in the run, a failure when hopeless.
  const watch = new TrainingWatch();
  let warning: string | undefined;
  try {
    const start = resumedFrom?.step ?? 0;
    i = start;
    done = start;
    const d0 = diagnose(session, DIAGNOSE_ITERS, control.cancelled);
    emit({ type: 'diagnostics', step: start, rho: finiteOrNull(d0.rho), verdict: d0.verdict });
    // The untrained baseline (a resumed run: where it resumes), so every eval curve starts where training starts.
    emit({ type: 'metrics', step: start, elapsedMs: elapsed(), kind: 'eval', values: session.evaluate(-1) });
    lastCheckpoint = start;
    for (; i < session.numSteps; i++) {
      throwIfCancelled(control.cancelled);
      stepBegun = true;
      mark();
      session.beforeStep(i);
      const ts = performance.now();
      const { result, memory } = measurePeak(() => releasingOnThrow(() => method.compute(session.system, { T: session.T, K: resolved.K, trace: true, ...session.gradientOptions, cancelled: control.cancelled })));
      const stepMs = performance.now() - ts;
      emitTraces(emit, i, result);
      const what = result.forward.diverged ? 'forward pass' : !Number.isFinite(result.loss) ? 'loss' : hasNonFinite(result.grads) || hasNonFinite(result.lossGrads) ? 'gradient' : undefined;
      if (what) {
        dispose(result.grads, result.lossGrads);
        throw new RunError('diverged', `${session.stepLabel} ${i}: the ${what} became NaN/Inf (forward relative residual ${result.forward.finalRel} after ${result.forward.steps} steps); lower the learning rate`);
      }
      const finding = watch.observe(result.loss, result.forward);
      if (finding?.level === 'bad') {
        dispose(result.grads, result.lossGrads);
        throw new RunError('diverged', `${session.stepLabel} ${i}: ${finding.message}`);
      }
      if (finding) {
        warning = finding.message;
        emit({ type: 'log', level: 'warn', text: `${session.stepLabel} ${i}: ${finding.message}` });
      }
      if (probeEvery > 0 && i % probeEvery === 0) {
        let probe;
        try {
          probe = probeGradient(session, i, method.name, K, result, control.cancelled);
        } catch (err) {
          dispose(result.grads, result.lossGrads);
          throw err;
        }
        emit(probe);
      }
      const gradNorm = l2(result.grads);
      const extra = session.stepMetrics?.(i, result) ?? {};
      session.optimizer.apply([...session.system.params, ...session.system.lossParams], [...result.grads, ...result.lossGrads]);
      done = i + 1;
      stepBegun = false;
      mark();
      dispose(result.grads, result.lossGrads);
      lastValues = { loss: result.loss, grad_norm: gradNorm, step_ms: stepMs, forward_rel_residual: result.forward.finalRel, ...extra };
      emit({ type: 'metrics', step: i, elapsedMs: elapsed(), kind: 'train', values: lastValues });
      const mem = tf.memory();
      const rss = process.memoryUsage().rss;
      peak.tensorBytes = Math.max(peak.tensorBytes, memory.peakBytes);
      peak.rssBytes = Math.max(peak.rssBytes, rss);
      emit({ type: 'memory', step: i, peakBytes: memory.peakBytes, liveBytes: mem.numBytes, rssBytes: rss, numTensors: mem.numTensors });
      if ((i + 1) % session.evalEvery === 0 || i === session.numSteps - 1) {
        const values = session.evaluate(i);
        emit({ type: 'metrics', step: i, elapsedMs: elapsed(), kind: 'eval', values });
        const d = diagnose(session, DIAGNOSE_ITERS, control.cancelled);
        emit({ type: 'diagnostics', step: i, rho: finiteOrNull(d.rho), verdict: d.verdict });
      }
      if ((i + 1) % (session.snapshotEvery ?? session.evalEvery) === 0 || i === session.numSteps - 1) {
        checkpoint(i + 1, i === session.numSteps - 1 ? 'final' : 'periodic');
        lastCheckpoint = i + 1;
        mark();
      }
      await yieldToEventLoop();
    }
    const memory = { peak_step_tensor_mb: peak.tensorBytes / 2 ** 20, peak_rss_mb: peak.rssBytes / 2 ** 20 };
    const check = spec.finalCheck ? finalCheck(resolved.experimentName, session, method.name, resolved.K, control.cancelled) : {};
    emit({ type: 'run/finished', status: 'completed', elapsedMs: elapsed(), summary: { ...session.summary(), final_loss: lastValues.loss ?? NaN, ...memory, ...check, ...(warning ? { warning } : {}) } });
    return 'completed';
  } catch (err) {
    if (!(err instanceof Cancelled)) throw explainAllocation(err, resolved);
    if (!stepBegun && done > lastCheckpoint) checkpoint(done, 'stopped');
    else if (spec.checkpointDir) emit({ type: 'log', level: 'info', text: `stopped inside ${session.stepLabel} ${i}: the last checkpoint (${session.stepLabel} ${lastCheckpoint}) is where a resumed run continues` });
    emit({ type: 'run/finished', status: 'cancelled', elapsedMs: elapsed(), summary: { ...session.summary(), steps_done: done } });
    return 'cancelled';
  } finally {
    session.dispose();
    // no worker thread outlives the run (completed, failed or stopped); the next run starts them again
    await closeKernelPool();
  }
}

/** The checkpoint to resume from: `--resume`, else the config's train.is_resume / train.resume_model. */
function resumeSource(spec: RunSpec, resolved: ResolvedRun): string | undefined {
  if (spec.resume) return spec.resume;
  const tr = resolved.config.train as Record<string, unknown>;
  if (tr.is_resume !== true) return undefined;
  const m = tr.resume_model;
  if (typeof m !== 'string' || !m || m === 'None') throw new RunError('bad-config', `train.is_resume is true but train.resume_model names no checkpoint (a run folder, RUN_DIR@STEP or a .rbpck file); got ${JSON.stringify(m)}`);
  // Relative to the config file's folder when it is there.
  if (resolved.configDir && !path.isAbsolute(m)) {
    const near = path.join(resolved.configDir, m);
    if (fs.existsSync(near.replace(/@\d+$/, ''))) return near;
  }
  return m;
}

/** Probe every N steps: RunSpec.probeEvery (CLI, extension setting), else train.grad_probe_every; 0 = off. */
function probeInterval(spec: RunSpec, resolved: ResolvedRun): number {
  const v = spec.probeEvery ?? (resolved.config.train as Record<string, unknown>).grad_probe_every ?? 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RunError('bad-config', `the probe interval must be an integer ≥ 0 (0: no probes); got ${JSON.stringify(v)}`);
  return v;
}

function emitTraces(emit: (e: WorkerEvent) => void, step: number, r: GradientResult): void {
  // Without a tolerance the solver runs all T steps; report convergence against the verdict's 1e-4.
  const converged = forwardConverged(r.forward, CONVERGED_REL);
  emit({ type: 'trace/forward', step, abs: r.forward.absResidual.map(finiteOrNull), rel: r.forward.relResidual.map(finiteOrNull), converged, diverged: r.forward.diverged });
  emit({
    type: 'trace/backward',
    step,
    method: r.method,
    residual: r.backward.iterations.map((it) => finiteOrNull(it.residual)),
    termNorm: r.backward.iterations.map((it) => finiteOrNull(it.termNorm)),
  });
}
