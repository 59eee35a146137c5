/**
 * The gradient methods as everything outside the numerics knows them: name, label, spellings, K,
 * one line for menus, how memory grows. No TensorFlow.js here, so the extension host, the webview,
 * `src/config` and the CLI's argument parsing read this list without loading tfjs; `./index.ts`
 * binds an implementation to each entry. A new method: its entry here, its file, its line in
 * `./index.ts` (tsc fails when an entry has no implementation).
 */

export interface MethodInfo {
  /** Canonical name, as configs spell it (`model.grad_method`) and events carry it. */
  readonly name: string;
  /** Display label (charts, tables, notes, pickers). */
  readonly label: string;
  /** Spellings accepted besides any case and `_` / `-` / space variant of the name. */
  readonly aliases: readonly string[];
  /** Whether K (`model.truncate_iter`, `--truncate`) changes the gradient. */
  readonly takesK: boolean;
  /** Back-propagates through the stored plain unroll (BPTT, TBPTT); else works at the last forward state, with any forward solver. */
  readonly unroll: boolean;
  /** What its memory grows with: the unroll length T, the truncation K, or nothing. */
  readonly memory: 'T' | 'K' | 'constant';
  /** One line for menus. */
  readonly summary: string;
  /** A reference to check the others against, not offered for training in the pickers (exact). */
  readonly reference?: boolean;
}

const BUILTIN = [
  { name: 'BPTT', label: 'BPTT', aliases: [], takesK: false, unroll: true, memory: 'T', summary: 'Back-propagation through time: the exact gradient of the T-step unroll; memory grows with T' },
  { name: 'TBPTT', label: 'TBPTT', aliases: [], takesK: true, unroll: true, memory: 'K', summary: 'Truncated BPTT: back-propagate through the last K steps only; memory grows with K' },
  { name: 'RBP', label: 'RBP', aliases: ['almeidapineda'], takesK: true, unroll: false, memory: 'constant', summary: 'Recurrent back-propagation (Almeida–Pineda): K iterations z ← Jᵀz + ∂L/∂h* at the fixed point; constant memory; diverges when ρ(J) ≥ 1' },
  { name: 'CG_RBP', label: 'CG-RBP', aliases: ['cg'], takesK: true, unroll: false, memory: 'constant', summary: 'Conjugate-gradient RBP: at most K CG iterations on the adjoint system’s normal equations; constant memory' },
  { name: 'Neumann_RBP', label: 'Neumann-RBP', aliases: ['neumann'], takesK: true, unroll: false, memory: 'constant', summary: 'Neumann-series RBP (the paper’s proposal): z = Σ_{k≤K} (Jᵀ)ᵏ ∂L/∂h*; TBPTT’s time, constant memory; stable when ρ(J) < 1' },
  { name: 'exact', label: 'exact', aliases: [], takesK: false, unroll: false, memory: 'constant', reference: true, summary: 'The implicit gradient (I − Jᵀ)z = ∂L/∂h* solved to a tight tolerance: the reference' },
] as const satisfies readonly MethodInfo[];

export type BuiltinMethodName = (typeof BUILTIN)[number]['name'];
/** A built-in method's name, or one registered at run time (`registerMethod`). */
export type MethodName = BuiltinMethodName | (string & {});

const entries: MethodInfo[] = [...BUILTIN];

/** Any case, without `_`, `-` and spaces: `Neumann_RBP`, `neumann-rbp` and `NEUMANN RBP` are one spelling. */
function canon(s: string): string {
  // Stryker disable next-line MethodExpression: equivalent — both sides of every comparison are canon'd, so upper case matches as well as lower
  return s.toLowerCase().replace(/[\s_-]/g, '');
}

function spellings(m: MethodInfo): string[] {
  return [m.name, ...m.aliases].map(canon);
}

/** Every method, built-in first, in catalog order. */
export function methods(): readonly MethodInfo[] {
  return entries;
}

export function methodNames(): MethodName[] {
  return entries.map((m) => m.name);
}

/** The entry a spelling names: the name or an alias, in any case and with `_` / `-` / space variants. */
export function methodInfo(spelling: string): MethodInfo | undefined {
  const c = canon(spelling);
  return entries.find((m) => spellings(m).includes(c));
}

/** The canonical name of a spelling: `bptt`, `CG_RBP`, `cg-rbp`, `neumann` → BPTT, CG_RBP, CG_RBP, Neumann_RBP. */
export function parseMethodName(spelling: string): MethodName | undefined {
  return methodInfo(spelling)?.name;
}

/** The display label of a method name; an unknown name (an older record, `gradcheck`) as it is. */
export function methodLabel(name: string): string {
  return methodInfo(name)?.label ?? name;
}

/** Whether K changes this method's gradient (false for unknown names). */
export function takesK(name: string): boolean {
  return methodInfo(name)?.takesK ?? false;
}

/**
 * Add a method to the catalog (the implementation goes through `registerMethod` in `./index.ts`);
 * returns the function that removes it again. A name or alias that another method already answers to is refused.
 */
export function addMethodInfo(info: MethodInfo): () => void {
  const clash = spellings(info).find((s) => entries.some((m) => spellings(m).includes(s)));
  if (clash !== undefined) throw new Error(`gradient method '${info.name}': the spelling '${clash}' already names ${methodInfo(clash)!.name}`);
  entries.push(info);
  return () => {
    const i = entries.indexOf(info);
    // Stryker disable next-line EqualityOperator: 'i > 0' is equivalent (built-ins come first: an added entry is never at 0); 'i < 0' is killed but hidden with it
    if (i >= 0) entries.splice(i, 1);
  };
}
