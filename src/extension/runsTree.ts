/**
 * The "RBP Lab Runs" tree view (activity bar): every recorded run, newest first, with its status
 * icon, experiment · method · K, date and final metrics; live runs refresh as they progress.
 * Click: show the run in the dashboard (a gradient check shows its comparison view). Check
 * several (or multi-select) and "Compare Selected Runs" overlays them. Context menu: rename (a
 * label in run.json), delete (asks first, removes the folder), and for a run with checkpoints
 * "Compare TBPTT vs Neumann-RBP at a Checkpoint…" (a quick pick of its steps; compare.ts).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RunsStore, runItemView } from './runsStore';
import type { RunDescription } from '../run/recorder';
import { Dashboard, DashboardDeps } from './dashboard';

export const RUNS_VIEW_ID = 'rbpLab.runs';

export class RunItem extends vscode.TreeItem {
  constructor(
    readonly run: RunDescription,
    live: boolean,
    checked: boolean,
    hasCheckpoints = false,
  ) {
    const v = runItemView(run, live, hasCheckpoints);
    super(v.label, vscode.TreeItemCollapsibleState.None);
    this.id = run.runId;
    this.description = v.description;
    this.tooltip = v.tooltip;
    this.iconPath = new vscode.ThemeIcon(v.icon, v.iconColour ? new vscode.ThemeColor(v.iconColour) : undefined);
    this.contextValue = v.contextValue;
    this.checkboxState = checked ? vscode.TreeItemCheckboxState.Checked : vscode.TreeItemCheckboxState.Unchecked;
    this.command = { command: 'rbpLab.openDashboard', title: 'Show Run', arguments: [run.runId] };
  }
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunItem>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<RunItem | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  readonly checked = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly subs: { dispose(): void }[] = [];

  constructor(private readonly store: RunsStore) {
    this.subs.push(
      store.onDidChange(() => this.schedule(100)),
      // Live runs: their final metrics in the description, at most once a second.
      store.onRunEvent(({ event }) => {
        if (event.type === 'metrics' || event.type === 'gradcheck/row' || event.type === 'diagnostics' || event.type === 'checkpoint') this.schedule(1000);
      }),
    );
  }

  private schedule(ms: number): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.emitter.fire(undefined);
    }, ms);
  }

  refresh(): void {
    this.emitter.fire(undefined);
  }

  getTreeItem(e: RunItem): vscode.TreeItem {
    return e;
  }

  getChildren(e?: RunItem): RunItem[] {
    if (e) return [];
    const runs = this.store.list();
    const ids = new Set(runs.map((r) => r.runId));
    for (const id of [...this.checked]) if (!ids.has(id)) this.checked.delete(id);
    return runs.map((r) => new RunItem(r, this.store.isActive(r.runId), this.checked.has(r.runId), r.method !== 'gradcheck' && this.hasCheckpoints(r.runId)));
  }

  private hasCheckpoints(runId: string): boolean {
    try {
      return this.store.checkpointSteps(runId).length > 0;
    } catch {
      return false;
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subs) s.dispose();
    this.emitter.dispose();
  }
}

function runIdsOf(arg: unknown, selection: readonly RunItem[] | undefined, checked: Iterable<string>): string[] {
  const ids = new Set<string>();
  const add = (x: unknown) => {
    if (x instanceof RunItem) ids.add(x.run.runId);
    else if (typeof x === 'string') ids.add(x);
  };
  if (Array.isArray(arg)) arg.forEach(add);
  else add(arg);
  for (const s of selection ?? []) ids.add(s.run.runId);
  for (const c of checked) ids.add(c);
  return [...ids];
}

/** The tree view and its commands (compare selected, rename, delete, refresh). */
export function registerRunsTree(store: RunsStore, deps: () => DashboardDeps): vscode.Disposable[] {
  const provider = new RunsTreeProvider(store);
  const view = vscode.window.createTreeView(RUNS_VIEW_ID, { treeDataProvider: provider, canSelectMany: true, showCollapseAll: false, manageCheckboxStateManually: true });
  const updateMessage = () => {
    view.message = provider.checked.size ? `${provider.checked.size} run${provider.checked.size > 1 ? 's' : ''} checked — Compare Selected Runs overlays them` : undefined;
  };
  const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(store.root), '*/run.json'));
  const pick = async (arg: unknown, title: string): Promise<RunDescription | undefined> => {
    const id = arg instanceof RunItem ? arg.run.runId : typeof arg === 'string' ? arg : view.selection[0]?.run.runId;
    if (id) return store.list().find((r) => r.runId === id);
    const runs = store.list();
    const p = await vscode.window.showQuickPick(
      runs.map((r) => ({ label: runItemView(r).label, description: runItemView(r).description, run: r })),
      { title },
    );
    return p?.run;
  };
  // A run.json written by another process (`rbp run --runs-dir` into this root, a run deleted on
  // disk) reaches the store's listeners — the tree and the dashboard's runs table — at most once a
  // second; the store's own runs fire their changes themselves (start and end), so their writes
  // (up to one a second while they train) only redraw the tree. The change names the runs whose
  // run.json changed: the dashboard reads those alone (RunsStore.update).
  let external: NodeJS.Timeout | undefined;
  const touched = new Set<string>();
  const onDisk = (uri: vscode.Uri) => {
    const runId = path.basename(path.dirname(uri.fsPath));
    if (store.activeRuns.some((r) => r.runId === runId)) return provider.refresh();
    touched.add(runId);
    external ??= setTimeout(() => {
      external = undefined;
      const runIds = [...touched];
      touched.clear();
      store.refresh(runIds);
    }, 1000);
  };
  return [
    provider,
    view,
    watcher,
    watcher.onDidCreate(onDisk),
    watcher.onDidDelete(onDisk),
    watcher.onDidChange(onDisk),
    { dispose: () => clearTimeout(external) },
    view.onDidChangeCheckboxState((e) => {
      for (const [item, st] of e.items) {
        if (st === vscode.TreeItemCheckboxState.Checked) provider.checked.add(item.run.runId);
        else provider.checked.delete(item.run.runId);
      }
      updateMessage();
    }),
    vscode.commands.registerCommand('rbpLab.refreshRuns', () => store.refresh()), // the tree and the dashboard's runs table
    vscode.commands.registerCommand('rbpLab.compareSelectedRuns', (arg?: unknown, multi?: unknown) => {
      const ids = runIdsOf(multi ?? arg, view.selection, provider.checked).filter((id) => store.list().some((r) => r.runId === id && r.method !== 'gradcheck'));
      if (ids.length < 1) {
        void vscode.window.showInformationMessage('RBP Lab: check (or select) the training runs to compare in the RBP Lab Runs view, then Compare Selected Runs.');
        return;
      }
      Dashboard.show(deps(), { overlay: ids });
    }),
    vscode.commands.registerCommand('rbpLab.renameRun', async (arg?: unknown) => {
      const run = await pick(arg, 'RBP Lab: rename which run?');
      if (!run) return;
      const label = await vscode.window.showInputBox({ title: `RBP Lab: label for ${run.runId}`, prompt: 'Shown in the runs view and the charts’ legends; empty to clear', value: run.label ?? '' });
      if (label === undefined) return;
      try {
        store.rename(run.runId, label);
      } catch (err) {
        void vscode.window.showErrorMessage(`RBP Lab: could not rename ${run.runId}: ${(err as Error).message}`);
      }
    }),
    vscode.commands.registerCommand('rbpLab.deleteRun', async (arg?: unknown, multi?: unknown) => {
      let ids = runIdsOf(multi ?? arg, undefined, []);
      if (!ids.length) {
        const run = await pick(undefined, 'RBP Lab: delete which run?');
        if (!run) return;
        ids = [run.runId];
      }
      const live = ids.filter((id) => store.isActive(id));
      if (live.length) {
        void vscode.window.showWarningMessage(`RBP Lab: ${live.join(', ')} is still running; stop it first.`);
        return;
      }
      const names = ids.map((id) => store.list().find((r) => r.runId === id)).map((r, i) => (r ? runItemView(r).label : ids[i]));
      const ok = await vscode.window.showWarningMessage(ids.length === 1 ? `Delete the run “${names[0]}”?` : `Delete ${ids.length} runs?`, { modal: true, detail: `This removes ${ids.length === 1 ? 'its folder' : 'their folders'} (run.json and events.jsonl) from ${store.root}.` }, 'Delete');
      if (ok !== 'Delete') return;
      for (const id of ids) {
        try {
          store.delete(id);
          provider.checked.delete(id);
        } catch (err) {
          void vscode.window.showErrorMessage(`RBP Lab: could not delete ${id}: ${(err as Error).message}`);
        }
      }
      updateMessage();
    }),
  ];
}
