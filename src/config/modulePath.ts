/**
 * Where a ModuleRunner config's `model.module` is, and what is wrong with it: one message for the
 * run (experiments/module/loader.ts) and for the Problems panel (extension/configEditor). Files
 * only: the module itself is never loaded here.
 */
import * as fs from 'fs';
import * as path from 'path';

export const MODULE_EXTENSIONS = /\.(mjs|cjs|js|mts|cts|ts)$/i;

/** The module's absolute path, relative to the config's folder (else `cwd`), or the problem with it. */
export function resolveModuleFile(module: unknown, configDir: string | undefined, cwd = process.cwd()): { file: string } | { problem: string } {
  if (typeof module !== 'string' || !module.trim()) return { problem: 'model.module is required for runner ModuleRunner: the path of your model module, e.g. ./models/my_model.mjs (relative to the config file)' };
  const file = path.resolve(configDir ?? cwd, module);
  if (!fs.existsSync(file)) return { problem: `model.module: cannot find '${module}' (looked for ${file}, relative to ${configDir ? "the config's folder" : 'the working directory'})` };
  if (!MODULE_EXTENSIONS.test(file) || !fs.statSync(file).isFile()) return { problem: `model.module: '${module}' is not a JavaScript module file (.mjs, .js or .cjs)` };
  return { file };
}
