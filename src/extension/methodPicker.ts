/** The questions before a run: which gradient method (the catalog's training methods), and K when it takes one. */
import * as vscode from 'vscode';
import type { RbpConfig } from '../config/load';
import { methods, takesK } from '../core/gradients/catalog';
import type { Settings } from './settings';

function configDefaults(config: RbpConfig | undefined): { method?: string; K?: number } {
  const model = config?.model as Record<string, unknown> | undefined;
  return { method: typeof model?.grad_method === 'string' ? model.grad_method : undefined, K: typeof model?.truncate_iter === 'number' ? model.truncate_iter : undefined };
}

/** Ask for the method (and K) unless the settings fix them; undefined when the user cancels. */
export async function pickMethod(config: RbpConfig | undefined, s: Settings): Promise<{ method: string; K?: number } | undefined> {
  const fromConfig = configDefaults(config);
  let method = s.defaultMethod;
  if (!method) {
    const items: (vscode.QuickPickItem & { method: string })[] = methods()
      .filter((m) => !m.reference)
      .map((m) => ({ label: m.name, method: m.name, detail: m.summary, description: m.name === fromConfig.method ? 'the config’s method' : undefined }));
    items.sort((a, b) => (a.method === fromConfig.method ? -1 : b.method === fromConfig.method ? 1 : 0));
    const pick = await vscode.window.showQuickPick(items, { title: 'RBP Lab: gradient method', placeHolder: 'How should the gradient through the fixed point be computed?', matchOnDetail: true, ignoreFocusOut: true });
    if (!pick) return undefined;
    method = pick.method;
  }
  if (!takesK(method)) return { method };
  if (s.defaultK > 0) return { method, K: s.defaultK };
  const value = await vscode.window.showInputBox({
    title: `RBP Lab: K for ${method}`,
    prompt: method === 'TBPTT' ? 'Truncation: back-propagate through this many steps' : 'Backward iterations K',
    value: String(fromConfig.K ?? 20),
    ignoreFocusOut: true,
    validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 ? undefined : 'an integer ≥ 1'),
  });
  if (value === undefined) return undefined;
  return { method, K: Number(value) };
}
