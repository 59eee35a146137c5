/**
 * "RBP Lab: Compare TBPTT vs Neumann-RBP" (rbpLab.compareTbpttNeumann): a gradient check in a
 * worker — TBPTT and Neumann-RBP at every K, with BPTT and the exact gradient as references, all
 * on the same batch and the same weights (src/run/gradcheck.ts, the same code as
 * `rbp gradcheck`) — recorded as a run (method 'gradcheck') and drawn side by side in the
 * dashboard as its rows stream in (webview/charts/compare.ts): error and cosine vs K, peak memory
 * vs K, time vs K, adjoint residual per iteration, and a verdict headline (green ✓ when
 * Neumann-RBP matches the exact gradient with memory flat in K; red ✗ when it does not, e.g.
 * ρ(J) ≥ 1). Opening the recorded run from the runs tree shows the comparison again.
 *
 * Hook for other features (the config editor's CodeLens and inline notes):
 *
 *   import { runCompare, onDidFinishGradcheck } from './compare';
 *   // Run it for a config file (no questions asked when Ks is given; the experiment is the file):
 *   const report = await runCompare(controller, { configUri, Ks: [5, 10, 20, 40] });
 *   // report: GradcheckReport (src/run/gradcheck.ts), undefined when cancelled, failed or refused.
 *   // Or listen for every finished comparison (also those started from the palette):
 *   onDidFinishGradcheck(({ report, configPath, runId }) => ... notesFromGradcheck(...));
 *
 * The command takes the same arguments: executeCommand('rbpLab.compareTbpttNeumann', uri?, Ks?).
 */
import * as vscode from 'vscode';
import { askForConfigFile, saveAndLoadConfig } from './configFiles';
import * as path from 'path';
import type { RunController } from './commands';
import type { RunsStore } from './runsStore';
import { Dashboard } from './dashboard';
import { BUILTIN_CONFIGS } from '../config/builtin';
import type { RbpConfig } from '../config/load';
import type { GradcheckReport } from '../run/gradcheck';
import { compareHeadline, compareRunOptions, parseKs, COMPARE_DEFAULT_KS } from '../shared/compareSummary';

export interface CompareOptions {
  /** A config file (.yaml) to check; takes precedence over `experiment`. */
  configUri?: vscode.Uri;
  /** A built-in experiment: hopfield, cora, pubmed, citeseer, hypergrad. */
  experiment?: string;
  /** K values; asked for (default 5, 10, 20, 40) when omitted. */
  Ks?: number[];
}

export interface GradcheckFinished {
  runId: string;
  /** The experiment as run: a built-in name or the config file's path. */
  experiment: string;
  /** The config file, when the check was for one. */
  configPath?: string;
  report: GradcheckReport;
}

const finished = new vscode.EventEmitter<GradcheckFinished>();
/** Fires after every completed comparison (from the palette, a CodeLens or runCompare). */
export const onDidFinishGradcheck: vscode.Event<GradcheckFinished> = finished.event;

const EXPERIMENTS: (vscode.QuickPickItem & { name: string })[] = [
  { label: 'Hopfield', name: 'hopfield', detail: 'Associative memory on MNIST digits (contractive: the claim should hold)' },
  { label: 'Cora', name: 'cora', detail: 'Citation GNN (GRU message passing); ρ(J) > 1 — the claim should fail' },
  { label: 'Pubmed', name: 'pubmed', detail: 'Citation GNN on Pubmed' },
  { label: 'CiteSeer', name: 'citeseer', detail: 'Citation GNN on CiteSeer' },
  { label: 'Hyperparameter optimisation', name: 'hypergrad', detail: 'Momentum-SGD training as the dynamic system' },
];

async function chooseExperiment(opts: CompareOptions): Promise<{ experiment: string; config?: RbpConfig; configPath?: string } | undefined> {
  let uri = opts.configUri;
  if (!uri && !opts.experiment) {
    const editor = vscode.window.activeTextEditor;
    const items: (vscode.QuickPickItem & { name: string; uri?: vscode.Uri })[] = [...EXPERIMENTS];
    if (editor && /\.ya?ml$/i.test(editor.document.fileName)) items.unshift({ label: `$(file) ${path.basename(editor.document.fileName)}`, name: '', uri: editor.document.uri, detail: 'the config file in the editor' });
    items.push({ label: '$(folder-opened) Config file…', name: '', detail: 'pick a .yaml experiment config' });
    const pick = await vscode.window.showQuickPick(items, { title: 'RBP Lab: Compare TBPTT vs Neumann-RBP — which model?', placeHolder: 'The gradient check runs on one batch of this experiment', matchOnDetail: true, ignoreFocusOut: true });
    if (!pick) return undefined;
    if (pick.name) return { experiment: pick.name, config: BUILTIN_CONFIGS[pick.name] };
    uri = pick.uri;
    if (!uri) {
      uri = await askForConfigFile();
      if (!uri) return undefined;
    }
  }
  if (uri) {
    // An invalid config still launches: the worker reports what is wrong with it.
    const config = await saveAndLoadConfig(uri).catch(() => undefined);
    return { experiment: uri.fsPath, config, configPath: uri.fsPath };
  }
  const name = opts.experiment!.toLowerCase();
  return { experiment: name, config: BUILTIN_CONFIGS[name] };
}

async function chooseKs(): Promise<number[] | undefined> {
  const v = await vscode.window.showInputBox({
    title: 'RBP Lab: Compare TBPTT vs Neumann-RBP — K values',
    prompt: 'Truncation K for TBPTT and number of Neumann terms, comma-separated (BPTT and the exact gradient are always included)',
    value: COMPARE_DEFAULT_KS.join(', '),
    ignoreFocusOut: true,
    validateInput: (t) => {
      const r = parseKs(t);
      return typeof r === 'string' ? r : undefined;
    },
  });
  if (v === undefined) return undefined;
  const r = parseKs(v);
  return typeof r === 'string' ? undefined : r;
}

/**
 * Run the comparison and show it; resolves with the report once the gradient check completes
 * (undefined when the user cancels a question or the run, it fails, or the workspace is untrusted).
 */
export async function runCompare(controller: RunController, opts: CompareOptions = {}): Promise<GradcheckReport | undefined> {
  const target = await chooseExperiment(opts);
  if (!target) return undefined;
  const Ks = opts.Ks?.length ? [...opts.Ks] : await chooseKs();
  if (!Ks) return undefined;
  const run = await controller.launch(target.experiment, target.config, compareRunOptions(Ks));
  if (!run) return undefined;
  Dashboard.show(controller.dashboardDeps, { runId: run.runId, preserveFocus: true });
  const o = await run.done;
  if (o.status !== 'completed') return undefined;
  const store: RunsStore = controller.dashboardDeps.store;
  const result = store.read(run.runId).events.find((e) => e.type === 'gradcheck/result');
  if (!result || result.type !== 'gradcheck/result') return undefined;
  const report = result.report as GradcheckReport;
  const h = compareHeadline(result.report);
  const show = h.level === 'bad' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
  void show(`RBP Lab: ${h.text}`, 'Open Comparison').then((a) => {
    if (a) Dashboard.show(controller.dashboardDeps, { runId: run.runId });
  });
  finished.fire({ runId: run.runId, experiment: target.experiment, configPath: target.configPath, report });
  return report;
}

/** Register rbpLab.compareTbpttNeumann: (uri?: Uri, Ks?: number[] | string). */
export function registerCompare(controller: RunController): vscode.Disposable[] {
  return [
    finished,
    vscode.commands.registerCommand('rbpLab.compareTbpttNeumann', (arg?: unknown, ks?: unknown) => {
      const opts: CompareOptions = {};
      if (arg instanceof vscode.Uri) opts.configUri = arg;
      else if (typeof arg === 'string' && arg) {
        if (/\.ya?ml$/i.test(arg)) opts.configUri = vscode.Uri.file(arg);
        else opts.experiment = arg;
      } else if (arg && typeof arg === 'object' && ('configUri' in arg || 'experiment' in arg || 'Ks' in arg)) Object.assign(opts, arg as CompareOptions);
      if (Array.isArray(ks) && ks.every((k) => Number.isInteger(k) && k >= 1)) opts.Ks = ks as number[];
      else if (typeof ks === 'string') {
        const r = parseKs(ks);
        if (typeof r !== 'string') opts.Ks = r;
      }
      return runCompare(controller, opts);
    }),
  ];
}
