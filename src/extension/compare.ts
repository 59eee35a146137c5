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
 *
 * At a training run's checkpoint (its weights after N steps, where the methods differ):
 *   executeCommand('rbpLab.compareAtCheckpoint', { runId, step? })   // no step: the newest checkpoint
 * or runCompareAt(controller, { runId, step }); the runs tree's context menu and the dashboard's
 * "Compare at step" button call it. The run is titled "… gradient check at step N of RUN".
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
import { compareAtRequest } from './runsStore';
import type { WorkerRun } from './workerHost';

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
  return showCompare(controller, run, target);
}

/** Show a launched comparison, and once it completes: its headline, the finished event, its report. */
async function showCompare(controller: RunController, run: WorkerRun, target: { experiment: string; configPath?: string }, at?: { runId: string; step: number }): Promise<GradcheckReport | undefined> {
  Dashboard.show(controller.dashboardDeps, { runId: run.runId, preserveFocus: true });
  const o = await run.done;
  if (o.status !== 'completed') return undefined;
  const store: RunsStore = controller.dashboardDeps.store;
  const result = store.read(run.runId).events.find((e) => e.type === 'gradcheck/result');
  if (!result || result.type !== 'gradcheck/result') return undefined;
  const report = result.report as GradcheckReport;
  const h = compareHeadline(result.report);
  const show = h.level === 'bad' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
  void show(`RBP Lab: ${at ? `at step ${at.step} of ${at.runId}: ` : ''}${h.text}`, 'Open Comparison').then((a) => {
    if (a) Dashboard.show(controller.dashboardDeps, { runId: run.runId });
  });
  finished.fire({ runId: run.runId, experiment: target.experiment, configPath: target.configPath, report });
  return report;
}

/**
 * "Compare TBPTT vs Neumann-RBP at this step": the same comparison at the weights of a training
 * run's checkpoint (`step` omitted: its newest), titled with the run and step. A run without
 * checkpoints, or a step without one: an error message naming the run and the steps it has.
 */
export async function runCompareAt(controller: RunController, opts: { runId: string; step?: number; Ks?: number[] }): Promise<GradcheckReport | undefined> {
  const req = compareAtRequest(controller.dashboardDeps.store, opts.runId, opts.step, opts.Ks?.length ? opts.Ks : COMPARE_DEFAULT_KS);
  if ('error' in req) {
    void vscode.window.showErrorMessage(`RBP Lab: cannot compare at a checkpoint: ${req.error}`);
    return undefined;
  }
  const run = await controller.launch(req.experiment, req.config as RbpConfig, { method: req.method, K: req.K, gradcheck: req.gradcheck, config: req.config, configDir: req.configDir });
  if (!run) return undefined;
  return showCompare(controller, run, { experiment: req.experiment }, { runId: req.runId, step: req.step });
}

/** A run's checkpoint steps as a quick pick (newest first); undefined when dismissed. */
async function pickCheckpoint(controller: RunController, runId: string): Promise<number | undefined> {
  let steps: number[];
  try {
    steps = controller.dashboardDeps.store.checkpointSteps(runId);
  } catch {
    steps = [];
  }
  if (steps.length <= 1) return steps[0];
  const pick = await vscode.window.showQuickPick(
    [...steps].reverse().map((step, i) => ({ label: `step ${step}`, description: i === 0 ? 'newest' : undefined, step })),
    { title: `RBP Lab: Compare TBPTT vs Neumann-RBP at which checkpoint of ${runId}?`, placeHolder: 'The gradient check runs at the weights saved at this step' },
  );
  return pick?.step;
}

/** Register rbpLab.compareTbpttNeumann: (uri?: Uri, Ks?: number[] | string), and rbpLab.compareAtCheckpoint: ({ runId, step? } | runId | tree item). */
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
    // { runId, step? } (the dashboard's button, scripts), a run id, or a runs tree item (asks which checkpoint).
    vscode.commands.registerCommand('rbpLab.compareAtCheckpoint', async (arg?: unknown) => {
      let runId: string | undefined;
      let step: number | undefined;
      let ask = false;
      if (typeof arg === 'string') runId = arg;
      else if (arg && typeof arg === 'object' && 'run' in arg) {
        runId = (arg as { run: { runId: string } }).run.runId;
        ask = true;
      } else if (arg && typeof arg === 'object' && typeof (arg as { runId?: unknown }).runId === 'string') {
        runId = (arg as { runId: string }).runId;
        const s = (arg as { step?: unknown }).step;
        if (typeof s === 'number') step = s;
      }
      if (!runId) {
        const runs = controller.dashboardDeps.store.list().filter((r) => r.method !== 'gradcheck' && controller.dashboardDeps.store.checkpointSteps(r.runId).length);
        if (!runs.length) {
          void vscode.window.showInformationMessage('RBP Lab: no run has checkpoints yet (training runs write them in their run folder).');
          return undefined;
        }
        const p = await vscode.window.showQuickPick(runs.map((r) => ({ label: `${r.experiment} · ${r.method}${r.K !== null ? ` K=${r.K}` : ''}`, detail: r.runId, runId: r.runId })), { title: 'RBP Lab: Compare TBPTT vs Neumann-RBP at a checkpoint of which run?' });
        if (!p) return undefined;
        runId = p.runId;
        ask = true;
      }
      if (ask) {
        step = await pickCheckpoint(controller, runId);
        if (step === undefined && controller.dashboardDeps.store.checkpointSteps(runId).length) return undefined;
      }
      return runCompareAt(controller, { runId, step });
    }),
  ];
}
