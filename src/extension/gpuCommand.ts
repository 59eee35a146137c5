/** RBP Lab: Set Up GPU Backend — installs npm webgpu (Dawn) and @tensorflow/tfjs-node-gpu, each pinned, into the extension's storage with the system Node's npm (gpuSetup.ts), with progress and a log. */
import * as path from 'path';
import * as vscode from 'vscode';
import { findOnPath, MIN_NODE_MAJOR } from './workerHost';
import { setUpGpuBackend, setUpWebgpu } from './gpuSetup';
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
  // webgpu first: it needs only the npm registry; tfjs-node-gpu also downloads libtensorflow and needs CUDA 11.2.
  const results = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'RBP Lab: setting up the GPU backends', cancellable: true }, async (progress, token) => {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    const opts = (pin: string) => ({
      storageDir: storage,
      nodePath: node,
      pinDir: ctx.asAbsolutePath(path.join('native', pin)),
      signal: abort.signal,
      log: (line: string) => {
        output.appendLine(line);
        progress.report({ message: line.slice(0, 80) });
      },
    });
    const webgpu = await setUpWebgpu(opts('webgpu'));
    if (abort.signal.aborted) return [webgpu];
    return [webgpu, await setUpGpuBackend(opts('gpu'))];
  });
  for (const r of results) output.appendLine(r.ok ? `✓ ${r.message}` : `✗ ${r.failure}: ${r.message}`);
  const ok = results.filter((r) => r.ok);
  if (ok.length) {
    const failed = results.filter((r) => !r.ok);
    void vscode.window.showInformationMessage(`RBP Lab: ${ok.map((r) => r.message).join('; ')}${failed.length ? ` (not set up: ${failed.map((r) => r.message).join('; ')})` : ''}`);
  } else {
    const a = await vscode.window.showErrorMessage(`RBP Lab: GPU backend set-up failed — ${results.map((r) => r.message).join('; ')}`, 'Show Log');
    if (a) output.show(true);
  }
}
