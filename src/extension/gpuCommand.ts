/** RBP Lab: Set Up GPU Backend — installs @tensorflow/tfjs-node-gpu into the extension's storage with the system Node's npm (gpuSetup.ts), with progress and a log. */
import * as path from 'path';
import * as vscode from 'vscode';
import { findOnPath, MIN_NODE_MAJOR } from './workerHost';
import { setUpGpuBackend } from './gpuSetup';
import { settings } from './settings';
import { ensureTrusted } from './trust';

export async function setUpGpuCommand(ctx: vscode.ExtensionContext, output: vscode.OutputChannel): Promise<void> {
  if (!ensureTrusted()) return;
  const s = settings();
  const node = s.nodePath || findOnPath('node');
  if (!node) {
    void vscode.window.showErrorMessage(`RBP Lab: the GPU backend needs a system Node.js (${MIN_NODE_MAJOR}+) on PATH, or set rbpLab.nodePath: @tensorflow/tfjs-node-gpu is a native addon built for it, not for VS Code’s own runtime.`);
    return;
  }
  output.show(true);
  const storage = ctx.globalStorageUri.fsPath;
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'RBP Lab: setting up the GPU backend', cancellable: true }, async (progress, token) => {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    return setUpGpuBackend({
      storageDir: storage,
      nodePath: node,
      pinDir: ctx.asAbsolutePath(path.join('native', 'gpu')),
      signal: abort.signal,
      log: (line) => {
        output.appendLine(line);
        progress.report({ message: line.slice(0, 80) });
      },
    });
  });
  output.appendLine(result.ok ? `✓ ${result.message}` : `✗ ${result.failure}: ${result.message}`);
  if (result.ok) void vscode.window.showInformationMessage(`RBP Lab: ${result.message}`);
  else {
    const a = await vscode.window.showErrorMessage(`RBP Lab: GPU backend set-up failed — ${result.message}`, 'Show Log');
    if (a) output.show(true);
  }
}
