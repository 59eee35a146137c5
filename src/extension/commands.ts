/**
 * The palette commands ("RBP Lab: …") and the run controller behind them: the questions
 * (methodPicker.ts), the run in a worker process (workerHost.ts), its progress (runStatus.ts) and
 * how it ended. Trust: trust.ts; settings: settings.ts; GPU set-up: gpuCommand.ts.
 */
import * as vscode from 'vscode';
import { pickConfigFile, saveAndLoadConfig } from './configFiles';
import * as path from 'path';
import { startWorkerRun, chooseNode, WorkerRun, RunOutcome } from './workerHost';
import { Dashboard, DashboardDeps } from './dashboard';
import type { RunsStore } from './runsStore';
import type { RunSpec } from '../protocol/messages';
import { BUILTIN_CONFIGS } from '../config/builtin';
import type { RbpConfig } from '../config/load';
import { settings, workspaceFolder, resolveDataDir, runsRoot } from './settings';
import { ensureTrusted, trustState } from './trust';
import { pickMethod } from './methodPicker';
import { RunStatusBar, showProgress, logEvent } from './runStatus';
import { setUpGpuCommand } from './gpuCommand';
import { nativeSearchPaths } from './gpuSetup';

export { runsRoot };

export class RunController implements vscode.Disposable {
  private readonly status = new RunStatusBar();

  constructor(
    private readonly ctx: vscode.ExtensionContext,
    private readonly store: RunsStore,
    private readonly output: vscode.OutputChannel,
  ) {}

  get dashboardDeps(): DashboardDeps {
    return { extensionUri: this.ctx.extensionUri, store: this.store, output: this.output, stopRun: (id) => this.stop(id), trust: trustState, memento: this.ctx.workspaceState };
  }

  /** Launch `experiment` (a built-in name or a config file path; `opts.config`: this resolved config under that name); `opts.method` skips the method/K questions, `opts.gradcheck` runs a gradient check. */
  async launch(experiment: string, config: RbpConfig | undefined, opts: { method?: string; K?: number; gradcheck?: RunSpec['gradcheck']; config?: RunSpec['config']; configDir?: string } = {}): Promise<WorkerRun | undefined> {
    if (!ensureTrusted()) return undefined;
    const s = settings();
    const picked = opts.method ? { method: opts.method, K: opts.K } : await pickMethod(config, s);
    if (!picked) return undefined;
    const ws = workspaceFolder();
    const spec: RunSpec = {
      experiment,
      // A recorded run's resolved config (Compare at a checkpoint: the model of the run it came from).
      config: opts.config,
      configDir: opts.configDir,
      method: picked.method,
      K: picked.K,
      steps: s.steps > 0 ? s.steps : undefined,
      backend: s.backend || 'auto',
      threads: s.threads > 0 ? s.threads : undefined,
      dataDir: resolveDataDir(s.dataDir, ws) || undefined,
      nativeSearchPaths: nativeSearchPaths(this.ctx.globalStorageUri.fsPath, ws),
      overrides: s.overrides.length ? s.overrides : undefined,
      gradcheck: opts.gradcheck,
      probeEvery: opts.gradcheck ? undefined : s.probeEvery,
    };
    const node = chooseNode(s.nodePath);
    this.output.appendLine(`── ${new Date().toLocaleTimeString()} starting ${experiment} with ${picked.method}${picked.K ? ` K=${picked.K}` : ''}; worker Node: ${node.description}`);
    const run = startWorkerRun(
      spec,
      { workerScript: this.ctx.asAbsolutePath(path.join('dist', 'worker.js')), runsRoot: runsRoot(this.ctx), node, maxOldSpaceMB: s.workerMaxMemoryMB > 0 ? s.workerMaxMemoryMB : undefined },
      {
        onEvent: (e) => {
          logEvent(this.output, e);
          this.store.publish(e.runId, e);
        },
        onLog: (line) => this.output.appendLine(line),
      },
    );
    this.store.track(run);
    if (s.openDashboardOnRun) Dashboard.show(this.dashboardDeps, { runId: run.runId, preserveFocus: true });
    showProgress(run, experiment, this.store, this.status);
    void run.done.then((o) => this.reportEnd(run, o));
    return run;
  }

  private async reportEnd(run: WorkerRun, o: RunOutcome): Promise<void> {
    const name = `${path.basename(run.spec.experiment)} · ${run.spec.method ?? ''}`;
    this.status.ended(run, o, this.store.activeRuns.filter((r) => r !== run));
    const open = 'Open Dashboard';
    const showLog = 'Show Log';
    let action: string | undefined;
    // Only a failure needs the user: a completed or stopped run is routine — the status bar says so
    // (click: the dashboard) and the output channel keeps the line.
    if (o.status === 'failed') action = await vscode.window.showErrorMessage(`RBP Lab: ${name} failed (${o.kind}): ${o.reason}`, open, showLog);
    else this.output.appendLine(`${run.runId}: ${name} ${o.status === 'cancelled' ? `stopped; what it recorded is kept in ${o.dir}` : 'completed'}`);
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

  setUpGpu(): Promise<void> {
    return setUpGpuCommand(this.ctx, this.output);
  }

  dispose(): void {
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
