/**
 * The dashboard panel: one webview that shows a run live (or replayed from disk), plus its
 * serializer so it comes back after a reload or a restart. The host sends the webview only what
 * the charts draw, batched at most every 100 ms; messages from the webview are validated.
 */
import * as vscode from 'vscode';
import * as path from 'path';
import { parseWebviewMessage, HostToWebview, WebviewState, Envelope, OverlaySeries, OverlaySettings, WebviewToHost } from '../protocol/messages';
import { dashboardHtml, makeNonce } from './dashboardHtml';
import { replaySelection, overlaySeries } from './replay';
import type { RunsChange, RunsStore } from './runsStore';

export const DASHBOARD_VIEW_TYPE = 'rbpLab.dashboard';

export interface DashboardDeps {
  extensionUri: vscode.Uri;
  store: RunsStore;
  output: vscode.OutputChannel;
  /** Stop a live run (the panel's Stop button). */
  stopRun(runId: string): void;
  /** Whether runs may start, and why not. */
  trust(): { trusted: boolean; reason?: string };
  /** Workspace state: the runs picked in the runs table outlive the panel (closed and opened again). */
  memento?: Pick<vscode.Memento, 'get' | 'update'>;
}

/** workspaceState key of the picked (overlaid) runs. */
export const PICKED_KEY = 'rbpLab.dashboard.pickedRuns';
/** workspaceState key of the overlay's panels and controls (issue 19: small multiples outlive the panel too). */
export const OVERLAY_KEY = 'rbpLab.dashboard.overlay';

const FLUSH_MS = 100;

export class Dashboard implements vscode.Disposable {
  private static current: Dashboard | undefined;

  private ready = false;
  private disposed = false;
  private runId: string | undefined;
  private overlayIds: string[] = [];
  /** The overlay's panels and controls as last known (the webview's state, else the workspace state's). */
  private overlaySettings: OverlaySettings | undefined;
  private pending: Envelope[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private runsTimer: NodeJS.Timeout | undefined;
  /** The runs changed since the last runs message; undefined: list them all again. */
  private runsChanged: Set<string> | undefined = new Set();
  private readonly disposables: vscode.Disposable[] = [];

  /** Open (or reveal) the dashboard; show `runId`, or overlay `overlay` runs. */
  static show(deps: DashboardDeps, opts: { runId?: string; overlay?: string[]; preserveFocus?: boolean } = {}): Dashboard {
    if (Dashboard.current) {
      Dashboard.current.panel.reveal(undefined, opts.preserveFocus);
    } else {
      const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, 'RBP Lab', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: opts.preserveFocus }, Dashboard.webviewOptions(deps.extensionUri));
      Dashboard.current = new Dashboard(panel, deps, {});
    }
    const d = Dashboard.current;
    if (opts.runId) d.select(opts.runId);
    if (opts.overlay) d.setOverlay(opts.overlay);
    return d;
  }

  /** The serializer's half: a panel VS Code restored after a reload/restart. */
  static revive(panel: vscode.WebviewPanel, deps: DashboardDeps, state: WebviewState | undefined): Dashboard {
    Dashboard.current?.dispose();
    Dashboard.current = new Dashboard(panel, deps, state ?? {});
    return Dashboard.current;
  }

  static get instance(): Dashboard | undefined {
    return Dashboard.current;
  }

  static webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      enableCommandUris: false,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
    };
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly deps: DashboardDeps,
    state: WebviewState,
  ) {
    this.runId = state.runId;
    this.overlayIds = state.overlayRunIds ?? deps.memento?.get<string[]>(PICKED_KEY)?.filter((id) => deps.store.knows(id)) ?? [];
    this.overlaySettings = state.overlay ?? deps.memento?.get<OverlaySettings>(OVERLAY_KEY);
    panel.webview.options = Dashboard.webviewOptions(deps.extensionUri);
    panel.iconPath = vscode.Uri.joinPath(deps.extensionUri, 'media', 'rbp-lab.svg');
    panel.webview.html = this.html();
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((raw: unknown) => this.onMessage(raw)),
      deps.store.onRunEvent(({ runId, event }) => {
        if (event.type === 'run/started' && runId !== this.runId && deps.store.isActive(runId)) {
          // A new run: follow it.
          this.select(runId);
          return;
        }
        if (runId === this.runId) this.enqueue(event);
      }),
      deps.store.onDidChange((c) => this.scheduleRuns(c)),
    );
  }

  get shownRunId(): string | undefined {
    return this.runId;
  }

  /** Show a run: reset the charts, replay what is recorded, then stream what comes. */
  select(runId: string): void {
    this.runId = runId;
    this.pending = [];
    this.deps.output.appendLine(`dashboard: showing ${runId}${this.ready ? '' : ' (when the panel is ready)'}`);
    if (this.ready) this.sendRun();
  }

  /** Tell the webview whether runs may start (after trust is granted). */
  sendTrust(): void {
    const t = this.deps.trust();
    this.post({ type: 'trust', trusted: t.trusted, reason: t.reason });
  }

  setOverlay(runIds: string[]): void {
    this.overlayIds = runIds;
    void this.deps.memento?.update(PICKED_KEY, runIds);
    if (this.ready) this.sendOverlay();
  }

  private html(): string {
    const w = this.panel.webview;
    const dist = (f: string) => w.asWebviewUri(vscode.Uri.joinPath(this.deps.extensionUri, 'dist', f)).toString();
    return dashboardHtml({ cspSource: w.cspSource, nonce: makeNonce(), scriptUri: dist('webview.js'), styleUri: dist('webview.css'), codiconUri: dist('codicon.css') });
  }

  /**
   * Post once the webview has said 'ready'. A hidden panel's webview is torn down (no
   * retainContextWhenHidden): what is posted meanwhile is dropped, and when it comes back it says
   * 'ready' again and gets the whole run replayed from disk.
   */
  private post(msg: HostToWebview): void {
    if (!this.ready) return;
    void this.panel.webview.postMessage(msg).then(undefined, (err: unknown) => this.deps.output.appendLine(`dashboard: postMessage failed: ${String(err)}`));
  }

  private onMessage(raw: unknown): void {
    let msg: WebviewToHost;
    try {
      // Shape, then run ids: both checked here, before anything acts on the message.
      msg = this.deps.store.checkWebviewMessage(parseWebviewMessage(raw));
    } catch (err) {
      this.deps.output.appendLine(`dashboard: ignored an invalid message from the webview: ${(err as Error).message}`);
      return;
    }
    switch (msg.type) {
      case 'ready': {
        this.ready = true;
        this.deps.output.appendLine(`dashboard: webview ready${msg.state?.runId ? ` (it was showing ${msg.state.runId})` : ''}`);
        const st = msg.state;
        if (!this.runId && st?.runId) this.runId = st.runId;
        if (!this.overlayIds.length && st?.overlayRunIds?.length) this.overlayIds = st.overlayRunIds;
        if (st?.overlay) this.overlaySettings = st.overlay;
        this.sendTrust();
        this.post({ type: 'runs', runs: this.deps.store.summaries() });
        this.sendTable();
        this.runId ??= this.deps.store.activeRuns[0]?.runId ?? this.deps.store.list()[0]?.runId;
        if (this.runId) this.sendRun();
        if (this.overlayIds.length) this.sendOverlay();
        break;
      }
      case 'stop':
        this.deps.stopRun(msg.runId);
        break;
      case 'select':
        this.select(msg.runId);
        break;
      case 'openRun':
        void vscode.window.showTextDocument(vscode.Uri.file(path.join(this.deps.store.dirOf(msg.runId), 'run.json')));
        break;
      case 'export':
        void this.exportData(msg);
        break;
      case 'compareAt':
        void vscode.commands.executeCommand('rbpLab.compareAtCheckpoint', { runId: msg.runId, step: msg.step });
        break;
      case 'pickRuns':
        this.setOverlay(msg.runIds);
        break;
      case 'overlaySettings':
        this.overlaySettings = msg.settings;
        void this.deps.memento?.update(OVERLAY_KEY, msg.settings);
        break;
      case 'applyFix':
        // The config editor checks the fix against the run's own verdict before it edits anything.
        void vscode.commands.executeCommand('rbpLab.applyConfigFix', { runId: msg.runId, key: msg.key, value: msg.value });
        break;
    }
  }

  private sendRun(): void {
    const runId = this.runId!;
    // Read and send synchronously: events recorded after this arrive through onRunEvent, none twice.
    const events = this.deps.store.recordedEvents(runId);
    this.pending = [];
    this.post({ type: 'reset', runId });
    const selection = replaySelection(events);
    for (let i = 0; i < selection.length; i += 500) this.post({ type: 'events', events: selection.slice(i, i + 500), replay: true });
  }

  private sendOverlay(): void {
    const series: OverlaySeries[] = [];
    for (const id of this.overlayIds) {
      const { description, events } = this.deps.store.read(id);
      if (description) series.push(...overlaySeries(description, events));
    }
    // The kept panels go along: a webview without state of its own (a panel opened afresh) takes them.
    this.post({ type: 'overlay', series, ...(this.overlaySettings ? { settings: this.overlaySettings } : {}) });
  }

  private enqueue(e: Envelope): void {
    if (!this.ready) return; // replayed from disk when the webview says ready
    this.pending.push(e);
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      const events = this.pending;
      this.pending = [];
      if (events.length) this.post({ type: 'events', events });
    }, FLUSH_MS);
  }

  /**
   * A change to some runs sends their rows and summaries alone (their folders read, no other run's);
   * a change to any (a refresh) lists every run again, as opening the panel does.
   */
  private scheduleRuns(change: RunsChange | undefined): void {
    if (!change) this.runsChanged = undefined;
    else for (const id of change.runIds) this.runsChanged?.add(id);
    this.runsTimer ??= setTimeout(() => {
      this.runsTimer = undefined;
      const ids = this.runsChanged;
      this.runsChanged = new Set();
      if (ids) {
        // (Not ready: nothing to read, the webview gets every run when it says ready.)
        if (ids.size && this.ready) this.post({ type: 'runsUpdate', ...this.deps.store.update(ids) });
        return;
      }
      this.post({ type: 'runs', runs: this.deps.store.summaries() });
      this.sendTable();
    }, 250);
  }

  /** The runs table's rows (run.json summaries; the table renders the rows in view). */
  private sendTable(): void {
    const t0 = Date.now();
    const rows = this.deps.store.rows();
    this.post({ type: 'runsTable', rows });
    this.deps.output.appendLine(`dashboard: runs table, ${rows.length} runs listed in ${Date.now() - t0} ms`);
  }

  private async exportData(msg: Extract<WebviewToHost, { type: 'export' }>): Promise<void> {
    const name = `${msg.chart.replace(/[^A-Za-z0-9_.=-]+/g, '_').slice(0, 120) || 'chart'}.${msg.format}`;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const uri = await vscode.window.showSaveDialog({ title: `RBP Lab: export ${msg.format.toUpperCase()}`, defaultUri: folder ? vscode.Uri.joinPath(folder, name) : vscode.Uri.file(name), filters: { [msg.format.toUpperCase()]: [msg.format] } });
    if (!uri) return;
    const data = msg.format === 'png' ? Buffer.from(msg.data.replace(/^data:image\/png;base64,/, ''), 'base64') : Buffer.from(msg.data, 'utf8');
    await vscode.workspace.fs.writeFile(uri, data);
    this.deps.output.appendLine(`dashboard: exported ${msg.chart} as ${msg.format.toUpperCase()} to ${uri.fsPath} (${data.length} bytes)`);
    void vscode.window.showInformationMessage(`RBP Lab: saved ${path.basename(uri.fsPath)}`, 'Open').then((a) => {
      if (a) void vscode.commands.executeCommand('vscode.open', uri);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (Dashboard.current === this) Dashboard.current = undefined;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.runsTimer) clearTimeout(this.runsTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

/** Registers the serializer that brings the panel back after a reload or a restart. */
export function registerDashboardSerializer(deps: DashboardDeps): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
    async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
      // The saved state comes from the webview: validate it like any webview message.
      let st: WebviewState | undefined;
      try {
        const msg = deps.store.checkWebviewMessage(parseWebviewMessage({ type: 'ready', state: state ?? undefined }));
        st = msg.type === 'ready' ? msg.state : undefined;
      } catch {
        st = undefined;
      }
      Dashboard.revive(panel, deps, st);
    },
  });
}
