/**
 * The training loop every experiment shares, used by the CLI and by the worker process alike:
 * per step, one gradient computation with the chosen method, then the optimiser; events for the
 * forward residuals, the backward trace, metrics, memory and diagnostics go to `emit`.
 */
import { tf } from '../core/tf';
import { selectBackend, describeChoice, BackendRequest, isBackendRequest } from '../core/backend';
import { getMethod, takesK } from '../core/gradients';
import type { GradientResult } from '../core/gradients/types';
import { measurePeak } from '../core/memory';
import { NaiveSolver } from '../core/solvers/naive';
import { linearize } from '../core/system';
import { spectralRadius, verdict } from '../core/diagnostics';
import { dispose, hasNonFinite } from '../core/state';
import { l2 } from '../core/metrics';
import type { RunSpec, WorkerEvent, BackendInfo } from '../protocol/messages';
import { loadExperiment } from '../experiments';
import { RunError, ExperimentSession } from '../experiments/types';
import { resolveRun } from './resolve';

export interface RunControl {
  cancelled(): boolean;
}

/** Power iterations of every ρ(J) estimate (the runner's diagnostics, the gradient check). */
export const DIAGNOSE_ITERS = 50;

/** ρ(J) and the verdict at the end of a plain T-step forward pass. */
export function diagnose(session: ExperimentSession, iters = DIAGNOSE_ITERS): { rho: number; verdict: ReturnType<typeof verdict> } {
  const sys = session.system;
  const h0 = sys.initialState();
  const res = new NaiveSolver().solve(sys, h0, { maxSteps: session.T, keep: 1 });
  const last = res.history[0];
  const lin = linearize(sys, last.h, sys.params as tf.Tensor[], last.t, 'linearize');
  const est = spectralRadius(lin, last.h, iters);
  lin.dispose();
  dispose(h0, res.h, last.h);
  return { rho: est.rho, verdict: verdict(est.rho, res.stats) };
}

/** Relative residual below which a forward pass counts as converged (the verdict's default). */
const CONVERGED_REL = 1e-4;

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

function finiteOrNull(x: number | undefined): number | null {
  return x === undefined || !Number.isFinite(x) ? null : x;
}

export async function runExperiment(spec: RunSpec, emit: (e: WorkerEvent) => void, control: RunControl = { cancelled: () => false }): Promise<'completed' | 'cancelled'> {
  const t0 = Date.now();
  const resolved = resolveRun(spec);
  const experiment = await loadExperiment(resolved.config.runner);
  if (!experiment) throw new RunError('bad-config', `runner ${String(resolved.config.runner)} is not available in this build`);
  const backendReq = spec.backend ?? 'auto';
  if (!isBackendRequest(backendReq)) throw new RunError('bad-config', `unknown backend '${backendReq}' (tensorflow-gpu, tensorflow, wasm, cpu or auto)`);
  const choice = await selectBackend(backendReq as BackendRequest, { searchPaths: spec.nativeSearchPaths });
  const backend: BackendInfo = { name: choice.name, description: describeChoice(choice), skipped: choice.skipped, nodeVersion: process.version, execPath: process.execPath };
  const session = await experiment.create(resolved.config, resolved.method, resolved.K, {
    dataDir: spec.dataDir,
    configDir: resolved.configDir,
    log: (text) => emit({ type: 'log', level: 'info', text }),
  });
  const method = getMethod(resolved.method);
  emit({
    type: 'run/started',
    experiment: resolved.experimentName,
    title: experiment.title(resolved.config),
    runner: String(resolved.config.runner),
    method: resolved.method,
    K: takesK(method.name) ? resolved.K : null,
    T: session.T,
    steps: session.numSteps,
    stepLabel: session.stepLabel,
    backend,
    config: resolved.config,
    startedAt: new Date(t0).toISOString(),
    notes: resolved.notes,
    pid: process.pid,
  });
  const elapsed = () => Date.now() - t0;
  let lastValues: Record<string, number> = {};
  try {
    const d0 = diagnose(session);
    emit({ type: 'diagnostics', step: 0, rho: finiteOrNull(d0.rho), verdict: d0.verdict });
    // The untrained baseline, so every eval curve starts where training starts.
    emit({ type: 'metrics', step: 0, elapsedMs: elapsed(), kind: 'eval', values: session.evaluate(-1) });
    for (let i = 0; i < session.numSteps; i++) {
      if (control.cancelled()) {
        emit({ type: 'run/finished', status: 'cancelled', elapsedMs: elapsed(), summary: { ...session.summary(), steps_done: i } });
        return 'cancelled';
      }
      session.beforeStep(i);
      const ts = performance.now();
      const { result, memory } = measurePeak(() => method.compute(session.system, { T: session.T, K: resolved.K, trace: true, ...session.gradientOptions }));
      const stepMs = performance.now() - ts;
      emitTraces(emit, i, result);
      const what = result.forward.diverged ? 'forward pass' : !Number.isFinite(result.loss) ? 'loss' : hasNonFinite(result.grads) || hasNonFinite(result.lossGrads) ? 'gradient' : undefined;
      if (what) {
        dispose(result.grads, result.lossGrads);
        throw new RunError('diverged', `${session.stepLabel} ${i}: the ${what} became NaN/Inf (forward relative residual ${result.forward.finalRel} after ${result.forward.steps} steps); lower the learning rate, add damping, or use fewer steps`);
      }
      const gradNorm = l2(result.grads);
      const extra = session.stepMetrics?.(i, result) ?? {};
      session.optimizer.apply([...session.system.params, ...session.system.lossParams], [...result.grads, ...result.lossGrads]);
      dispose(result.grads, result.lossGrads);
      lastValues = { loss: result.loss, grad_norm: gradNorm, step_ms: stepMs, forward_rel_residual: result.forward.finalRel, ...extra };
      emit({ type: 'metrics', step: i, elapsedMs: elapsed(), kind: 'train', values: lastValues });
      const mem = tf.memory();
      emit({ type: 'memory', step: i, peakBytes: memory.peakBytes, liveBytes: mem.numBytes, rssBytes: process.memoryUsage().rss, numTensors: mem.numTensors });
      if ((i + 1) % session.evalEvery === 0 || i === session.numSteps - 1) {
        const values = session.evaluate(i);
        emit({ type: 'metrics', step: i, elapsedMs: elapsed(), kind: 'eval', values });
        const d = diagnose(session);
        emit({ type: 'diagnostics', step: i, rho: finiteOrNull(d.rho), verdict: d.verdict });
      }
      await yieldToEventLoop();
    }
    emit({ type: 'run/finished', status: 'completed', elapsedMs: elapsed(), summary: { ...session.summary(), final_loss: lastValues.loss ?? NaN } });
    return 'completed';
  } finally {
    session.dispose();
  }
}

function emitTraces(emit: (e: WorkerEvent) => void, step: number, r: GradientResult): void {
  // Without a tolerance the solver runs all T steps; report convergence against the verdict's 1e-4.
  const converged = r.forward.converged || (!r.forward.diverged && r.forward.finalRel < CONVERGED_REL);
  emit({ type: 'trace/forward', step, abs: r.forward.absResidual.map(finiteOrNull), rel: r.forward.relResidual.map(finiteOrNull), converged, diverged: r.forward.diverged });
  emit({
    type: 'trace/backward',
    step,
    method: r.method,
    residual: r.backward.iterations.map((it) => finiteOrNull(it.residual)),
    termNorm: r.backward.iterations.map((it) => finiteOrNull(it.termNorm)),
  });
}
