/** The rbpLab.* settings a run reads, and where runs are recorded. */
import * as vscode from 'vscode';
import * as path from 'path';

export interface Settings {
  nodePath: string;
  backend: string;
  defaultMethod: string;
  defaultK: number;
  steps: number;
  overrides: string[];
  dataDir: string;
  openDashboardOnRun: boolean;
  workerMaxMemoryMB: number;
  /** A gradient probe every this many training steps (0: off). */
  probeEvery: number;
  /** Threads of the wasm kernels (0: RBP_THREADS, else 1). */
  threads: number;
}

export function settings(): Settings {
  const c = vscode.workspace.getConfiguration('rbpLab');
  return {
    nodePath: c.get<string>('nodePath', ''),
    backend: c.get<string>('backend', 'auto'),
    defaultMethod: c.get<string>('defaultMethod', ''),
    defaultK: c.get<number>('defaultK', 0),
    steps: c.get<number>('steps', 0),
    overrides: c.get<string[]>('overrides', []),
    dataDir: c.get<string>('dataDir', ''),
    openDashboardOnRun: c.get<boolean>('openDashboardOnRun', true),
    workerMaxMemoryMB: c.get<number>('workerMaxMemoryMB', 0),
    probeEvery: c.get<number>('probeEvery', 25),
    threads: c.get<number>('threads', 0),
  };
}

export function workspaceFolder(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** The rbpLab.dataDir setting as an absolute path (relative ones are relative to the workspace folder `ws`); '' when unset. */
export function resolveDataDir(setting: string, ws: string | undefined): string {
  return setting ? (path.isAbsolute(setting) || !ws ? setting : path.join(ws, setting)) : '';
}

/** Where runs are recorded: `<workspace>/.rbp-lab/runs`, or the global storage without a workspace. */
export function runsRoot(ctx: vscode.ExtensionContext): string {
  const ws = workspaceFolder();
  return ws ? path.join(ws, '.rbp-lab', 'runs') : path.join(ctx.globalStorageUri.fsPath, 'runs');
}
