/**
 * Gradient-method registry. A sixth method: write `gradients/<name>.ts` exporting a
 * `GradientMethod` (its math in the doc comment), add it to METHOD_NAMES and to REGISTRY.
 */
import { bptt } from './bptt';
import { tbptt } from './tbptt';
import { rbp } from './rbp';
import { cgRbp } from './cg-rbp';
import { neumannRbp } from './neumann-rbp';
import { exact } from './exact';
import { METHOD_NAMES, MethodName, GradientMethod } from './types';

export * from './types';

const REGISTRY: Record<MethodName, GradientMethod> = {
  BPTT: bptt,
  TBPTT: tbptt,
  RBP: rbp,
  CG_RBP: cgRbp,
  Neumann_RBP: neumannRbp,
  exact,
};

const ALIASES: Record<string, MethodName> = Object.fromEntries([
  ...METHOD_NAMES.map((n) => [canon(n), n]),
  ['cg', 'CG_RBP'],
  ['neumann', 'Neumann_RBP'],
  ['almeidapineda', 'RBP'],
]);

function canon(s: string): string {
  return s.toLowerCase().replace(/[\s_-]/g, '');
}

/** Accepts any case and `_`/`-`/space variants: `bptt`, `CG_RBP`, `cg-rbp`, `Neumann_RBP`, `neumann-rbp`. */
export function parseMethodName(s: string): MethodName | undefined {
  return ALIASES[canon(s)];
}

export function getMethod(name: string): GradientMethod {
  const m = parseMethodName(name);
  if (!m) throw new Error(`unknown gradient method '${name}' (known: ${METHOD_NAMES.join(', ')})`);
  return REGISTRY[m];
}

export function allMethods(): GradientMethod[] {
  return METHOD_NAMES.map((n) => REGISTRY[n]);
}

/** Methods whose gradient depends on K. */
export function usesK(m: MethodName): boolean {
  return m === 'TBPTT' || m === 'RBP' || m === 'CG_RBP' || m === 'Neumann_RBP';
}
