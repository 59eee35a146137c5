/**
 * The "RBP Lab Runs" tree view (activity bar): every recorded run, newest first, with its status
 * icon, experiment · method · K, date and final metrics; live runs refresh as they progress.
 * The store's listing is read whole once (and on Refresh); a change of some runs reads those runs
 * alone and redraws their items (`onDidChangeTreeData.fire(item)`), or the root from the cached
 * items when a run is added or removed.
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
  run!: RunDescription;
  constructor(run: RunDescription, live: boolean, checked: boolean, hasCheckpoints = false) {
    super(run.runId, vscode.TreeItemCollapsibleState.None);
    this.id = run.runId;
    this.show(run, live, checked, hasCheckpoints);
  }

  /** Show the run as it is now: the same item, so that the tree redraws it alone. */
  show(run: RunDescription, live: boolean, checked: boolean, hasCheckpoints = false): void {
    const v = runItemView(run, live, hasCheckpoints);
    this.run = run;
    this.label = v.label;
    this.description = v.description;
    this.tooltip = v.tooltip;
    this.iconPath = new vscode.ThemeIcon(v.icon, v.iconColour ? new vscode.ThemeColor(v.iconColour) : undefined);
    this.contextValue = v.contextValue;
    this.checkboxState = checked ? vscode.TreeItemCheckboxState.Checked : vscode.TreeItemCheckboxState.Unchecked;
    this.command = { command: 'rbpLab.openDashboard', title: 'Show Run', arguments: [run.runId] };
  }
}

/** What the tree reads of the runs store. */
export type TreeStore = Pick<RunsStore, 'list' | 'describe' | 'isActive' | 'checkpointSteps' | 'onDidChange' | 'onRunEvent'>;

export class RunsTreeProvider implements vscode.TreeDataProvider<RunItem>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<RunItem | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  readonly checked = new Set<string>();
  /** The store's listing as items, newest first (undefined: list it again on the next getChildren). */
  private items: RunItem[] | undefined;
  /** The runs to read again at the next redraw ('all': the whole listing). */
  private pending: Set<string> | 'all' = new Set();
  private timer: NodeJS.Timeout | undefined;
  private readonly subs: { dispose(): void }[] = [];

  constructor(private readonly store: TreeStore) {
    this.subs.push(
      store.onDidChange((change) => this.schedule(change?.runIds, 100)),
      // Live runs: their final metrics in the description, at most once a second.
      store.onRunEvent(({ runId, event }) => {
        if (event.type === 'metrics' || event.type === 'gradcheck/row' || event.type === 'diagnostics' || event.type === 'checkpoint') this.schedule([runId], 1000);
      }),
    );
  }

  /** Redraw these runs (undefined: list every run again) within `ms`, with whatever else is pending. */
  private schedule(runIds: readonly string[] | undefined, ms: number): void {
    if (!runIds) this.pending = 'all';
    else if (this.pending !== 'all') for (const id of runIds) this.pending.add(id);
    this.timer ??= setTimeout(() => this.redraw(), ms);
  }

  /** Redraw these runs now (undefined: all of them, listed again). */
  refresh(runIds?: readonly string[]): void {
    this.schedule(runIds, 0);
  }

  private redraw(): void {
    this.timer = undefined;
    const pending = this.pending;
    this.pending = new Set();
    if (pending === 'all' || !this.items) {
      this.items = undefined;
      this.emitter.fire(undefined);
      return;
    }
    const items = this.items;
    let rootChanged = false; // a run added or removed
    const changed: RunItem[] = [];
    for (const id of pending) {
      const at = items.findIndex((it) => it.run.runId === id);
      const d = this.store.describe(id);
      if (!d) {
        // gone: the root redraws from the items left
        if (at >= 0) items.splice(at, 1);
        this.checked.delete(id);
        rootChanged ||= at >= 0;
      } else if (at >= 0 && items[at].run.startedAt === d.startedAt) {
        this.show(items[at], d);
        changed.push(items[at]);
      } else {
        // new (or moved): in its place in the newest-first order
        if (at >= 0) items.splice(at, 1);
        const before = items.findIndex((it) => d.startedAt.localeCompare(it.run.startedAt) > 0);
        items.splice(before < 0 ? items.length : before, 0, this.show(undefined, d));
        rootChanged = true;
      }
    }
    if (rootChanged) this.emitter.fire(undefined); // getChildren answers from the items: no other run is read
    else for (const it of changed) this.emitter.fire(it);
  }

  /** `item` (or a new one) showing the run `d` as it is now. */
  private show(item: RunItem | undefined, d: RunDescription): RunItem {
    const args = [d, this.store.isActive(d.runId), this.checked.has(d.runId), d.method !== 'gradcheck' && this.hasCheckpoints(d.runId)] as const;
    if (!item) return new RunItem(...args);
    item.show(...args);
    return item;
  }

  getTreeItem(e: RunItem): vscode.TreeItem {
    return e;
  }

  getChildren(e?: RunItem): RunItem[] {
    if (e) return [];
    if (!this.items) {
      const runs = this.store.list();
      const ids = new Set(runs.map((r) => r.runId));
      for (const id of [...this.checked]) if (!ids.has(id)) this.checked.delete(id);
      this.items = runs.map((r) => this.show(undefined, r));
    }
    return [...this.items];
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
    if (store.activeRuns.some((r) => r.runId === runId)) return provider.refresh([runId]);
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
