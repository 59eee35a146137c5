/**
 * Gradient-method registry: binds an implementation to each entry of `./catalog.ts`. A new
 * built-in method: its entry in the catalog, `gradients/<name>.ts` exporting a `GradientMethod`
 * (its math in the doc comment), and its line in BUILTIN below. `registerMethod` adds one at run
 * time (tests, experiments of your own).
 */
import { bptt } from './bptt';
import { tbptt } from './tbptt';
import { rbp } from './rbp';
import { cgRbp } from './cg-rbp';
import { neumannRbp } from './neumann-rbp';
import { exact } from './exact';
import { addMethodInfo, methodNames, parseMethodName, type BuiltinMethodName, type MethodInfo } from './catalog';
import type { GradientMethod } from './types';

export * from './types';
export { methods, methodNames, methodInfo, methodLabel, parseMethodName, takesK, type MethodInfo, type BuiltinMethodName } from './catalog';

const BUILTIN: Record<BuiltinMethodName, GradientMethod> = {
  BPTT: bptt,
  TBPTT: tbptt,
  RBP: rbp,
  CG_RBP: cgRbp,
  Neumann_RBP: neumannRbp,
  exact,
};

const implementations = new Map<string, GradientMethod>(Object.entries(BUILTIN));

export function getMethod(name: string): GradientMethod {
  const m = parseMethodName(name);
  // Stryker disable next-line ConditionalExpression: 'false' is equivalent (Map.get(undefined) is undefined); 'true' is killed but hidden with it
  const impl = m === undefined ? undefined : implementations.get(m);
  if (!impl) throw new Error(`unknown gradient method '${name}' (known: ${methodNames().join(', ')})`);
  return impl;
}

/**
 * Add a gradient method: its catalog entry (then the CLI, config validation, the JSON schema, the
 * pickers and every label know it) and its implementation. Returns the function that removes both.
 */
export function registerMethod(info: MethodInfo, compute: GradientMethod['compute']): () => void {
  const removeInfo = addMethodInfo(info);
  implementations.set(info.name, { name: info.name, compute });
  return () => {
    removeInfo();
    implementations.delete(info.name);
  };
}
