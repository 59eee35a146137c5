/**
 * Finding and importing the user's model module, and pointing every error it raises at the user's
 * own file and line. Runs in the worker or the CLI process only (never the extension host).
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { pathToFileURL, fileURLToPath } from 'url';
import { RunError } from '../types';
import type { ModelFactory } from './contract';
import { resolveModuleFile } from '../../config/modulePath';

const TS = /\.(mts|cts|ts)$/i;

/** The module's absolute path: `model.module` relative to the config's folder (else the working directory). */
export function resolveModulePath(module: unknown, configDir: string | undefined): string {
  const r = resolveModuleFile(module, configDir);
  if ('problem' in r) throw new RunError('bad-config', r.problem);
  return r.file;
}

/** Whether this Node strips TypeScript types itself (Node ≥ 22.6 with --experimental-strip-types, on by default from 23.6). */
function nodeStripsTypes(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript);
}

/** Import the module and return its factory (`export default` or `export function createModel`). */
export async function importFactory(file: string): Promise<ModelFactory> {
  if (TS.test(file) && !nodeStripsTypes()) {
    throw new RunError(
      'bad-config',
      `${file}: this Node.js (${process.version}) cannot load TypeScript model files (Node ≥ 22.6 with --experimental-strip-types can); compile it to JavaScript (e.g. npx esbuild ${path.basename(file)} --format=esm --outfile=${path.basename(file).replace(TS, '.mjs')}) and point model.module at the .mjs file`,
    );
  }
  let mod: Record<string, unknown>;
  try {
    // The modification time in the URL: a module edited between two runs of one process is imported afresh.
    const url = `${pathToFileURL(file).href}?mtime=${fs.statSync(file).mtimeMs}`;
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw userError(err, file, 'loading the model module failed');
  }
  const factory = typeof mod.default === 'function' ? mod.default : typeof mod.createModel === 'function' ? mod.createModel : undefined;
  if (!factory) {
    const names = Object.keys(mod);
    throw new RunError('bad-config', `${file}: exports no model factory: it needs \`export default function (args) { …; return { system, batch, evaluate } }\` (or \`export function createModel\`)${names.length ? `; it exports ${names.join(', ')}` : ''}`);
  }
  return factory as ModelFactory;
}

/** `file:line:column` of the first stack frame in the user's code (the module's folder, outside node_modules), if any. */
export function userLocation(err: unknown, file: string): string | undefined {
  const dir = path.dirname(file);
  const stack = String((err as { stack?: unknown } | undefined)?.stack ?? '');
  for (const m of stack.matchAll(/(file:\/\/[^\s()?]+|\/[^\s():]+)(?:\?[^\s():]*)?:(\d+):(\d+)/g)) {
    const p = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
    if (p.startsWith(dir + path.sep) && !p.includes(`${path.sep}node_modules${path.sep}`)) return `${p}:${m[2]}:${m[3]}`;
  }
  if (err instanceof SyntaxError) return syntaxErrorLocation(file);
  return undefined;
}

/** Node's ESM SyntaxError carries no position; `node --check` prints it (`/path:line`, the line, a caret). */
function syntaxErrorLocation(file: string): string | undefined {
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000, env: process.env });
  const lines = (r.stderr ?? '').split('\n');
  const at = /^(.*):(\d+)$/.exec(lines[0] ?? '');
  if (!at) return undefined;
  const caret = (lines[2] ?? '').indexOf('^');
  return `${at[1].startsWith('file://') ? fileURLToPath(at[1]) : at[1]}:${at[2]}${caret >= 0 ? `:${caret + 1}` : ''}`;
}

/** Allocation failures (typed arrays, the wasm heap): left as they are, for the runner's out-of-memory report. */
const ALLOCATION = /allocation failed|Invalid typed array length|Invalid array length|Array buffer|Aborted\(OOM\)|out of memory/i;

/** A RunError for an exception thrown by the user's code: "file:line:col: what: message" (an allocation failure passes through). */
export function userError(err: unknown, file: string, what: string): Error {
  if (err instanceof RunError) return err;
  if (err instanceof Error && ALLOCATION.test(err.message)) return err;
  const msg = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return new RunError('bad-config', `${userLocation(err, file) ?? file}: ${what}: ${msg}`);
}
