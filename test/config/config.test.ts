/** Config loading in the authors' schema: line/column errors, ignored fields, overrides, built-ins. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as os from 'os';
import { parseConfigText, applyOverride, builtinConfig, validateConfigObject, loadConfigFile, MAX_CONFIG_CHARS } from '../../src/config/load';
import { escapeControl } from '../../src/core/format';
import { BUILTIN_CONFIGS } from '../../src/config/builtin';
import { configJsonSchema } from '../../src/config/jsonSchema';
import { resolveRun } from '../../src/run/resolve';
import { repoRoot } from '../helpers/setup';

test('the shipped configs/*.yaml are exactly the built-in configs, and valid', () => {
  for (const [name, cfg] of Object.entries(BUILTIN_CONFIGS)) {
    const text = fs.readFileSync(path.join(repoRoot, 'configs', `${name}.yaml`), 'utf8');
    const { config, issues } = parseConfigText(text);
    assert.deepEqual(issues.filter((i) => i.severity === 'error'), [], name);
    assert.deepEqual(config, cfg, name);
  }
});

test('an unknown field is an error at its line and column, with a suggestion', () => {
  const text = 'exp_name: x\nrunner: HopfieldRunner\nmodel:\n  num_update: 50\n  truncat_iter: 10\n';
  const { issues } = parseConfigText(text);
  const e = issues.find((i) => i.severity === 'error')!;
  assert.equal(e.line, 5);
  assert.equal(e.column, 3);
  assert.match(e.message, /unknown field 'model.truncat_iter' \(did you mean 'truncate_iter'\?\)/);
});

test('wrong types and out-of-range values are errors at the value', () => {
  const text = 'exp_name: x\nrunner: HopfieldRunner\nmodel:\n  truncate_iter: 0\n  grad_method: SGD\ntrain:\n  lr: fast\n';
  const errors = parseConfigText(text).issues.filter((i) => i.severity === 'error');
  assert.equal(errors.length, 3);
  assert.match(errors[0].message, /model.truncate_iter must be ≥ 1, got 0/);
  assert.deepEqual([errors[0].line, errors[0].column], [4, 18]);
  assert.match(errors[1].message, /grad_method must be one of BPTT, TBPTT, RBP, CG_RBP, Neumann_RBP, exact; got 'SGD'/);
  assert.match(errors[2].message, /train.lr must be a number, got "fast"/);
});

test('device fields are accepted and ignored with a note; method names in any case', () => {
  const text = 'exp_name: x\nrunner: HopfieldRunner\nuse_gpu: true\ngpus: [0, 1]\nmodel:\n  grad_method: neumann_rbp\ntrain:\n  num_workers: 4\n';
  const { issues, config } = parseConfigText(text);
  assert.equal(issues.filter((i) => i.severity === 'error').length, 0);
  const notes = issues.filter((i) => i.severity === 'note').map((i) => i.path);
  assert.deepEqual(notes.sort(), ['gpus', 'train.num_workers', 'use_gpu']);
  // missing fields come from the built-in config of the runner
  assert.equal((config.model as Record<string, unknown>).num_update, 50);
});

test('YAML syntax errors and a missing runner are reported with positions', () => {
  const bad = parseConfigText('exp_name: x\nmodel: [unclosed\n');
  assert.ok(bad.issues[0].message.startsWith('YAML syntax'));
  const noRunner = parseConfigText('exp_name: x\nrunner: HopfeldRunner\n');
  assert.match(noRunner.issues[0].message, /runner must be one of .*did you mean 'HopfieldRunner'/);
  assert.equal(noRunner.issues[0].line, 2);
});

test('--set overrides are parsed as YAML and validated', () => {
  const c = builtinConfig('hopfield')!;
  const c2 = applyOverride(c, 'model.truncate_iter=10');
  assert.equal((c2.model as Record<string, unknown>).truncate_iter, 10);
  assert.equal((c.model as Record<string, unknown>).truncate_iter, 20, 'the original is not modified');
  assert.throws(() => applyOverride(c, 'model.truncate_iter=-1'), /must be ≥ 1/);
  assert.throws(() => applyOverride(c, 'model.trunc=3'), /unknown field/);
  assert.throws(() => applyOverride(c, 'nonsense'), /section.field=value/);
  assert.deepEqual(validateConfigObject(c2), []);
  assert.deepEqual(validateConfigObject({ ...c2, model: { ...c2.model, foo: 1 } }), ["unknown field 'model.foo'"]);
});

test('schemas/rbp-config.schema.json is the generated JSON schema, and it accepts the shipped configs', () => {
  const onDisk = JSON.parse(fs.readFileSync(path.join(repoRoot, 'schemas', 'rbp-config.schema.json'), 'utf8'));
  assert.deepEqual(onDisk, JSON.parse(JSON.stringify(configJsonSchema())), 'run `node scripts/gen-schema.mjs`');
  const hop = (onDisk.allOf as { if: { properties: { runner: { const: string } } }; then: { properties: Record<string, { properties?: Record<string, unknown> }> } }[]).find((b) => b.if.properties.runner.const === 'HopfieldRunner')!;
  assert.ok(hop.then.properties.model.properties!.truncate_iter);
  const gm = hop.then.properties.model.properties!.grad_method as { anyOf: [{ enum: string[] }, { pattern: string }] };
  const re = new RegExp(gm.anyOf[1].pattern);
  for (const ok of ['Neumann_RBP', 'neumann-rbp', 'cg_rbp', 'BPTT']) assert.ok(re.test(ok), ok);
  assert.ok(!re.test('SGD'));
});

test('object prototype names are not fields', () => {
  const { issues } = parseConfigText('exp_name: x\nrunner: CitationRunner\ndataset:\n  name: constructor\nmodel:\n  constructor: 3\n  toString: 1\n');
  const errors = issues.filter((i) => i.severity === 'error').map((i) => i.message);
  assert.ok(errors.some((m) => /unknown field 'model.constructor'/.test(m)), errors.join('; '));
  assert.ok(errors.some((m) => /unknown field 'model.toString'/.test(m)), errors.join('; '));
  assert.ok(errors.some((m) => /dataset.name must be one of/.test(m)), errors.join('; '));
  assert.throws(() => applyOverride(builtinConfig('hopfield')!, 'toString=1'), /unknown field/);
});

test('the citation options of the authors\' schema: aggregate_type sum or avg, merge_dup_edges (ours), train_ratio below 0.5', () => {
  const c = builtinConfig('cora')!;
  assert.equal((applyOverride(c, 'model.aggregate_type=avg').model as Record<string, unknown>).aggregate_type, 'avg');
  assert.throws(() => applyOverride(c, 'model.aggregate_type=max'), /aggregate_type must be one of sum, avg; got 'max'/);
  assert.equal((applyOverride(c, 'dataset.merge_dup_edges=true').dataset as Record<string, unknown>).merge_dup_edges, true);
  assert.throws(() => applyOverride(c, 'dataset.merge_dup_edges=3'), /merge_dup_edges must be/);
  assert.throws(() => applyOverride(c, 'dataset.train_ratio=0.7'), /train_ratio must be ≤ 0.5/);
});

test('--set and rbpLab.overrides may only name schema fields: prototype names are refused and nothing is polluted', () => {
  const c = builtinConfig('hopfield')!;
  const toString = Object.prototype.toString;
  const keys = Object.keys;
  // Mutant check: with the section looked up by plain indexing (`spec[a]`) the first two replaced
  // Object.prototype.toString and Object.keys; with `field in sectionSpec` the own-key ones passed.
  for (const bad of ['__proto__.toString=1', 'constructor.keys=1', 'prototype.x=1', '__proto__=1', 'constructor=1', 'toString=1', 'hasOwnProperty=1', 'model.__proto__=1', 'model.constructor=1', 'model.toString=1', 'valueOf.x=1', 'model.hasOwnProperty=1']) {
    assert.throws(() => applyOverride(c, bad), /--set [\w.]+: unknown (field|section)/, bad);
  }
  assert.equal(Object.prototype.toString, toString);
  assert.equal(Object.keys, keys);
  assert.equal(({} as Record<string, unknown>).x, undefined);
  // A runner named like a prototype member is no runner (configs sent by the extension).
  assert.deepEqual(validateConfigObject({ ...c, runner: 'constructor' }), ['runner must be one of HopfieldRunner, CitationRunner, HypergradRunner, ModuleRunner']);
  assert.deepEqual(validateConfigObject({ ...c, runner: '__proto__' }), ['runner must be one of HopfieldRunner, CitationRunner, HypergradRunner, ModuleRunner']);
  assert.deepEqual(validateConfigObject({ ...c, model: 'x' as unknown as Record<string, unknown> }), ["'model' must be a mapping"]);
  // The value is checked as before; a value that is not YAML is refused, not half-parsed.
  assert.throws(() => applyOverride(c, 'model.num_update=[1,'), /not valid YAML/);
});

const errorsOf = (text: string) => parseConfigText(text).issues.filter((i) => i.severity === 'error');

test('list items are checked one by one, at the list', () => {
  const hyper = (list: string) => `exp_name: x\nrunner: HypergradRunner\nmodel:\n  mlp_hidden: ${list}\n`;
  // Mutant check: with the old 'int[]' rule (integers, no bounds) the first two passed.
  for (const [list, msg] of [
    ['[784, -5, 10]', /model.mlp_hidden item 1 must be ≥ 1, got -5/],
    ['[784, 0, 10]', /model.mlp_hidden item 1 must be ≥ 1, got 0/],
    ['[784, 1.5, 10]', /model.mlp_hidden must be a list of integers; item 1 is 1.5/],
    ['[784, "50", 10]', /model.mlp_hidden must be a list of integers; item 1 is "50"/],
    ['784', /model.mlp_hidden must be a list of integers, got 784/],
  ] as const) {
    const e = errorsOf(hyper(list));
    assert.equal(e.length, 1, list);
    assert.match(e[0].message, msg);
    assert.deepEqual([e[0].line, e[0].column], [4, 15]);
  }
  assert.deepEqual(errorsOf(hyper('[784, 50, 10]')), []);
  assert.match(errorsOf('exp_name: x\nrunner: HopfieldRunner\ntrain:\n  lr_decay_steps: [10, -1]\n')[0].message, /item 1 must be ≥ 0, got -1/);
  assert.throws(() => applyOverride(builtinConfig('hypergrad')!, 'model.mlp_hidden=[784, 0, 10]'), /item 1 must be ≥ 1/);
});

test('aliases: a scalar alias is its value; an alias bomb is one error at the first alias', () => {
  const ok = parseConfigText('exp_name: x\nrunner: HopfieldRunner\nmodel:\n  num_update: &t 7\n  truncate_iter: *t\n');
  assert.deepEqual(ok.issues.filter((i) => i.severity === 'error'), []);
  assert.equal((ok.config.model as Record<string, unknown>).truncate_iter, 7);
  // Each level repeats the one before nine times: 9^6 strings if expanded.
  let bomb = 'exp_name: x\nrunner: HopfieldRunner\na0: &a0 [x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i <= 6; i++) bomb += `a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]\n`;
  const e = errorsOf(bomb);
  assert.equal(e.length, 1);
  assert.match(e[0].message, /YAML aliases expand too much/);
  assert.deepEqual([e[0].line, e[0].column], [4, 10], 'at the first alias');
});

test('seeds are 32-bit: a larger one is refused, not taken modulo 2^32', () => {
  assert.match(errorsOf('exp_name: x\nrunner: HopfieldRunner\nseed: 4294967296\n')[0].message, /seed must be ≤ 4294967295, got 4294967296/);
  assert.deepEqual(errorsOf('exp_name: x\nrunner: HopfieldRunner\nseed: 4294967295\n'), []);
  assert.throws(() => applyOverride(builtinConfig('hopfield')!, 'seed=8589934593'), /seed must be ≤ 4294967295/);
});

test('size: a config text or file over the cap is refused before it is parsed; so is a file that is not a regular file', () => {
  const big = 'exp_name: x\nrunner: HopfieldRunner\nmodel:\n  num_update: 5\n#' + 'x'.repeat(MAX_CONFIG_CHARS);
  const e = errorsOf(big);
  assert.equal(e.length, 1);
  assert.match(e[0].message, /config is too large \(64 KiB\); a config file is at most 64 KiB/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cfg-'));
  const file = path.join(dir, 'huge.yaml');
  fs.writeFileSync(file, 'exp_name: x\n');
  fs.truncateSync(file, 2 ** 30); // sparse: 1 GiB that is never read
  assert.throws(() => loadConfigFile(file), /huge.yaml:1:1: config is too large \(1024.0 MiB\)/);
  assert.throws(() => loadConfigFile('/dev/zero'), /\/dev\/zero:1:1: cannot read config: not a regular file/);
  assert.throws(() => loadConfigFile(dir), /cannot read config: not a regular file/);
});

test('escapeControl: control characters, C1 and bidi overrides print as \\uXXXX; JSON stays JSON', () => {
  assert.equal(escapeControl('a\x1b[31mb\x07\rc\td\ne'), 'a\\u001b[31mb\\u0007\\u000dc\td\ne');
  assert.equal(escapeControl('\u009b2J \u202eevil \x7f'), '\\u009b2J \\u202eevil \\u007f');
  const v = { s: 'x\u009by\u202ez\x1b' };
  assert.deepEqual(JSON.parse(escapeControl(JSON.stringify(v))), v);
  assert.equal(escapeControl('ρ(J) = 0.5 ✓ — ≥'), 'ρ(J) = 0.5 ✓ — ≥');
});

test('an alias used before its anchor is one error at the alias (the fuzz found it: a ReferenceError escaped)', () => {
  const e = errorsOf('exp_name: x\nrunner: HopfieldRunner\nmodel:\n  num_update: *later\n  truncate_iter: &later 5\n');
  assert.equal(e.length, 1);
  assert.match(e[0].message, /^YAML: Unresolved alias/);
  assert.deepEqual([e[0].line, e[0].column], [4, 15]);
});

test('a run request names its method in any spelling the CLI takes; the config gets the canonical name', () => {
  // `cg` and `neumann` are aliases, not config spellings: the config used to be handed 'cg' and refuse it.
  for (const [asked, canonical] of [['cg', 'CG_RBP'], ['neumann', 'Neumann_RBP'], ['neumann-rbp', 'Neumann_RBP'], ['tbptt', 'TBPTT']] as const) {
    const r = resolveRun({ experiment: 'hopfield', method: asked, K: 3 });
    assert.equal(r.method, canonical);
    assert.equal(r.config.model.grad_method, canonical);
  }
  assert.throws(() => resolveRun({ experiment: 'hopfield', method: 'sgd' }), /unknown gradient method 'sgd'/);
});
