/**
 * The palette commands ("RBP Lab: …") and the run controller behind them: ask for the gradient
 * method and K, start the run in a worker process, show its progress (cancellable notification,
 * status bar, output channel, dashboard) and report how it ended.
 */
import * as vscode from 'vscode';
import { pickConfigFile, saveAndLoadConfig } from './configFiles';
import * as path from 'path';
import { startWorkerRun, chooseNode, findOnPath, WorkerRun, RunOutcome } from './workerHost';
import { setUpGpuBackend } from './gpuSetup';
import { Dashboard, DashboardDeps } from './dashboard';
import type { RunsStore } from './runsStore';
import type { Envelope, RunSpec } from '../protocol/messages';
import { BUILTIN_CONFIGS } from '../config/builtin';
import type { RbpConfig } from '../config/load';

export const UNTRUSTED_REASON = 'This workspace is not trusted: RBP Lab does not start runs here (a run executes experiment configs and native code from the workspace). Recorded runs can still be viewed. Trust the workspace to run experiments.';

const METHODS: { name: string; detail: string; usesK: boolean }[] = [
  { name: 'BPTT', detail: 'Back-propagation through time: the exact gradient of the T-step unroll; memory grows with T', usesK: false },
  { name: 'TBPTT', detail: 'Truncated BPTT: back-propagate through the last K steps only', usesK: true },
  { name: 'RBP', detail: 'Recurrent back-propagation (Almeida–Pineda): K adjoint iterations at the fixed point; constant memory', usesK: true },
  { name: 'CG_RBP', detail: 'Conjugate-gradient RBP: K CG iterations on the adjoint system’s normal equations', usesK: true },
  { name: 'Neumann_RBP', detail: 'Neumann-series RBP (the paper’s proposal): K terms of the Neumann series; stable when ρ(J) < 1', usesK: true },
];

interface Settings {
  nodePath: string;
  backend: string;
  defaultMethod: string;
  defaultK: number;
  steps: number;
  overrides: string[];
  dataDir: string;
  openDashboardOnRun: boolean;
  workerMaxMemoryMB: number;
}

function settings(): Settings {
  const c = vscode.workspace.getConfiguration('rbpLab');
  return {
    nodePath: c.get<string>('nodePath', ''),
    backend: c.get<string>('backend', 'auto'),
    defaultMethod: c.get<string>('defaultMethod', ''),
    defaultK: c.get<number>('defaultK', 0),
    steps: c.get<number>('steps', 0),
    overrides: c.get<string[]>('overrides', []),
    dataDir: c.get<string>('dataDir', ''),
    openDashboardOnRun: c.get<boolean>('openDashboardOnRun', true),
    workerMaxMemoryMB: c.get<number>('workerMaxMemoryMB', 0),
  };
}

function workspaceFolder(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** Where runs are recorded: `<workspace>/.rbp-lab/runs`, or the global storage without a workspace. */
export function runsRoot(ctx: vscode.ExtensionContext): string {
  const ws = workspaceFolder();
  return ws ? path.join(ws, '.rbp-lab', 'runs') : path.join(ctx.globalStorageUri.fsPath, 'runs');
}

function configDefaults(config: RbpConfig | undefined): { method?: string; K?: number } {
  const model = config?.model as Record<string, unknown> | undefined;
  return { method: typeof model?.grad_method === 'string' ? model.grad_method : undefined, K: typeof model?.truncate_iter === 'number' ? model.truncate_iter : undefined };
}

export class RunController implements vscode.Disposable {
  private readonly status: vscode.StatusBarItem;
  private statusTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: vscode.ExtensionContext,
    private readonly store: RunsStore,
    private readonly output: vscode.OutputChannel,
  ) {
    this.status = vscode.window.createStatusBarItem('rbpLab.run', vscode.StatusBarAlignment.Left, 50);
    this.status.name = 'RBP Lab run';
  }

  get dashboardDeps(): DashboardDeps {
    return { extensionUri: this.ctx.extensionUri, store: this.store, output: this.output, stopRun: (id) => this.stop(id), trust: () => (vscode.workspace.isTrusted ? { trusted: true } : { trusted: false, reason: UNTRUSTED_REASON }) };
  }

  /** Refuse in an untrusted workspace, and say why. */
  private checkTrust(): boolean {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window.showWarningMessage(`RBP Lab: ${UNTRUSTED_REASON}`, 'Manage Workspace Trust').then((a) => {
      if (a) void vscode.commands.executeCommand('workbench.trust.manage');
    });
    return false;
  }

  /** Ask for the method (and K) unless the settings fix them; undefined when the user cancels. */
  private async pickMethod(config: RbpConfig | undefined, s: Settings): Promise<{ method: string; K?: number } | undefined> {
    const fromConfig = configDefaults(config);
    let method = s.defaultMethod;
    if (!method) {
      const items: (vscode.QuickPickItem & { method: string })[] = METHODS.map((m) => ({ label: m.name, method: m.name, detail: m.detail, description: m.name === fromConfig.method ? 'the config’s method' : undefined }));
      items.sort((a, b) => (a.method === fromConfig.method ? -1 : b.method === fromConfig.method ? 1 : 0));
      const pick = await vscode.window.showQuickPick(items, { title: 'RBP Lab: gradient method', placeHolder: 'How should the gradient through the fixed point be computed?', matchOnDetail: true, ignoreFocusOut: true });
      if (!pick) return undefined;
      method = pick.method;
    }
    if (!METHODS.find((m) => m.name === method)?.usesK) return { method };
    if (s.defaultK > 0) return { method, K: s.defaultK };
    const value = await vscode.window.showInputBox({
      title: `RBP Lab: K for ${method}`,
      prompt: method === 'TBPTT' ? 'Truncation: back-propagate through this many steps' : 'Backward iterations K',
      value: String(fromConfig.K ?? 20),
      ignoreFocusOut: true,
      validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 ? undefined : 'an integer ≥ 1'),
    });
    if (value === undefined) return undefined;
    return { method, K: Number(value) };
  }

  /** Launch `experiment` (a built-in name or a config file path); `opts.method` skips the method/K questions, `opts.gradcheck` runs a gradient check. */
  async launch(experiment: string, config: RbpConfig | undefined, opts: { method?: string; K?: number; gradcheck?: RunSpec['gradcheck'] } = {}): Promise<WorkerRun | undefined> {
    if (!this.checkTrust()) return undefined;
    const s = settings();
    const picked = opts.method ? { method: opts.method, K: opts.K } : await this.pickMethod(config, s);
    if (!picked) return undefined;
    const ws = workspaceFolder();
    const spec: RunSpec = {
      experiment,
      method: picked.method,
      K: picked.K,
      steps: s.steps > 0 ? s.steps : undefined,
      backend: s.backend || 'auto',
      dataDir: s.dataDir ? (path.isAbsolute(s.dataDir) || !ws ? s.dataDir : path.join(ws, s.dataDir)) : undefined,
      nativeSearchPaths: [this.ctx.globalStorageUri.fsPath, ...(ws ? [ws] : [])],
      overrides: s.overrides.length ? s.overrides : undefined,
      gradcheck: opts.gradcheck,
    };
    const node = chooseNode(s.nodePath);
    this.output.appendLine(`── ${new Date().toLocaleTimeString()} starting ${experiment} with ${picked.method}${picked.K ? ` K=${picked.K}` : ''}; worker Node: ${node.description}`);
    const run = startWorkerRun(
      spec,
      { workerScript: this.ctx.asAbsolutePath(path.join('dist', 'worker.js')), runsRoot: runsRoot(this.ctx), node, maxOldSpaceMB: s.workerMaxMemoryMB > 0 ? s.workerMaxMemoryMB : undefined },
      {
        onEvent: (e) => {
          this.logEvent(e);
          this.store.publish(e.runId, e);
        },
        onLog: (line) => this.output.appendLine(line),
      },
    );
    this.store.track(run);
    if (s.openDashboardOnRun) Dashboard.show(this.dashboardDeps, { runId: run.runId, preserveFocus: true });
    this.showProgress(run, experiment);
    void run.done.then((o) => this.reportEnd(run, o));
    return run;
  }

  private showProgress(run: WorkerRun, experiment: string): void {
    this.setStatus(`$(sync~spin) RBP ${path.basename(experiment)} ${run.spec.method ?? ''}`, 'rbpLab.stopRun', `RBP Lab: ${run.runId} is running — click to stop`);
    const gc = run.spec.gradcheck;
    const what = gc ? `gradient check ${(gc.methods ?? []).map((m) => m.replace('_RBP', '-RBP')).join(' vs ')} at K = ${gc.Ks.join(', ')}` : `${run.spec.method ?? ''}${run.spec.K ? ` K=${run.spec.K}` : ''}`;
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `RBP Lab: ${path.basename(experiment)} · ${what}`, cancellable: true }, (progress, token) => {
      token.onCancellationRequested(() => run.cancel());
      let steps = 0;
      const sub = this.store.onRunEvent(({ runId, event }) => {
        if (runId !== run.runId) return;
        if (event.type === 'run/started') {
          steps = event.steps;
          progress.report({ message: `${event.backend.name} · starting…` });
        } else if (event.type === 'metrics' && event.kind === 'train') {
          const loss = event.values.loss;
          const msg = `${event.step + 1}/${steps || '?'} · loss ${typeof loss === 'number' ? loss.toPrecision(4) : '–'}`;
          progress.report({ message: msg, increment: steps ? 100 / steps : undefined });
          this.status.text = `$(sync~spin) RBP ${run.spec.method ?? ''} ${event.step + 1}/${steps || '?'}`;
        } else if (event.type === 'gradcheck/row') {
          // A gradient check's rows stream in: method, K and its error vs exact.
          const r = event.row;
          progress.report({ message: `${r.method}${r.K !== null ? ` K=${r.K}` : ''}: rel. error vs exact ${r.relErrExact.toExponential(1)}`, increment: steps ? 100 / steps : undefined });
        }
      });
      return run.done.finally(() => sub.dispose());
    });
  }

  private setStatus(text: string, command: string | undefined, tooltip: string): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.status.text = text;
    this.status.command = command;
    this.status.tooltip = tooltip;
    this.status.show();
  }

  private logEvent(e: Envelope): void {
    switch (e.type) {
      case 'run/started':
        this.output.appendLine(`${e.runId}: ${e.title} · ${e.method}${e.K !== null ? ` K=${e.K}` : ''} · T=${e.T} · ${e.steps} ${e.stepLabel}s · backend ${e.backend.description} · Node ${e.backend.nodeVersion} (${e.backend.execPath})`);
        for (const n of e.notes) this.output.appendLine(`  note: ${n}`);
        break;
      case 'metrics':
        this.output.appendLine(`[${e.kind === 'eval' ? 'eval ' : ''}${e.step}] ${Object.entries(e.values).map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`).join(' ')}`);
        break;
      case 'diagnostics':
        this.output.appendLine(`[${e.step}] ${e.verdict.level}: ${e.verdict.message}`);
        break;
      case 'log':
        this.output.appendLine(`${e.level === 'info' ? '' : e.level + ': '}${e.text}`);
        break;
      case 'run/finished':
        this.output.appendLine(`${e.runId}: ${e.status} in ${(e.elapsedMs / 1000).toFixed(1)} s`);
        break;
      case 'run/failed':
        this.output.appendLine(`${e.runId}: FAILED (${e.kind}): ${e.reason}`);
        break;
    }
  }

  private async reportEnd(run: WorkerRun, o: RunOutcome): Promise<void> {
    const name = `${path.basename(run.spec.experiment)} · ${run.spec.method ?? ''}`;
    const active = this.store.activeRuns.filter((r) => r !== run);
    if (active.length) this.setStatus(`$(sync~spin) RBP ${active[0].spec.method ?? ''}`, 'rbpLab.stopRun', `RBP Lab: ${active[0].runId} is running`);
    else {
      const icon = o.status === 'completed' ? '$(pass)' : o.status === 'cancelled' ? '$(circle-slash)' : '$(error)';
      this.setStatus(`${icon} RBP ${o.status}`, 'rbpLab.openDashboard', `RBP Lab: ${run.runId} ${o.status}${o.reason ? ` — ${o.reason}` : ''}`);
      this.statusTimer = setTimeout(() => this.status.hide(), 30_000);
    }
    const open = 'Open Dashboard';
    const showLog = 'Show Log';
    let action: string | undefined;
    if (o.status === 'failed') action = await vscode.window.showErrorMessage(`RBP Lab: ${name} failed (${o.kind}): ${o.reason}`, open, showLog);
    else if (o.status === 'cancelled') action = await vscode.window.showInformationMessage(`RBP Lab: ${name} stopped; what it recorded is kept in ${o.dir}.`, open);
    else action = await vscode.window.showInformationMessage(`RBP Lab: ${name} completed.`, open);
    if (action === open) Dashboard.show(this.dashboardDeps, { runId: run.runId });
    if (action === showLog) this.output.show(true);
  }

  /** Stop a run: the given one, the only one, or one picked. */
  async stop(runId?: string): Promise<void> {
    const active = this.store.activeRuns;
    let run = runId ? this.store.getActive(runId) : active.length === 1 ? active[0] : undefined;
    if (!run && !runId && active.length > 1) {
      const pick = await vscode.window.showQuickPick(
        active.map((r) => ({ label: r.runId, run: r })),
        { title: 'RBP Lab: stop which run?' },
      );
      run = pick?.run;
    }
    if (!run) {
      if (!active.length) void vscode.window.showInformationMessage('RBP Lab: no run is running.');
      return;
    }
    run.cancel();
  }

  async setUpGpu(): Promise<void> {
    if (!this.checkTrust()) return;
    const s = settings();
    const node = s.nodePath || findOnPath('node');
    if (!node) {
      void vscode.window.showErrorMessage('RBP Lab: the GPU backend needs a system Node.js (18+) on PATH, or set rbpLab.nodePath: @tensorflow/tfjs-node-gpu is a native addon built for it, not for VS Code’s own runtime.');
      return;
    }
    this.output.show(true);
    const storage = this.ctx.globalStorageUri.fsPath;
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'RBP Lab: setting up the GPU backend', cancellable: true }, async (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return setUpGpuBackend({
        storageDir: storage,
        nodePath: node,
        pinDir: this.ctx.asAbsolutePath(path.join('native', 'gpu')),
        signal: abort.signal,
        log: (line) => {
          this.output.appendLine(line);
          progress.report({ message: line.slice(0, 80) });
        },
      });
    });
    this.output.appendLine(result.ok ? `✓ ${result.message}` : `✗ ${result.failure}: ${result.message}`);
    if (result.ok) void vscode.window.showInformationMessage(`RBP Lab: ${result.message}`);
    else {
      const a = await vscode.window.showErrorMessage(`RBP Lab: GPU backend set-up failed — ${result.message}`, 'Show Log');
      if (a) this.output.show(true);
    }
  }

  dispose(): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.status.dispose();
  }
}

/** Register every palette command. */
export function registerCommands(controller: RunController, store: RunsStore): vscode.Disposable[] {
  const builtin = (name: string) => () => controller.launch(name, BUILTIN_CONFIGS[name]);
  return [
    vscode.commands.registerCommand('rbpLab.runHopfield', builtin('hopfield')),
    vscode.commands.registerCommand('rbpLab.runCitation', async (dataset?: string) => {
      let name = typeof dataset === 'string' ? dataset.toLowerCase() : undefined;
      if (!name) {
        const pick = await vscode.window.showQuickPick(
          [
            { label: 'Cora', name: 'cora', detail: '2,708 papers, 7 classes' },
            { label: 'Pubmed', name: 'pubmed', detail: '19,717 papers, 3 classes' },
            { label: 'CiteSeer', name: 'citeseer', detail: '3,327 papers, 6 classes' },
          ],
          { title: 'RBP Lab: citation dataset', placeHolder: 'Semi-supervised node classification with a GNN' },
        );
        name = pick?.name;
      }
      if (name) return controller.launch(name, BUILTIN_CONFIGS[name]);
    }),
    vscode.commands.registerCommand('rbpLab.runHypergrad', builtin('hypergrad')),
    vscode.commands.registerCommand('rbpLab.runConfig', async (uri?: vscode.Uri) => {
      const file = await pickConfigFile(uri);
      if (!file) return;
      // An invalid config still launches: the worker reports what is wrong with it, as a failed run.
      const config = await saveAndLoadConfig(file).catch(() => undefined);
      return controller.launch(file.fsPath, config);
    }),
    vscode.commands.registerCommand('rbpLab.stopRun', (runId?: string) => controller.stop(typeof runId === 'string' ? runId : undefined)),
    vscode.commands.registerCommand('rbpLab.openDashboard', (runId?: string) => Dashboard.show(controller.dashboardDeps, { runId: typeof runId === 'string' ? runId : undefined })),
    vscode.commands.registerCommand('rbpLab.compareRuns', async () => {
      const runs = store.list();
      if (!runs.length) {
        void vscode.window.showInformationMessage('RBP Lab: no recorded runs to compare yet.');
        return;
      }
      const picks = await vscode.window.showQuickPick(
        runs.map((r) => ({ label: `${r.experiment} · ${r.method}${r.K !== null ? ` K=${r.K}` : ''}`, description: r.status, detail: `${r.runId}${r.finalMetrics.loss !== undefined ? ` · loss ${r.finalMetrics.loss.toPrecision(4)}` : ''}`, runId: r.runId })),
        { title: 'RBP Lab: compare runs', canPickMany: true, placeHolder: 'Pick the runs to overlay' },
      );
      if (picks?.length) Dashboard.show(controller.dashboardDeps, { overlay: picks.map((p) => p.runId) });
    }),
    vscode.commands.registerCommand('rbpLab.setUpGpu', () => controller.setUpGpu()),
  ];
}
