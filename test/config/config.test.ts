/** Config loading in the authors' schema: line/column errors, ignored fields, overrides, built-ins. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { parseConfigText, applyOverride, builtinConfig, validateConfigObject } from '../../src/config/load';
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

test('a run request names its method in any spelling the CLI takes; the config gets the canonical name', () => {
  // `cg` and `neumann` are aliases, not config spellings: the config used to be handed 'cg' and refuse it.
  for (const [asked, canonical] of [['cg', 'CG_RBP'], ['neumann', 'Neumann_RBP'], ['neumann-rbp', 'Neumann_RBP'], ['tbptt', 'TBPTT']] as const) {
    const r = resolveRun({ experiment: 'hopfield', method: asked, K: 3 });
    assert.equal(r.method, canonical);
    assert.equal(r.config.model.grad_method, canonical);
  }
  assert.throws(() => resolveRun({ experiment: 'hopfield', method: 'sgd' }), /unknown gradient method 'sgd'/);
});
