/**
 * "RBP Lab: New Model from Template": writes the template model (a module, its config, the types;
 * `config/modelTemplate.ts`) into a folder of the workspace and opens its config, whose ▶ Run lens
 * trains it. Writing files runs nothing, so an untrusted workspace may do it too; running it
 * goes through the trust gate like every run.
 */
import * as vscode from 'vscode';
import * as path from 'path';
import { writeModelTemplate, TemplateError } from '../config/modelTemplate';
import { workspaceFolder } from './settings';

async function newModelFromTemplate(ctx: vscode.ExtensionContext, folder?: string): Promise<string | undefined> {
  const ws = workspaceFolder();
  let dir = typeof folder === 'string' ? folder : undefined;
  if (!dir && ws) {
    const name = await vscode.window.showInputBox({
      title: 'RBP Lab: new model from template',
      prompt: 'Folder for the model (relative to the workspace)',
      value: 'models/deq_two_moons',
      validateInput: (v) => (v.trim() ? undefined : 'a folder name'),
    });
    if (!name) return undefined;
    dir = path.resolve(ws, name.trim());
  } else if (!dir) {
    const picked = await vscode.window.showOpenDialog({ title: 'RBP Lab: folder for the new model', canSelectFiles: false, canSelectFolders: true, canSelectMany: false });
    dir = picked?.[0]?.fsPath;
    if (!dir) return undefined;
  } else if (ws) dir = path.resolve(ws, dir);
  try {
    const { config } = writeModelTemplate(dir, ctx.extensionPath);
    await vscode.window.showTextDocument(vscode.Uri.file(config));
    void vscode.window.showInformationMessage(`RBP Lab: wrote a model to ${dir}: run it with ▶ Run above model: (Compare TBPTT vs Neumann-RBP shows the methods' errors on it).`);
    return config;
  } catch (err) {
    void vscode.window.showErrorMessage(`RBP Lab: ${err instanceof TemplateError ? err.message : String(err)}`);
    return undefined;
  }
}

export function registerModelTemplate(ctx: vscode.ExtensionContext): vscode.Disposable[] {
  return [vscode.commands.registerCommand('rbpLab.newModelFromTemplate', (folder?: string) => newModelFromTemplate(ctx, folder))];
}
