/**
 * Loading and validating experiment configs in the authors' YAML schema. Every problem carries
 * its line and column; the CLI prints them, the extension shows them in the Problems panel.
 */
import * as fs from 'fs';
import { parseDocument, visit, LineCounter, isMap, isScalar, Pair, YAMLMap, Node as YNode } from 'yaml';
import { SCHEMA, RUNNERS, RunnerName, RunnerSpec, FieldSpec, FieldValue, SectionSpec, SchemaTable } from './schema';
import { BUILTIN_CONFIGS, RUNNER_BASES, type RunnerDefaults } from './builtin';
import { defaultsName } from '../experiments/catalog';

export interface RbpConfig {
  exp_name: string;
  runner: RunnerName | string;
  seed: number;
  dataset: Record<string, unknown>;
  model: Record<string, unknown>;
  train: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ConfigIssue {
  severity: 'error' | 'note';
  /** Dotted path of the field, e.g. model.truncate_iter. */
  path: string;
  message: string;
  /** 1-based. */
  line: number;
  column: number;
  /** Character offsets of the offending key/value in the text. */
  offset: [number, number];
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(issues.filter((i) => i.severity === 'error').map((i) => `${file}:${i.line}:${i.column}: ${i.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

export interface ParsedConfig {
  config: RbpConfig;
  issues: ConfigIssue[];
  /** Where each dotted field sits in the text (for inline decorations). */
  positions: Record<string, { line: number; column: number; offset: [number, number] }>;
}

const SECTIONS = ['dataset', 'model', 'train', 'test'] as const;

/**
 * Configs are small (the authors' are about 1 KB). The YAML parser's time grows faster than the
 * text (a 935 KB mapping of unique keys took 79 s to check), and the config editor parses files of
 * untrusted workspaces as they open: anything larger is refused before parsing (64 KiB: < 1 s).
 */
export const MAX_CONFIG_CHARS = 64 * 1024;
/** Alias uses a config may expand (yaml's own default; an alias bomb stops here). */
const MAX_ALIAS_COUNT = 100;

function tooLarge(size: string): ConfigIssue {
  return { severity: 'error', path: '', message: `config is too large (${size}); a config file is at most ${MAX_CONFIG_CHARS / 1024} KiB`, line: 1, column: 1, offset: [0, 0] };
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

function suggest(name: string, known: string[]): string {
  const best = known.map((k) => [k, levenshtein(name, k)] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean '${best[0]}'?)` : '';
}

/** Check one value against its spec; returns an error message or undefined. */
export function checkValue(spec: FieldSpec, v: unknown): string | undefined {
  switch (spec.type) {
    case 'any':
      return undefined;
    case 'string':
      if (typeof v !== 'string') return `must be a string, got ${JSON.stringify(v)}`;
      if (spec.enum) {
        const ok = spec.caseInsensitive ? spec.enum.some((e) => canonical(e) === canonical(v)) : spec.enum.includes(v);
        if (!ok) return `must be one of ${spec.enum.join(', ')}; got '${v}'`;
      }
      return undefined;
    case 'bool':
      return typeof v === 'boolean' ? undefined : `must be true or false, got ${JSON.stringify(v)}`;
    case 'int':
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return `must be a number, got ${JSON.stringify(v)}`;
      if (spec.type === 'int' && !Number.isInteger(v)) return `must be an integer, got ${v}`;
      return outOfRange(spec, v);
    }
    case 'int[]': {
      if (!Array.isArray(v)) return `must be a list of integers, got ${JSON.stringify(v)}`;
      // Every item is checked: a layer size of -5 failed deep inside tfjs, one of 0 trained.
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (typeof x !== 'number' || !Number.isInteger(x)) return `must be a list of integers; item ${i} is ${JSON.stringify(x)}`;
        const r = outOfRange(spec, x);
        if (r) return `item ${i} ${r}`;
      }
      return undefined;
    }
    case 'map':
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : `must be a mapping (key: value lines), got ${JSON.stringify(v)}`;
    default:
      // A spec that is not a FieldSpec (never from the schema's own keys) validates nothing.
      return `has no type in the schema`;
  }
}

function outOfRange(spec: FieldSpec, v: number): string | undefined {
  if (spec.min !== undefined && v < spec.min) return `must be ≥ ${spec.min}, got ${v}`;
  if (spec.max !== undefined && v > spec.max) return `must be ≤ ${spec.max}, got ${v}`;
  return undefined;
}

function canonical(s: string): string {
  return s.toLowerCase().replace(/[\s_-]/g, '');
}

/** Parse and validate config text. Missing fields are filled from the built-in config of the runner. */
export function parseConfigText(text: string): ParsedConfig {
  const issues: ConfigIssue[] = [];
  const positions: ParsedConfig['positions'] = {};
  if (text.length > MAX_CONFIG_CHARS) {
    issues.push(tooLarge(`${(text.length / 1024).toFixed(0)} KiB`));
    return { config: {} as RbpConfig, issues, positions };
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const at = (node: YNode | null | undefined, fallback = 0): { line: number; column: number; offset: [number, number] } => {
    const r = node?.range;
    const start = r ? r[0] : fallback;
    const end = r ? r[1] : fallback;
    const p = lc.linePos(start);
    return { line: p.line, column: p.col, offset: [start, end] };
  };
  const push = (severity: 'error' | 'note', path: string, message: string, node: YNode | null | undefined) => issues.push({ severity, path, message, ...at(node) });

  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    issues.push({ severity: 'error', path: '', message: `YAML syntax: ${e.message.split('\n')[0]}`, line: p.line, column: p.col, offset: [e.pos[0], e.pos[1]] });
  }
  if (doc.errors.length) return { config: {} as RbpConfig, issues, positions };
  const root = doc.contents;
  if (!isMap(root)) {
    push('error', '', 'a config must be a mapping with exp_name, runner, dataset, model and train', root as YNode);
    return { config: {} as RbpConfig, issues, positions };
  }
  let raw: Record<string, unknown>;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as Record<string, unknown>;
  } catch (err) {
    // An alias bomb ("Excessive alias count") or an alias used before its anchor: point at the first alias.
    let first: YNode | undefined;
    visit(doc, { Alias: (_k, node) => ((first ??= node), visit.BREAK) });
    const why = (err as Error).message;
    push('error', '', /excessive alias/i.test(why) ? `YAML aliases expand too much (${why}); a config needs at most ${MAX_ALIAS_COUNT} alias uses` : `YAML: ${why}`, first ?? root);
    return { config: {} as RbpConfig, issues, positions };
  }
  const runnerNode = root.get('runner', true) as YNode | undefined;
  const runner = raw.runner as string | undefined;
  if (typeof runner !== 'string' || !(RUNNERS as readonly string[]).includes(runner)) {
    push('error', 'runner', `runner must be one of ${RUNNERS.join(', ')}; got ${JSON.stringify(runner)}${typeof runner === 'string' ? suggest(runner, [...RUNNERS]) : ''}`, runnerNode ?? root);
    return { config: raw as RbpConfig, issues, positions };
  }
  const spec = SCHEMA[runner as RunnerName];

  const walk = (map: YAMLMap, sectionSpec: SectionSpec, prefix: string) => {
    for (const item of map.items as Pair<YNode, YNode>[]) {
      const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
      const path = prefix ? `${prefix}.${key}` : key;
      positions[path] = at(item.key);
      if (!prefix && (SECTIONS as readonly string[]).includes(key)) {
        const sub = own(spec as unknown as Record<string, SectionSpec>, key);
        if (!sub) {
          push('note', path, `section '${key}' is not used by ${runner}; ignored`, item.key);
          continue;
        }
        if (!isMap(item.value)) {
          push('error', path, `'${key}' must be a mapping`, item.value ?? item.key);
          continue;
        }
        walk(item.value, sub, key);
        continue;
      }
      const f = own(sectionSpec, key);
      if (!f) {
        push('error', path, `unknown field '${path}'${suggest(key, Object.keys(sectionSpec))}`, item.key);
        continue;
      }
      // toJS with the document resolves aliases (`num_update: *steps`) as the whole config did.
      const value = item.value === null ? null : item.value.toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT });
      const problem = checkValue(f, value);
      if (problem) push('error', path, `${path} ${problem}`, item.value ?? item.key);
      else if (f.ignored) push('note', path, `${path} is accepted and ignored: ${f.ignored}`, item.key);
    }
  };
  walk(root, spec.top, '');
  const config = withDefaults(raw, runner as RunnerName);
  return { config, issues, positions };
}

function withDefaults(raw: Record<string, unknown>, runner: RunnerName): RbpConfig {
  const base = structuredClone(RUNNER_BASES[runner] ?? BUILTIN_CONFIGS[defaultsName(runner, raw)]);
  const out: Record<string, unknown> = { ...base, ...raw };
  for (const s of ['dataset', 'model', 'train'] as const) out[s] = { ...(base[s] as object), ...((raw[s] as object) ?? {}) };
  return out as RbpConfig;
}

type Section = 'dataset' | 'model' | 'train';
type Spec<R extends RunnerName, S extends Section> = SchemaTable[R][S];
type Given<R extends RunnerName, S extends Section> = keyof RunnerDefaults[R][S];
type Prettify<T> = { [K in keyof T]: T[K] } & {};

/** A config section of runner R, typed from the schema table: the fields its built-in config has are always there, the others optional. */
export type ConfigSection<R extends RunnerName, S extends Section> = Prettify<
  { [K in keyof Spec<R, S> as K extends Given<R, S> ? K : never]: FieldValue<Spec<R, S>[K]> } & {
    [K in keyof Spec<R, S> as K extends Given<R, S> ? never : K]?: FieldValue<Spec<R, S>[K]>;
  }
>;

export interface ConfigSections<R extends RunnerName> {
  seed: number;
  dataset: ConfigSection<R, 'dataset'>;
  model: ConfigSection<R, 'model'>;
  train: ConfigSection<R, 'train'>;
}

/**
 * The sections of a (validated) config of runner R, with what it leaves out filled from the
 * runner's built-in config (as loading a config file does), typed from the schema table.
 */
export function configSections<R extends RunnerName>(runner: R, config: RbpConfig): ConfigSections<R> {
  if (config.runner !== runner) throw new Error(`a ${runner} experiment was given a ${String(config.runner)} config`);
  const full = withDefaults(config, runner);
  // withDefaults put in every field of the built-in config; validation checked the values' types.
  return { seed: full.seed, dataset: full.dataset, model: full.model, train: full.train } as unknown as ConfigSections<R>;
}

/** Load, validate and return a config file; throws ConfigError with every problem. */
export function loadConfigFile(file: string): { config: RbpConfig; notes: ConfigIssue[] } {
  const cannot = (why: string) => new ConfigError(file, [{ severity: 'error', path: '', message: `cannot read config: ${why}`, line: 1, column: 1, offset: [0, 0] }]);
  let text: string;
  let fd: number | undefined;
  try {
    // Size and kind first: /dev/zero or a FIFO is not a config, and a huge file is not read whole.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw cannot('not a regular file');
    if (st.size > MAX_CONFIG_CHARS * 4) throw new ConfigError(file, [tooLarge(`${(st.size / 2 ** 20).toFixed(1)} MiB`)]);
    text = fs.readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw cannot((err as Error).message);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  const { config, issues } = parseConfigText(text);
  if (issues.some((i) => i.severity === 'error')) throw new ConfigError(file, issues);
  return { config, notes: issues.filter((i) => i.severity === 'note') };
}

/** A built-in config by name (hopfield, cora, pubmed, citeseer, hypergrad). */
export function builtinConfig(name: string): RbpConfig | undefined {
  const c = Object.hasOwn(BUILTIN_CONFIGS, name.toLowerCase()) ? BUILTIN_CONFIGS[name.toLowerCase()] : undefined;
  return c ? structuredClone(c) : undefined;
}

/**
 * `obj[key]` only when `key` is an own property of `obj`: names that come from config files,
 * `--set` or the extension (`__proto__`, `constructor`, `toString`, …) never reach a prototype.
 */
function own<T>(obj: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return obj !== undefined && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** The schema of a runner, by its name (own keys only). */
function runnerSpec(runner: unknown): RunnerSpec | undefined {
  return typeof runner === 'string' ? own(SCHEMA as Record<string, RunnerSpec>, runner) : undefined;
}

/**
 * Apply `section.field=value` or `field=value` (value parsed as YAML) and re-validate that field.
 * The path may only name a field of the runner's schema (`--set` and `rbpLab.overrides` both come
 * here): anything else, prototype names included, is refused before the config is touched.
 */
export function applyOverride(config: RbpConfig, assignment: string): RbpConfig {
  const m = /^([A-Za-z_]+)(?:\.([A-Za-z_]+))?=(.*)$/s.exec(assignment);
  if (!m) throw new Error(`--set expects section.field=value, e.g. model.truncate_iter=10; got '${assignment}'`);
  const [, a, b, valueText] = m;
  const spec = runnerSpec(config.runner);
  if (!spec) throw new Error(`config has no valid runner`);
  const path = b ? `${a}.${b}` : a;
  const sectionSpec = b ? ((SECTIONS as readonly string[]).includes(a) ? own(spec as unknown as Record<string, SectionSpec>, a) : undefined) : spec.top;
  if (!sectionSpec) throw new Error(`--set ${path}: unknown section '${a}' (${SECTIONS.filter((s) => Object.hasOwn(spec, s)).join(', ')})`);
  const field = b ?? a;
  const f = own(sectionSpec, field);
  if (!f) throw new Error(`--set ${path}: unknown field${suggest(field, Object.keys(sectionSpec))}`);
  const doc = parseDocument(valueText, { uniqueKeys: true });
  if (doc.errors.length) throw new Error(`--set ${path}: the value is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  const value = doc.toJS() as unknown;
  const problem = checkValue(f, value);
  if (problem) throw new Error(`--set ${path} ${problem}`);
  const out = structuredClone(config);
  if (b) {
    const section = own(out as Record<string, unknown>, a);
    out[a] = { ...(typeof section === 'object' && section !== null ? section : {}), [b]: value };
  } else out[a] = value;
  return out;
}

/** Check an already-parsed config object (e.g. one sent by the extension) against the schema. */
export function validateConfigObject(config: RbpConfig): string[] {
  const errors: string[] = [];
  const spec = runnerSpec(config.runner);
  if (!spec) return [`runner must be one of ${RUNNERS.join(', ')}`];
  const check = (obj: Record<string, unknown>, s: SectionSpec, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      if (!prefix && (SECTIONS as readonly string[]).includes(k)) continue;
      const f = own(s, k);
      if (!f) errors.push(`unknown field '${prefix}${k}'`);
      else {
        const p = checkValue(f, v);
        if (p) errors.push(`${prefix}${k} ${p}`);
      }
    }
  };
  check(config, spec.top, '');
  for (const sec of ['dataset', 'model', 'train'] as const) {
    const v = config[sec] ?? {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) errors.push(`'${sec}' must be a mapping`);
    else check(v as Record<string, unknown>, spec[sec], `${sec}.`);
  }
  return errors;
}
