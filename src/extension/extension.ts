/**
 * RBP Lab's extension entry point: wiring only. Runs execute in worker processes
 * (workerHost.ts), are recorded under `.rbp-lab/runs/` (runsStore.ts) and shown in the dashboard
 * webview (dashboard.ts); the palette commands live in commands.ts.
 */
import * as vscode from 'vscode';
import { RunsStore } from './runsStore';
import { RunController, registerCommands, runsRoot } from './commands';
import { Dashboard, registerDashboardSerializer } from './dashboard';
import { registerRunsTree } from './runsTree';
import { registerCompare } from './compare';
import { registerConfigEditor } from './configEditor';
import { registerModelTemplate } from './modelTemplate';

export interface RbpLabApi {
  store: RunsStore;
  controller: RunController;
}

export function activate(ctx: vscode.ExtensionContext): RbpLabApi {
  const output = vscode.window.createOutputChannel('RBP Lab');
  const store = new RunsStore(runsRoot(ctx));
  const controller = new RunController(ctx, store, output);
  ctx.subscriptions.push(
    output,
    controller,
    { dispose: () => store.dispose() },
    registerDashboardSerializer(controller.dashboardDeps),
    ...registerCommands(controller, store),
    ...registerRunsTree(store, () => controller.dashboardDeps),
    ...registerCompare(controller),
    ...registerModelTemplate(ctx),
    vscode.workspace.onDidGrantWorkspaceTrust(() => Dashboard.instance?.sendTrust()),
  );
  ctx.subscriptions.push(...registerConfigEditor(ctx, { store, controller }));
  return { store, controller };
}

export function deactivate(): void {
  /* subscriptions end the workers */
}
