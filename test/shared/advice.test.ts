/**
 * Verdict advice as config edits: every key any advice can name is a field of that runner's schema,
 * its value validates there, the pieces agree, and the edit lands in the file keeping the rest.
 * Mutants this catches: advising 'model.num_update' for every runner (fails on CitationRunner and
 * HypergradRunner: no such field), a T advice below the current T, Anderson for BPTT (whose
 * forward pass is the plain unroll), a value outside the schema's bounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { adviceFor, forwardStepsFor, noAdviceNote, type AdviceInput, type Advice } from '../../src/shared/advice';
import { SCHEMA, RUNNERS, type RunnerName } from '../../src/config/schema';
import { parseConfigText } from '../../src/config/load';
import { configEdit, applyEdit } from '../../src/config/edit';
import { methodNames } from '../../src/core/gradients/catalog';

const root = path.resolve(__dirname, '../../..');
/** A real config file of each runner: the built-in ones, and the template for ModuleRunner. */
const FILES: Record<RunnerName, string[]> = {
  HopfieldRunner: ['configs/hopfield.yaml'],
  CitationRunner: ['configs/cora.yaml', 'configs/pubmed.yaml', 'configs/citeseer.yaml'],
  HypergradRunner: ['configs/hypergrad.yaml'],
  ModuleRunner: ['templates/deq-two-moons/deq_two_moons.rbp.yaml'],
};

type V = AdviceInput['verdict'];
/** Every kind of verdict the diagnostics give, at ρ on both sides of the bands. */
const VERDICTS: V[] = [
  { level: 'ok', rho: 0.35, forwardConverged: true, finalRelResidual: 1e-9 },
  { level: 'ok', rho: 0.97, forwardConverged: true, finalRelResidual: 5e-5 },
  { level: 'warn', rho: 0.944, forwardConverged: false, finalRelResidual: 4.8e-3 },
  { level: 'warn', rho: 0.59, forwardConverged: false, finalRelResidual: 0.15 },
  { level: 'warn', rho: 0.999999, forwardConverged: false, finalRelResidual: 0.5 },
  { level: 'bad', rho: 1.85, forwardConverged: false, finalRelResidual: 0.093 },
  { level: 'bad', rho: 1.0, forwardConverged: false, finalRelResidual: 1e-3 },
  { level: 'bad', rho: NaN, forwardConverged: false, finalRelResidual: NaN },
];

function cases(): { runner: RunnerName; file: string; text: string; config: Record<string, unknown>; input: AdviceInput; advice: Advice[] }[] {
  const out = [];
  for (const runner of RUNNERS)
    for (const file of FILES[runner]) {
      const text = fs.readFileSync(path.join(root, file), 'utf8');
      const parsed = parseConfigText(text);
      for (const method of methodNames())
        for (const verdict of VERDICTS) {
          const config = { ...parsed.config, model: { ...(parsed.config.model as object), grad_method: method } } as Record<string, unknown>;
          const input = { runner, config, verdict };
          out.push({ runner, file, text, config, input, advice: adviceFor(input) });
        }
    }
  return out;
}

test('every key any advice names is a field of that runner’s schema, and its value validates there', () => {
  let named = 0;
  for (const c of cases())
    for (const a of c.advice) {
      const [section, field] = a.key.split('.');
      const spec = (SCHEMA[c.runner] as unknown as Record<string, Record<string, { ignored?: string }>>)[section]?.[field];
      assert.ok(spec, `${c.runner}: advice names '${a.key}', not in its schema`);
      assert.equal(spec.ignored, undefined, `${c.runner}: advice names '${a.key}', which RBP Lab ignores`);
      // The edit applied to the real file parses without a problem and holds the value.
      const edited = applyEdit(c.text, configEdit(c.text, a.key, a.value));
      const p = parseConfigText(edited);
      assert.deepEqual(p.issues.filter((i) => i.severity === 'error'), [], `${c.file} with ${a.key}: ${a.value}`);
      assert.equal((p.config as unknown as Record<string, Record<string, unknown>>)[section][field], a.value, `${c.file}: ${a.key}`);
      named++;
    }
  assert.ok(named > 20, `advice was given in ${named} cases only`);
});

test('the pieces of advice agree: one value per key, T only ever raised, and the same direction in every case', () => {
  for (const c of cases()) {
    const keys = c.advice.map((a) => a.key);
    assert.equal(new Set(keys).size, keys.length, `${c.runner}: two pieces of advice on one key: ${keys}`);
    for (const a of c.advice) {
      const [section, field] = a.key.split('.');
      const now = (c.config[section] as Record<string, unknown>)[field];
      if (typeof a.value === 'number') assert.ok(typeof now === 'number' && a.value > now, `${c.runner}: ${a.key} ${String(now)} → ${a.value} does not raise it`);
      else assert.notEqual(a.value, now, `${c.runner}: ${a.key} is already ${String(now)}`);
    }
  }
});

test('what each verdict gets: more T and Anderson for an unconverged forward pass, avg for sum aggregation at ρ ≥ 1, nothing for ok', () => {
  const text = fs.readFileSync(path.join(root, 'templates/deq-two-moons/deq_two_moons.rbp.yaml'), 'utf8');
  const config = parseConfigText(text.replace('num_update: 150', 'num_update: 60')).config as unknown as Record<string, unknown>;
  // The measured case (README "Verdicts that act"): ρ 0.944, residual 4.8e-3 after 60 steps; converged after 139.
  const warn = adviceFor({ runner: 'ModuleRunner', config, verdict: VERDICTS[2] });
  assert.deepEqual(warn.map((a) => [a.key, a.value]), [['model.num_update', 170], ['model.forward_solver', 'anderson']]);
  assert.match(warn[0].label, /num_update 60 → 170/);
  // BPTT's forward pass is the plain unroll: no solver advice.
  const bptt = adviceFor({ runner: 'ModuleRunner', config: { ...config, model: { ...(config.model as object), grad_method: 'BPTT' } }, verdict: VERDICTS[2] });
  assert.deepEqual(bptt.map((a) => a.key), ['model.num_update']);
  // Already Anderson: only T.
  assert.deepEqual(adviceFor({ runner: 'ModuleRunner', config: { ...config, model: { ...(config.model as object), forward_solver: 'anderson' } }, verdict: VERDICTS[2] }).map((a) => a.key), ['model.num_update']);
  const cora = parseConfigText(fs.readFileSync(path.join(root, 'configs/cora.yaml'), 'utf8')).config as unknown as Record<string, unknown>;
  assert.deepEqual(adviceFor({ runner: 'CitationRunner', config: cora, verdict: VERDICTS[5] }), [{ key: 'model.aggregate_type', value: 'avg', label: 'Average the messages: aggregate_type avg' }]);
  const avg = { ...cora, model: { ...(cora.model as object), aggregate_type: 'avg' } };
  assert.deepEqual(adviceFor({ runner: 'CitationRunner', config: avg, verdict: VERDICTS[5] }), []);
  assert.equal(noAdviceNote({ runner: 'CitationRunner', config: avg, verdict: VERDICTS[5] }), 'No config edit is known to fix this.');
  const hyper = parseConfigText(fs.readFileSync(path.join(root, 'configs/hypergrad.yaml'), 'utf8')).config as unknown as Record<string, unknown>;
  assert.deepEqual(adviceFor({ runner: 'HypergradRunner', config: hyper, verdict: VERDICTS[6] }), []);
  for (const v of VERDICTS.slice(0, 2)) {
    assert.deepEqual(adviceFor({ runner: 'HopfieldRunner', config: cora, verdict: v }), []);
    assert.equal(noAdviceNote({ runner: 'HopfieldRunner', config: cora, verdict: v }), undefined);
  }
  assert.deepEqual(adviceFor({ runner: 'NoSuchRunner', config: cora, verdict: VERDICTS[2] }), []);
});

test('an unconverged forward pass gets more T in each runner’s own T field', () => {
  const T_FIELD: Record<RunnerName, string> = { HopfieldRunner: 'model.num_update', CitationRunner: 'model.num_prop', HypergradRunner: 'model.num_sgd_step', ModuleRunner: 'model.num_update' };
  for (const c of cases().filter((x) => x.input.verdict.level === 'warn')) assert.equal(c.advice[0]?.key, T_FIELD[c.runner], `${c.file} (${String((c.config.model as Record<string, unknown>).grad_method)})`);
});

test('forward steps for the tolerance: from the rate ρ with a margin, at least 2T, within the schema’s bound', () => {
  // 60 + 1.5 · log(1e-4 / 4.8e-3) / log(0.944) = 160.5 → 170.
  assert.equal(forwardStepsFor(60, 4.8e-3, 0.944, 100000), 170);
  // A rate that predicts little (ρ 0.59 but residual 0.15: the estimate is of a state that is no fixed point): 2T.
  assert.equal(forwardStepsFor(50, 0.15, 0.59, 100000), 100);
  assert.equal(forwardStepsFor(50, 0.5, 0.9999999, 100000), 100000);
  assert.equal(forwardStepsFor(50, NaN, 0.9, 100000), 100);
});

test('configEdit replaces only the value (comments and layout kept) or adds the field under its section', () => {
  const text = '# top comment\nrunner: HopfieldRunner\nmodel:\n  num_update: 50   # T\n  # grad_method: RBP\n  grad_method: BPTT\n  truncate_iter: 20\ntrain:\n  lr_decay_steps: [10000]\n  lr: 1.0e-3\n';
  const e1 = configEdit(text, 'model.num_update', 170);
  assert.equal(applyEdit(text, e1), text.replace('num_update: 50   # T', 'num_update: 170   # T'));
  const e2 = configEdit(text, 'model.forward_solver', 'anderson');
  assert.equal(applyEdit(text, e2), text.replace('  truncate_iter: 20\n', '  truncate_iter: 20\n  forward_solver: anderson\n'));
  const e3 = configEdit(text, 'train.momentum', 0.5);
  assert.equal(applyEdit(text, e3), text + '  momentum: 0.5\n', 'added after the last line of the last section');
  // A string YAML would read as something else is quoted.
  assert.equal(applyEdit(text, configEdit(text, 'model.grad_method', 'true')).includes("grad_method: \"true\""), true);
  assert.throws(() => configEdit(text, 'dataset.name', 'MNIST'), /no 'dataset:' section/);
  assert.throws(() => configEdit(text, 'train.lr_decay_steps', 3), /collection/);
});
