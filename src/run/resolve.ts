/** Turning a RunSpec (built-in name or config file, plus overrides) into a validated config. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { builtinConfig, loadConfigFile, applyOverride, validateConfigObject, RbpConfig, ConfigError } from '../config/load';
import { BUILTIN_NAMES } from '../config/builtin';
import { parseMethodName, takesK, type MethodName } from '../core/gradients/catalog';
import { isBackendRequest, BACKEND_LIST } from '../core/backendNames';
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
    configDir = spec.configDir;
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

/** The K values and methods of a gradient check request, checked. */
export function resolveGradcheck(spec: RunSpec, defaultKs: number[]): { Ks: number[]; methods?: MethodName[] } {
  const Ks = spec.gradcheck?.Ks ?? defaultKs;
  if (!Ks.length || !Ks.every((k) => Number.isInteger(k) && k >= 1)) throw new RunError('bad-config', `gradient check K values must be integers ≥ 1; got ${JSON.stringify(Ks)}`);
  const methods = spec.gradcheck?.methods?.map((m) => {
    const p = parseMethodName(m);
    if (!p) throw new RunError('bad-config', `unknown method '${m}'`);
    return p;
  });
  return { Ks, methods };
}

/**
 * Everything about a request that can be checked before anything is created, loaded or recorded:
 * the config with its overrides, the method and K, a gradient check's list, the backend's name.
 * Throws RunError('bad-config').
 */
export function checkRequest(spec: RunSpec): ResolvedRun {
  if (spec.gradcheck) resolveGradcheck(spec, [1]);
  const backend = spec.backend ?? 'auto';
  if (!isBackendRequest(backend)) throw new RunError('bad-config', `unknown backend '${backend}' (${BACKEND_LIST})`);
  const resolved = resolveRun({ ...spec, gradcheck: undefined });
  // A gradient check always runs BPTT (its reference) besides the methods it compares.
  checkMemory(spec.gradcheck ? { ...resolved, method: 'BPTT' } : resolved, backend);
  return resolved;
}

/** The wasm backend's tensors live in one WebAssembly heap, which cannot grow past 4 GiB. */
const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * The tensor memory a run may plan for: three quarters of this machine's memory, and at most the
 * wasm heap on the wasm backend ('auto' is checked again once the backend is chosen).
 */
export function memoryLimit(backend: string, totalBytes = os.totalmem()): { bytes: number; why: string } {
  const ram = { bytes: 0.75 * totalBytes, why: `three quarters of this machine's ${(totalBytes / 2 ** 30).toFixed(0)} GiB` };
  return backend === 'wasm' && WASM_HEAP_BYTES < ram.bytes ? { bytes: WASM_HEAP_BYTES, why: "the wasm backend's 4 GiB heap" } : ram;
}

/** Allocation failures: of a typed array, an ArrayBuffer, the wasm heap (tfjs's "Aborted(OOM)"). */
const ALLOCATION = /allocation failed|Invalid typed array length|Invalid array length|Array buffer|Aborted\(OOM\)|out of memory/i;

/**
 * An allocation failure during a run, said with what drives its sizes (the config fields of the
 * experiment's estimate); anything else is returned as it is.
 */
export function explainAllocation(err: unknown, resolved: ResolvedRun): unknown {
  if (!(err instanceof Error) || err instanceof RunError || !ALLOCATION.test(err.message)) return err;
  const est = experimentInfo(resolved.config.runner)?.estimateBytes(resolved.config, resolved.method, resolved.K);
  return new RunError('out-of-memory', `out of memory (${err.message})${est ? `: this run needs at least ${(est.bytes / 2 ** 30).toFixed(1)} GiB of tensor memory for ${est.what}` : ''}`);
}

/** Refuse, up front and with the estimate, a run whose tensors cannot fit (RunError 'bad-config'). */
export function checkMemory(resolved: ResolvedRun, backend: string, totalBytes?: number): void {
  const exp = experimentInfo(resolved.config.runner);
  if (!exp) return;
  const est = exp.estimateBytes(resolved.config, resolved.method, resolved.K);
  const limit = memoryLimit(backend, totalBytes);
  if (est.bytes > limit.bytes) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(b < 10 * 2 ** 30 ? 1 : 0)} GiB`;
    throw new RunError('bad-config', `this run needs at least ${gib(est.bytes)} of tensor memory (${est.what}): more than ${gib(limit.bytes)} (${limit.why}); make the model or T smaller, or use a method that keeps fewer states`);
  }
}
