/**
 * The experiment config in the editor: for YAML files in the authors' schema (a top-level
 * `runner:` naming HopfieldRunner / CitationRunner / HypergradRunner) —
 *   CodeLens above `model:`: ▶ Run, Compare TBPTT vs Neumann-RBP, Gradient check;
 *   the Problems panel: the parser's issues as you type (the CLI's messages), the missing data folder;
 *   inline notes at the ends of the T / truncate_iter / grad_method lines from the config's last run
 *   or gradient check, live while it runs, with a hover that charts the residuals and links to the
 *   dashboard at that run.
 * Runs are matched to config files by the path they were started with (RunSpec.experiment), kept in
 * workspace state (run id → config path) so the notes come back after a reload.
 * The vscode-free logic is in model.ts.
 */
import * as vscode from 'vscode';
import { pickConfigFile, saveAndLoadConfig } from '../configFiles';
import * as fs from 'fs';
import * as path from 'path';
import type { RunsStore } from '../runsStore';
import type { RunController } from '../commands';
import { resolveDataDir } from '../settings';
import { BUILTIN_CONFIGS, BUILTIN_NAMES } from '../../config/builtin';
import { ConfigError, parseConfigText, type RbpConfig } from '../../config/load';
import { parseMethodName, takesK } from '../../core/gradients/catalog';
import type { Envelope } from '../../protocol/messages';
import { configDiagnostics, detectRunner, lensLine, lineDecorations, placeNotes, type LineNote, type Severity } from './model';
import { configModel, digestEvents, foldEvent, notesForRun, runVerdict, type RunDigest, type RunNotes, type RunVerdict } from './digest';
import { configEdit, type TextEdit } from '../../config/edit';
import { noAdviceNote, type Advice } from '../../shared/advice';
import { fmt } from '../../core/format';
import { hoverMarkdown } from './hover';

export interface ConfigEditorDeps {
  store: RunsStore;
  controller: RunController;
}

const SELECTOR: vscode.DocumentSelector = [{ language: 'yaml' }, { pattern: '**/*.{yaml,yml}' }];
const LINKS_KEY = 'rbpLab.configRuns';
/** The code of the verdict's diagnostic (its quick fixes are the verdict's advice). */
const VERDICT_CODE = 'rbp-verdict';
const MAX_LINKS = 500;

/** A YAML document that is (or is trying to be) an RBP Lab config. */
export function isRbpConfigDocument(doc: vscode.TextDocument): boolean {
  if (doc.languageId !== 'yaml' && !/\.ya?ml$/i.test(doc.fileName)) return false;
  const text = doc.getText();
  return detectRunner(text) !== undefined || (/^runner:/m.test(text) && /^model:/m.test(text));
}

function fileKey(p: string): string {
  return path.resolve(p);
}

const SEVERITY: Record<Severity, vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

interface DocNotes {
  version: number;
  runId: string;
  run: RunNotes;
  lines: LineNote[];
}

class ConfigEditor implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('rbp-lab');
  private readonly decorations: Record<'ok' | 'warn' | 'bad' | 'info', vscode.TextEditorDecorationType>;
  private readonly digests = new Map<string, RunDigest>();
  private readonly notes = new Map<string, DocNotes>();
  private readonly lensChanged = new vscode.EventEmitter<void>();
  private diagTimers = new Map<string, NodeJS.Timeout>();
  /** The verdict shown in the Problems panel per document, whose advice the quick fixes apply. */
  private readonly verdicts = new Map<string, RunVerdict>();
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: vscode.ExtensionContext,
    private readonly deps: ConfigEditorDeps,
  ) {
    const deco = (color: string) =>
      vscode.window.createTextEditorDecorationType({
        after: { color: new vscode.ThemeColor(color), margin: '0 0 0 2.5em', fontStyle: 'italic', textDecoration: 'none; opacity: 0.85' },
        rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
      });
    this.decorations = { ok: deco('testing.iconPassed'), warn: deco('editorWarning.foreground'), bad: deco('editorError.foreground'), info: deco('editorCodeLens.foreground') };
    const d = this.disposables;
    d.push(this.diagnostics, this.lensChanged, ...Object.values(this.decorations));
    d.push(
      vscode.languages.registerCodeLensProvider(SELECTOR, { provideCodeLenses: (doc) => this.codeLenses(doc), onDidChangeCodeLenses: this.lensChanged.event }),
      vscode.languages.registerHoverProvider(SELECTOR, { provideHover: (doc, pos) => this.hover(doc, pos) }),
      vscode.workspace.onDidOpenTextDocument((doc) => this.validateSoon(doc, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        this.validateSoon(e.document, 300);
        this.refreshSoon(300);
      }),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        this.diagnostics.delete(doc.uri);
        this.notes.delete(doc.uri.toString());
      }),
      vscode.workspace.onDidSaveTextDocument((doc) => this.validateSoon(doc, 0)),
      vscode.window.onDidChangeVisibleTextEditors(() => this.refreshSoon(0)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('rbpLab.dataDir')) for (const doc of vscode.workspace.textDocuments) this.validateSoon(doc, 0);
      }),
      { dispose: deps.store.onRunEvent(({ runId, event }) => this.onRunEvent(runId, event)).dispose },
      { dispose: deps.store.onDidChange(() => this.linkActiveRuns()).dispose },
      vscode.commands.registerCommand('rbpLab.gradientCheck', (uri?: vscode.Uri) => this.gradientCheck(uri)),
      vscode.commands.registerCommand('rbpLab.openBuiltinConfig', (name?: string) => this.openBuiltin(name)),
      vscode.commands.registerCommand('rbpLab.configEditor.compare', (uri?: vscode.Uri) => this.compare(uri)),
      vscode.commands.registerCommand('rbpLab.applyConfigFix', (fix?: { runId?: unknown; key?: unknown; value?: unknown }) => this.applyFix(fix)),
      vscode.languages.registerCodeActionsProvider(SELECTOR, { provideCodeActions: (doc, _range, ctx) => this.codeActions(doc, ctx) }, { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] }),
    );
    for (const doc of vscode.workspace.textDocuments) this.validateSoon(doc, 0);
    this.refreshSoon(0);
  }

  // ---- runs ↔ configs ----

  private links(): Record<string, string> {
    return this.ctx.workspaceState.get<Record<string, string>>(LINKS_KEY, {});
  }

  /** Remember that `runId` ran the config at `file`. */
  link(runId: string, file: string): void {
    const links = this.links();
    if (links[runId] === fileKey(file)) return;
    links[runId] = fileKey(file);
    const ids = Object.keys(links).sort();
    for (const old of ids.slice(0, Math.max(0, ids.length - MAX_LINKS))) delete links[old];
    void this.ctx.workspaceState.update(LINKS_KEY, links);
    this.refreshSoon(0);
  }

  private linkActiveRuns(): void {
    for (const run of this.deps.store.activeRuns) {
      if (/\.ya?ml$/i.test(run.spec.experiment) && !this.links()[run.runId]) this.link(run.runId, run.spec.experiment);
    }
    this.refreshSoon(100);
  }

  private onRunEvent(runId: string, event: Envelope): void {
    let file = this.links()[runId];
    if (!file) {
      const exp = this.deps.store.getActive(runId)?.spec.experiment;
      if (!exp || !/\.ya?ml$/i.test(exp)) return;
      this.link(runId, exp);
      file = fileKey(exp);
    }
    let d = this.digests.get(runId);
    if (!d) this.digests.set(runId, (d = { events: [], rows: 0 }));
    foldEvent(d, event);
    if (event.type === 'diagnostics' || event.type === 'gradcheck/result' || event.type === 'run/started') {
      this.lensChanged.fire();
      for (const doc of vscode.workspace.textDocuments) if (doc.uri.scheme === 'file' && fileKey(doc.uri.fsPath) === file) this.validateSoon(doc, 250);
    }
    if (event.type !== 'metrics' && event.type !== 'memory' && event.type !== 'log') this.refreshSoon(250);
  }

  /** The newest run of a config that is still on disk. */
  private lastRunOf(file: string): string | undefined {
    const key = fileKey(file);
    const ids = Object.entries(this.links())
      .filter(([, f]) => f === key)
      .map(([id]) => id)
      .sort()
      .reverse();
    return ids.find((id) => this.deps.store.isActive(id) || fs.existsSync(path.join(this.deps.store.dirOf(id), 'events.jsonl')));
  }

  private digestOf(runId: string): RunDigest | undefined {
    let d = this.digests.get(runId);
    if (d && !this.deps.store.isActive(runId) && !d.events.some((e) => e.type === 'run/finished' || e.type === 'run/failed')) d = undefined; // a live digest that missed its end: reread
    if (!d) {
      try {
        d = digestEvents(this.deps.store.read(runId).events);
      } catch {
        return undefined;
      }
      this.digests.set(runId, d);
    }
    return d;
  }

  // ---- decorations ----

  private refreshSoon(ms: number): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh();
    }, ms);
  }

  private refresh(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const doc = editor.document;
      const lines = doc.uri.scheme === 'file' && isRbpConfigDocument(doc) ? this.computeNotes(doc) : [];
      const groups = lineDecorations(lines);
      for (const level of ['ok', 'warn', 'bad', 'info'] as const) {
        const opts: vscode.DecorationOptions[] = groups
          .filter((g) => g.level === level && g.line < doc.lineCount)
          .map((g) => {
            const end = doc.lineAt(g.line).range.end;
            return { range: new vscode.Range(end, end), renderOptions: { after: { contentText: g.text } } };
          });
        editor.setDecorations(this.decorations[level], opts);
      }
    }
  }

  private computeNotes(doc: vscode.TextDocument): LineNote[] {
    const runId = this.lastRunOf(doc.uri.fsPath);
    const key = doc.uri.toString();
    if (!runId) {
      this.notes.delete(key);
      return [];
    }
    const digest = this.digestOf(runId);
    const parsed = parseConfigText(doc.getText());
    const cfg = configModel(parsed);
    if (!digest || !cfg) {
      this.notes.delete(key);
      return [];
    }
    const run = notesForRun(cfg, digest);
    const lines = placeNotes(parsed, run.notes);
    this.notes.set(key, { version: doc.version, runId, run, lines });
    return lines;
  }

  // ---- hovers ----

  private hover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | undefined {
    const n = this.notes.get(doc.uri.toString());
    if (!n) return undefined;
    const here = n.lines.filter((l) => l.line === pos.line);
    if (!here.length) return undefined;
    const which = here.some((l) => l.path === 'model.truncate_iter') ? 'backward' : 'forward';
    const md = new vscode.MarkdownString(hoverMarkdown(here, { runId: n.runId, notes: n.run }, which), true);
    md.isTrusted = { enabledCommands: ['rbpLab.openDashboard'] };
    return new vscode.Hover(md, doc.lineAt(pos.line).range);
  }

  // ---- CodeLens ----

  private codeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (!isRbpConfigDocument(doc)) return [];
    const line = lensLine(parseConfigText(doc.getText()));
    const range = new vscode.Range(line, 0, line, 0);
    // The last run's ρ(J) and verdict, as of the step they were measured at (click: that run in the dashboard).
    const v = doc.uri.scheme === 'file' ? this.verdictOf(doc.uri.fsPath) : undefined;
    const verdictLens = v
      ? [new vscode.CodeLens(range, { title: `${v.verdict.level === 'ok' ? '✓' : v.verdict.level === 'warn' ? '⚠' : '✗'} ρ(J) ${fmt(v.verdict.rho)} as of ${v.asOf}`, command: 'rbpLab.openDashboard', arguments: [v.runId], tooltip: `${v.verdict.message} (run ${v.runId}): open it in the dashboard` })]
      : [];
    return [
      ...verdictLens,
      new vscode.CodeLens(range, { title: '▶ Run', command: 'rbpLab.runConfig', arguments: [doc.uri], tooltip: 'Train with this config (RBP Lab: Run Experiment from Config File)' }),
      new vscode.CodeLens(range, { title: 'Compare TBPTT vs Neumann-RBP', command: 'rbpLab.configEditor.compare', arguments: [doc.uri], tooltip: 'Gradient error, time and memory of TBPTT and Neumann-RBP at several K, on one batch of this config' }),
      new vscode.CodeLens(range, { title: 'Gradient check', command: 'rbpLab.gradientCheck', arguments: [doc.uri], tooltip: 'Check this config’s gradient method at its K against the exact gradient' }),
    ];
  }

  // ---- diagnostics ----

  private validateSoon(doc: vscode.TextDocument, ms: number): void {
    const key = doc.uri.toString();
    const t = this.diagTimers.get(key);
    if (t) clearTimeout(t);
    this.diagTimers.set(
      key,
      setTimeout(() => {
        this.diagTimers.delete(key);
        this.validate(doc);
      }, ms),
    );
  }

  private validate(doc: vscode.TextDocument): void {
    if (doc.isClosed) return;
    if (!isRbpConfigDocument(doc)) {
      this.diagnostics.delete(doc.uri);
      return;
    }
    const ws = vscode.workspace.getWorkspaceFolder(doc.uri)?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const dataDir = resolveDataDir(vscode.workspace.getConfiguration('rbpLab', doc.uri).get<string>('dataDir', ''), ws);
    const baseDirs = [...(ws ? [ws] : []), ...(doc.uri.scheme === 'file' ? [path.dirname(doc.uri.fsPath)] : [])];
    const configDir = doc.uri.scheme === 'file' ? path.dirname(doc.uri.fsPath) : undefined;
    const { parsed, diagnostics } = configDiagnostics(doc.getText(), { dataDir, baseDirs, envDataDir: process.env.RBP_DATA_DIR, configDir });
    const verdict = doc.uri.scheme === 'file' ? this.verdictOf(doc.uri.fsPath) : undefined;
    this.verdicts.delete(doc.uri.toString());
    if (verdict && verdict.verdict.level !== 'ok') {
      // The last run's verdict, as of the step it was measured at, with its advice as quick fixes.
      const pos = parsed.positions['model.grad_method'] ?? parsed.positions.model;
      const line = pos ? pos.line - 1 : 0;
      const fixes = verdict.advice.length ? `Quick fix: ${verdict.advice.map((a) => a.label).join('; ')}.` : noAdviceNote({ runner: '', config: {}, verdict: verdict.verdict }) ?? '';
      diagnostics.push({ span: { start: { line, character: 0 }, end: { line, character: doc.lineAt(Math.min(line, doc.lineCount - 1)).text.length } }, severity: 'warning', message: `Verdict as of ${verdict.asOf} of run ${verdict.runId}: ${verdict.verdict.message}. ${fixes}`.trim(), path: VERDICT_CODE });
      this.verdicts.set(doc.uri.toString(), verdict);
    }
    this.diagnostics.set(
      doc.uri,
      diagnostics.map((d) => {
        const diag = new vscode.Diagnostic(new vscode.Range(d.span.start.line, d.span.start.character, d.span.end.line, d.span.end.character), d.message, SEVERITY[d.severity]);
        diag.source = 'RBP Lab';
        if (d.path) diag.code = d.path;
        if (d.severity === 'hint') diag.tags = [vscode.DiagnosticTag.Unnecessary];
        return diag;
      }),
    );
  }

  // ---- the verdict's advice: quick fixes and the dashboard's buttons ----

  private verdictOf(file: string): RunVerdict | undefined {
    const runId = this.lastRunOf(file);
    const digest = runId ? this.digestOf(runId) : undefined;
    return digest ? runVerdict(digest) : undefined;
  }

  private workspaceEdit(doc: vscode.TextDocument, e: TextEdit): vscode.WorkspaceEdit {
    const we = new vscode.WorkspaceEdit();
    we.replace(doc.uri, new vscode.Range(doc.positionAt(e.offset), doc.positionAt(e.offset + e.length)), e.text);
    return we;
  }

  private codeActions(doc: vscode.TextDocument, ctx: vscode.CodeActionContext): vscode.CodeAction[] {
    const diag = ctx.diagnostics.find((d) => d.code === VERDICT_CODE);
    const v = this.verdicts.get(doc.uri.toString());
    if (!diag || !v) return [];
    const out: vscode.CodeAction[] = [];
    const now = parseConfigText(doc.getText()).config as unknown as Record<string, Record<string, unknown> | undefined>;
    for (const a of v.advice) {
      const [section, field] = a.key.split('.');
      if (now[section]?.[field] === a.value) continue; // already applied
      let e: TextEdit;
      try {
        e = configEdit(doc.getText(), a.key, a.value);
      } catch {
        continue; // a file this edit cannot express (the section missing, a collection there): no quick fix
      }
      const action = new vscode.CodeAction(a.label, vscode.CodeActionKind.QuickFix);
      action.edit = this.workspaceEdit(doc, e);
      action.diagnostics = [diag];
      action.isPreferred = out.length === 0;
      out.push(action);
    }
    return out;
  }

  /** The dashboard's fix button: set `key` to `value` in the run's config file (a built-in run: a copy of its config, if the user agrees). */
  async applyFix(fix?: { runId?: unknown; key?: unknown; value?: unknown }): Promise<string | undefined> {
    if (!fix || typeof fix.runId !== 'string' || typeof fix.key !== 'string' || (typeof fix.value !== 'string' && typeof fix.value !== 'number')) return undefined;
    const digest = this.digestOf(fix.runId);
    const v = digest ? runVerdict(digest) : undefined;
    // Only what the run's verdict advises (the webview cannot ask for any other edit).
    const advice: Advice | undefined = v?.advice.find((a) => a.key === fix.key && a.value === fix.value);
    if (!advice) {
      void vscode.window.showWarningMessage(`RBP Lab: ${fix.key}: ${String(fix.value)} is not advice of run ${fix.runId}'s verdict.`);
      return undefined;
    }
    let file: string | undefined = this.links()[fix.runId] ?? (() => {
      const exp = this.deps.store.getActive(fix.runId as string)?.spec.experiment;
      return exp && /\.ya?ml$/i.test(exp) ? fileKey(exp) : undefined;
    })();
    if (!file || !fs.existsSync(file)) {
      const name = (digest!.events.find((e) => e.type === 'run/started') as Extract<Envelope, { type: 'run/started' }> | undefined)?.experiment.toLowerCase();
      if (!name || !BUILTIN_CONFIGS[name]) {
        void vscode.window.showWarningMessage(`RBP Lab: run ${fix.runId} has no config file to change (${advice.label}).`);
        return undefined;
      }
      const a = await vscode.window.showInformationMessage(`RBP Lab: run ${fix.runId} ran the built-in ${name} config. Open a copy of configs/${name}.yaml with ${advice.key}: ${String(advice.value)}?`, 'Open a Copy');
      if (a !== 'Open a Copy') return undefined;
      file = (await this.openBuiltin(name))?.document.uri.fsPath;
      if (!file) return undefined;
    }
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    let e: TextEdit;
    try {
      e = configEdit(doc.getText(), advice.key, advice.value);
    } catch (err) {
      void vscode.window.showWarningMessage(`RBP Lab: cannot set ${advice.key} in ${path.basename(file)}: ${(err as Error).message}`);
      return undefined;
    }
    if (!(await vscode.workspace.applyEdit(this.workspaceEdit(doc, e)))) return undefined;
    await doc.save();
    const editor = await vscode.window.showTextDocument(doc, { preview: false });
    const at = doc.positionAt(e.offset + (e.length ? 0 : 1));
    editor.selection = new vscode.Selection(at, at);
    editor.revealRange(new vscode.Range(at, at));
    vscode.window.setStatusBarMessage(`RBP Lab: ${advice.key} set to ${String(advice.value)} in ${path.basename(file)}`, 8000);
    return file;
  }

  // ---- commands ----

  private async configFile(uri: vscode.Uri | undefined): Promise<{ file: vscode.Uri; config: RbpConfig } | undefined> {
    const file = await pickConfigFile(uri);
    if (!file) return undefined;
    try {
      return { file, config: await saveAndLoadConfig(file) };
    } catch (err) {
      const msg = err instanceof ConfigError ? err.issues.filter((i) => i.severity === 'error').map((i) => `line ${i.line}: ${i.message}`).join('; ') : (err as Error).message;
      const a = await vscode.window.showErrorMessage(`RBP Lab: ${path.basename(file.fsPath)} has problems: ${msg}`, 'Show Problems');
      if (a) void vscode.commands.executeCommand('workbench.actions.view.problems');
      return undefined;
    }
  }

  /** A gradient check of the config's own method at its K (and TBPTT at that K, for memory), recorded as a run. */
  async gradientCheck(uri?: vscode.Uri, Ks?: number[], methods?: string[]): Promise<string | undefined> {
    const c = await this.configFile(uri);
    if (!c) return undefined;
    const model = c.config.model as Record<string, unknown>;
    const method = parseMethodName(String(model.grad_method ?? 'BPTT')) ?? String(model.grad_method);
    const K = typeof model.truncate_iter === 'number' ? model.truncate_iter : 20;
    const ms = methods ?? [...new Set([takesK(method) ? method : 'Neumann_RBP', 'TBPTT'])];
    const run = await this.deps.controller.launch(c.file.fsPath, c.config, { method, K, gradcheck: { Ks: Ks ?? [K], methods: ms } });
    if (run) this.link(run.runId, c.file.fsPath);
    return run?.runId;
  }

  /** The Compare view's command when it is there; else a TBPTT vs Neumann-RBP gradient check at K values asked for. */
  private async compare(uri?: vscode.Uri): Promise<unknown> {
    const file = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
    const all = await vscode.commands.getCommands(true);
    if (all.includes('rbpLab.compareTbpttNeumann')) return vscode.commands.executeCommand('rbpLab.compareTbpttNeumann', file);
    const value = await vscode.window.showInputBox({
      title: 'RBP Lab: compare TBPTT and Neumann-RBP at which K?',
      prompt: 'K values, comma-separated',
      value: '5,10,20,40',
      ignoreFocusOut: true,
      validateInput: (v) => (/^\s*\d+(\s*,\s*\d+)*\s*$/.test(v) && v.split(',').every((x) => Number(x) >= 1) ? undefined : 'integers ≥ 1, e.g. 5,10,20'),
    });
    if (value === undefined) return undefined;
    return this.gradientCheck(file, value.split(',').map((x) => Number(x.trim())), ['TBPTT', 'Neumann_RBP']);
  }

  /** Open configs/<name>.yaml: a copy in the workspace's configs/ folder (made on first use), else the extension's own. */
  private async openBuiltin(name?: string): Promise<vscode.TextEditor | undefined> {
    let pick = typeof name === 'string' ? name.toLowerCase() : undefined;
    if (!pick || !BUILTIN_CONFIGS[pick]) {
      const ws = vscode.workspace.workspaceFolders?.[0];
      const items = BUILTIN_NAMES.map((n) => {
        const c = BUILTIN_CONFIGS[n];
        const m = c.model as Record<string, unknown>;
        return { label: `${n}.yaml`, name: n, description: String(c.runner), detail: `${String(c.exp_name)} · ${String(m.grad_method)} · K = ${String(m.truncate_iter)}${ws ? ` — copied to ${path.join('configs', `${n}.yaml`)} in the workspace` : ''}` };
      });
      const p = await vscode.window.showQuickPick(items, { title: 'RBP Lab: open a built-in config', placeHolder: 'The authors’ experiment configs' });
      pick = p?.name;
    }
    if (!pick) return undefined;
    const source = vscode.Uri.joinPath(this.ctx.extensionUri, 'configs', `${pick}.yaml`);
    const ws = vscode.workspace.workspaceFolders?.[0];
    let target = source;
    if (ws && ws.uri.scheme === 'file') {
      target = vscode.Uri.joinPath(ws.uri, 'configs', `${pick}.yaml`);
      if (!fs.existsSync(target.fsPath)) {
        fs.mkdirSync(path.dirname(target.fsPath), { recursive: true });
        fs.copyFileSync(source.fsPath, target.fsPath);
      }
    }
    const doc = await vscode.workspace.openTextDocument(target);
    return vscode.window.showTextDocument(doc, { preview: false });
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const t of this.diagTimers.values()) clearTimeout(t);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** CodeLens, diagnostics, inline notes and hovers for experiment configs; the Gradient Check and Open Built-in Config commands. */
export function registerConfigEditor(ctx: vscode.ExtensionContext, deps: ConfigEditorDeps): vscode.Disposable[] {
  return [new ConfigEditor(ctx, deps)];
}
