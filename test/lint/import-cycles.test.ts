/**
 * The module graph of src/ and webview/ has no import cycle (a module of a cycle may run before the
 * one it imports has finished loading, and sees its exports undefined). Type-only imports are erased
 * and do not count; nor do dynamic import()s. The linter has no import plugin, so tsc's parser does it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import ts from 'typescript';
import { repoRoot } from '../helpers/setup';

/** The value imports of a module: relative specifiers, as written. */
function valueImports(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false);
  const out: string[] = [];
  for (const s of sf.statements) {
    if (!(ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) || !s.moduleSpecifier || !ts.isStringLiteral(s.moduleSpecifier)) continue;
    if (ts.isImportDeclaration(s)) {
      const c = s.importClause;
      if (c?.isTypeOnly) continue;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      if (c && !c.name && named && named.length > 0 && named.every((e) => e.isTypeOnly)) continue;
    } else if (s.isTypeOnly) continue;
    out.push(s.moduleSpecifier.text);
  }
  return out.filter((m) => m.startsWith('.'));
}

/** Every cycle (as the chain of modules) in a set of modules given as path → source text. */
function importCycles(modules: Map<string, string>): string[][] {
  const resolve = (from: string, spec: string) => {
    const base = path.resolve(path.dirname(from), spec);
    return [base + '.ts', path.join(base, 'index.ts')].find((c) => modules.has(c));
  };
  const graph = new Map([...modules].map(([f, text]) => [f, valueImports(f, text).map((m) => resolve(f, m)).filter((x): x is string => !!x)]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return cycles;
}

function sources(dir: string, into = new Map<string, string>()): Map<string, string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sources(p, into);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) into.set(p, fs.readFileSync(p, 'utf8'));
  }
  return into;
}

test('the detector finds a cycle, and ignores type-only imports', () => {
  const m = (entries: [string, string][]) => new Map(entries.map(([f, t]) => [path.resolve('/x', f), t]));
  assert.equal(importCycles(m([['a.ts', "import { b } from './b';"], ['b.ts', "import { a, type A } from './a';"]])).length, 1);
  assert.equal(importCycles(m([['a.ts', "export { b } from './b';"], ['b/index.ts', "import * as a from '../a';"]])).length, 1);
  assert.equal(importCycles(m([['a.ts', "import { b } from './b';"], ['b.ts', "import type { A } from './a';"]])).length, 0);
  assert.equal(importCycles(m([['a.ts', "import { b } from './b';"], ['b.ts', "import { type A } from './a';"]])).length, 0);
});

test('src/ and webview/ have no import cycle', () => {
  const all = sources(path.join(repoRoot, 'webview'), sources(path.join(repoRoot, 'src')));
  assert.ok(all.size > 100, `${all.size} modules read`);
  const rel = (f: string) => path.relative(repoRoot, f);
  assert.deepEqual(importCycles(all).map((c) => c.map(rel).join(' -> ')), []);
});
