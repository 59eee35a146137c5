/** Choosing and reading an experiment config file from the editor (shared by Run, Compare and the config editor). */
import * as vscode from 'vscode';
import { loadConfigFile, type RbpConfig } from '../config/load';

/** The given URI, else the active YAML editor's file, else one the user picks. */
export async function pickConfigFile(uri?: unknown): Promise<vscode.Uri | undefined> {
  if (uri instanceof vscode.Uri) return uri;
  const editor = vscode.window.activeTextEditor;
  if (editor && /\.ya?ml$/i.test(editor.document.fileName)) return editor.document.uri;
  return askForConfigFile();
}

export async function askForConfigFile(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({ title: 'RBP Lab: experiment config', canSelectMany: false, filters: { 'Experiment config': ['yaml', 'yml'] }, defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
  return picked?.[0];
}

/** Save the file if it has unsaved edits, then load and validate it (throws ConfigError). */
export async function saveAndLoadConfig(file: vscode.Uri): Promise<RbpConfig> {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === file.toString());
  if (doc?.isDirty) await doc.save();
  return loadConfigFile(file.fsPath).config;
}
