/** Workspace trust: an untrusted workspace shows recorded runs but starts nothing. */
import * as vscode from 'vscode';

export const UNTRUSTED_REASON = 'This workspace is not trusted: RBP Lab does not start runs here (a run executes experiment configs and native code from the workspace). Recorded runs can still be viewed. Trust the workspace to run experiments.';

/** What the dashboard is told. */
export function trustState(): { trusted: boolean; reason?: string } {
  return vscode.workspace.isTrusted ? { trusted: true } : { trusted: false, reason: UNTRUSTED_REASON };
}

/** True in a trusted workspace; else a warning that says why nothing starts, with a way to manage trust. */
export function ensureTrusted(): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showWarningMessage(`RBP Lab: ${UNTRUSTED_REASON}`, 'Manage Workspace Trust').then((a) => {
    if (a) void vscode.commands.executeCommand('workbench.trust.manage');
  });
  return false;
}
