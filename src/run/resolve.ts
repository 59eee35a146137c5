/** Turning a RunSpec (built-in name or config file, plus overrides) into a validated config. */
import * as fs from 'fs';
import * as path from 'path';
import { builtinConfig, loadConfigFile, applyOverride, validateConfigObject, RbpConfig, ConfigError } from '../config/load';
import { BUILTIN_NAMES } from '../config/builtin';
import { parseMethodName, takesK, type MethodName } from '../core/gradients/catalog';
import type { RunSpec } from '../protocol/messages';
import { RunError } from '../experiments/types';
import { experimentInfo } from '../experiments/catalog';

export interface ResolvedRun {
  config: RbpConfig;
  experimentName: string;
  method: MethodName;
  K: number;
  notes: string[];
  /** Folder of the config file, when the run came from one. */
  configDir?: string;
}

export function resolveRun(spec: RunSpec): ResolvedRun {
  const notes: string[] = [];
  let config: RbpConfig;
  let experimentName: string;
  let configDir: string | undefined;
  if (spec.config) {
    config = structuredClone(spec.config) as RbpConfig;
    const errors = validateConfigObject(config);
    if (errors.length) throw new RunError('bad-config', errors.join('; '));
    experimentName = spec.experiment;
  } else if (builtinConfig(spec.experiment)) {
    config = builtinConfig(spec.experiment)!;
    experimentName = spec.experiment.toLowerCase();
  } else if (/\.ya?ml$/i.test(spec.experiment) || fs.existsSync(spec.experiment)) {
    try {
      const r = loadConfigFile(spec.experiment);
      config = r.config;
      notes.push(...r.notes.map((n) => `${spec.experiment}:${n.line}:${n.column}: ${n.message}`));
    } catch (err) {
      if (err instanceof ConfigError) throw new RunError('bad-config', err.message);
      throw err;
    }
    experimentName = String(config.exp_name ?? 'config').toLowerCase();
    configDir = path.dirname(path.resolve(spec.experiment));
  } else {
    throw new RunError('bad-config', `unknown experiment '${spec.experiment}': use one of ${BUILTIN_NAMES.join(', ')} or a path to a .yaml config`);
  }
  for (const o of spec.overrides ?? []) {
    try {
      config = applyOverride(config, o);
    } catch (err) {
      throw new RunError('bad-config', (err as Error).message);
    }
  }
  const model = config.model as Record<string, unknown>;
  // Canonical: an alias the CLI accepts (`cg`, `neumann`) is not a config spelling.
  if (spec.method !== undefined) model.grad_method = parseMethodName(spec.method) ?? spec.method;
  if (spec.K !== undefined) model.truncate_iter = spec.K;
  if (spec.seed !== undefined) config.seed = spec.seed;
  const info = experimentInfo(config.runner);
  if (spec.steps !== undefined && info) (config.train as Record<string, unknown>)[info.stepsField] = spec.steps;
  const method = parseMethodName(String(model.grad_method));
  if (!method) throw new RunError('bad-config', `unknown gradient method '${String(model.grad_method)}'`);
  const K = Number(model.truncate_iter);
  if (takesK(method) && !(Number.isInteger(K) && K >= 1)) throw new RunError('bad-config', `model.truncate_iter (K) must be an integer ≥ 1 for ${method}; got ${String(model.truncate_iter)}`);
  const errors = validateConfigObject(config);
  if (errors.length) throw new RunError('bad-config', errors.join('; '));
  return { config, experimentName, method, K, notes, configDir };
}
