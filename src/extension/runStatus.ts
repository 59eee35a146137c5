/** How a run shows while it runs: the status bar item, the cancellable progress notification, and its events in the output channel. */
import * as vscode from 'vscode';
import * as path from 'path';
import type { WorkerRun, RunOutcome } from './workerHost';
import type { RunsStore } from './runsStore';
import type { Envelope } from '../protocol/messages';
import { methodLabel } from '../core/gradients/catalog';
import { etaFromSteps, fmtDuration, lengthMessage, type StepTime } from '../shared/eta';


/** The status bar item of RBP Lab's runs: spinning while one runs (click: stop), then how the last one ended for 30 s (click: dashboard). */
export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('rbpLab.run', vscode.StatusBarAlignment.Left, 50);
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    this.item.name = 'RBP Lab run';
  }

  set(text: string, command: string | undefined, tooltip: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.item.text = text;
    this.item.command = command;
    this.item.tooltip = tooltip;
    this.item.show();
  }

  /** Replace the text only (a running run's step count). */
  text(text: string): void {
    this.item.text = text;
  }

  tooltip(text: string): void {
    this.item.tooltip = text;
  }

  /** After `run` ended: the next active run, else its outcome (hidden after 30 s). */
  ended(run: WorkerRun, o: RunOutcome, stillActive: readonly WorkerRun[]): void {
    if (stillActive.length) {
      this.set(`$(sync~spin) RBP ${stillActive[0].spec.method ?? ''}`, 'rbpLab.stopRun', `RBP Lab: ${stillActive[0].runId} is running`);
      return;
    }
    const icon = o.status === 'completed' ? '$(pass)' : o.status === 'cancelled' ? '$(circle-slash)' : '$(error)';
    this.set(`${icon} RBP ${o.status}`, 'rbpLab.openDashboard', `RBP Lab: ${run.runId} ${o.status}${o.reason ? ` — ${o.reason}` : ''}`);
    this.timer = setTimeout(() => this.item.hide(), 30_000);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.item.dispose();
  }
}

/** The status bar and a cancellable notification follow `run` (steps and loss, or a gradient check's rows) until it ends. */
export function showProgress(run: WorkerRun, experiment: string, store: RunsStore, status: RunStatusBar): void {
  status.set(`$(sync~spin) RBP ${path.basename(experiment)} ${run.spec.method ?? ''}`, 'rbpLab.stopRun', `RBP Lab: ${run.runId} is running — click to stop`);
  const gc = run.spec.gradcheck;
  const what = gc ? `gradient check ${(gc.methods ?? []).map(methodLabel).join(' vs ')} at K = ${gc.Ks.join(', ')}` : `${run.spec.method ?? ''}${run.spec.K ? ` K=${run.spec.K}` : ''}`;
  void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `RBP Lab: ${path.basename(experiment)} · ${what}`, cancellable: true }, (progress, token) => {
    token.onCancellationRequested(() => run.cancel());
    let steps = 0;
    const times: StepTime[] = [];
    const sub = store.onRunEvent(({ runId, event }) => {
      if (runId !== run.runId) return;
      if (event.type === 'run/started') {
        steps = event.steps;
        // Its length before the first step: from past runs of the same experiment, method and T, else said to be calibrating.
        progress.report({ message: `${event.method === 'gradcheck' ? 'starting…' : lengthMessage(event, store.list().filter((d) => d.runId !== runId))} · ${event.backend.name}` });
      } else if (event.type === 'metrics' && event.kind === 'train') {
        const loss = event.values.loss;
        times.push({ step: event.step, elapsedMs: event.elapsedMs });
        const eta = etaFromSteps(times, steps);
        const etaText = eta ? ` · ETA ${fmtDuration(eta.remainingMs)}` : '';
        const msg = `${event.step + 1}/${steps || '?'} · loss ${typeof loss === 'number' ? loss.toPrecision(4) : '–'}${etaText}`;
        progress.report({ message: msg, increment: steps ? 100 / steps : undefined });
        status.text(`$(sync~spin) RBP ${run.spec.method ?? ''} ${event.step + 1}/${steps || '?'}${etaText}`);
      } else if (event.type === 'checkpoint/writing') {
        // A stopped run's checkpoint can take seconds to write: say so rather than look stuck.
        const msg = `${run.stopping ? 'stopping: ' : ''}writing checkpoint ${event.step} (${(event.bytes / 2 ** 20).toFixed(1)} MiB)`;
        progress.report({ message: msg });
        status.text(`$(sync~spin) RBP ${msg}`);
      } else if (event.type === 'diagnostics') {
        // ρ(J) and the verdict in the status bar's tooltip, as of the step they were measured at.
        status.tooltip(`RBP Lab: ${run.runId} is running — click to stop\nAs of step ${event.step}: ${event.verdict.message}`);
      } else if (event.type === 'gradcheck/row') {
        // A gradient check's rows stream in: method, K and its error vs exact.
        const r = event.row;
        progress.report({ message: `${r.method}${r.K !== null ? ` K=${r.K}` : ''}: rel. error vs exact ${r.relErrExact.toExponential(1)}`, increment: steps ? 100 / steps : undefined });
      }
    });
    return run.done.finally(() => sub.dispose());
  });
}

/** One line per event worth reading in the output channel. */
export function logEvent(output: vscode.OutputChannel, e: Envelope): void {
  switch (e.type) {
    case 'run/started':
      output.appendLine(`${e.runId}: ${e.title} · ${e.method}${e.K !== null ? ` K=${e.K}` : ''} · T=${e.T} · ${e.steps} ${e.stepLabel}s · backend ${e.backend.description} · Node ${e.backend.nodeVersion} (${e.backend.execPath})`);
      for (const n of e.notes) output.appendLine(`  note: ${n}`);
      break;
    case 'metrics':
      output.appendLine(`[${e.kind === 'eval' ? 'eval ' : ''}${e.step}] ${Object.entries(e.values).map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`).join(' ')}`);
      break;
    case 'diagnostics':
      output.appendLine(`[${e.step}] verdict as of step ${e.step}: ${e.verdict.level}: ${e.verdict.message}`);
      break;
    case 'log':
      output.appendLine(`${e.level === 'info' ? '' : e.level + ': '}${e.text}`);
      break;
    case 'run/finished':
      output.appendLine(`${e.runId}: ${e.status} in ${(e.elapsedMs / 1000).toFixed(1)} s`);
      break;
    case 'run/failed':
      output.appendLine(`${e.runId}: FAILED (${e.kind}): ${e.reason}`);
      break;
  }
}
