/**
 * The gradient-method catalog is the one list: a throw-away method registered here (test-only) is
 * known to the CLI's argument parsing, config validation and the JSON schema, the runner (which
 * calls it), and the labels the webview is sent and draws — and to none of them once removed.
 * package.json's setting enum is static: a test keeps it equal to the catalog.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { getMethod, registerMethod, methods, methodLabel, parseMethodName, takesK } from '../../src/core/gradients';
import type { MethodInfo } from '../../src/core/gradients/catalog';
import { main } from '../../src/cli/main';
import { parseConfigText, validateConfigObject, builtinConfig } from '../../src/config/load';
import { configJsonSchema } from '../../src/config/jsonSchema';
import { overlaySeries } from '../../src/extension/replay';
import { notesForRun, digestEvents } from '../../src/extension/configEditor/digest';
import { notesFromRun } from '../../src/config/inline';
import type { RunDescription } from '../../src/run/recorder';
import type { Envelope } from '../../src/protocol/messages';
import { useBackend, repoRoot } from '../helpers/setup';

before(useBackend);

const INFO: MethodInfo = {
  name: 'Half_Neumann',
  label: 'Half-Neumann (test)',
  aliases: ['halfn'],
  takesK: true,
  unroll: false,
  memory: 'constant',
  summary: 'test only: Neumann-RBP with half the terms',
};

/** Runs `rbp` in this process; what it printed, by stream. */
async function rbp(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s), isTTY: false });
  return { code, out, err };
}

const hopfieldYaml = () => fs.readFileSync(path.join(repoRoot, 'configs', 'hopfield.yaml'), 'utf8');
const withMethod = (m: string) => hopfieldYaml().replace(/^  grad_method: BPTT$/m, `  grad_method: ${m}`);
const tiny = ['--set', 'model.input_dim=16', '--set', 'model.hidden_dim=8', '--set', 'model.num_update=6', '--steps', '2', '--json'];

test('a method registered through the catalog is known everywhere, and nowhere once removed', async () => {
  // Unknown before: the CLI refuses it (exit 2), the config schema too.
  const before = await rbp(['run', 'hopfield', '--method', 'halfn', ...tiny]);
  assert.equal(before.code, 2);
  assert.match(before.err[0], /unknown method 'halfn'/);
  assert.ok(parseConfigText(withMethod('Half_Neumann')).issues.some((i) => i.severity === 'error' && i.path === 'model.grad_method'));

  const calls: number[] = [];
  const remove = registerMethod(INFO, (sys, opts) => {
    calls.push(opts.K);
    return { ...getMethod('Neumann_RBP').compute(sys, { ...opts, K: Math.ceil(opts.K / 2) }), method: INFO.name, K: opts.K };
  });
  try {
    assert.equal(parseMethodName('half-neumann'), 'Half_Neumann');
    assert.equal(parseMethodName('HALFN'), 'Half_Neumann');
    assert.equal(takesK('Half_Neumann'), true);
    assert.equal(methods().at(-1), INFO);

    // CLI: usage lists it; a run with it (an alias, any case) goes through the runner, which calls it with the K asked for.
    assert.match((await rbp(['--help'])).out.join('\n'), /methods: .*Half_Neumann/);
    const r = await rbp(['run', 'hopfield', '--method', 'HalfN', '--truncate', '6', ...tiny]);
    assert.equal(r.code, 0, r.err.join('\n'));
    const events = r.out.map((l) => JSON.parse(l) as Envelope);
    const started = events.find((e) => e.type === 'run/started');
    assert.ok(started && started.type === 'run/started');
    assert.equal(started.method, 'Half_Neumann');
    assert.equal(started.K, 6, 'K is recorded for a method that takes it');
    assert.deepEqual(calls, [6, 6], 'one gradient per training step, with K = 6');
    const bwd = events.filter((e) => e.type === 'trace/backward');
    assert.ok(bwd.length === 2 && bwd.every((e) => e.type === 'trace/backward' && e.method === 'Half_Neumann' && e.residual.length === 4), 'the backward trace is its own (3 terms + 1)');

    // Config validation (YAML text and objects) and the JSON schema for editors.
    const parsed = parseConfigText(withMethod('half-neumann'));
    assert.deepEqual(parsed.issues.filter((i) => i.severity === 'error'), []);
    const cfg = builtinConfig('hopfield')!;
    cfg.model.grad_method = 'Half_Neumann';
    assert.deepEqual(validateConfigObject(cfg), []);
    const schema = JSON.stringify(configJsonSchema());
    assert.match(schema, /"Half_Neumann"/);

    // Labels the webview is sent (overlay curves) and draws (its charts read the same catalog), and the config notes.
    const desc = { runId: 'r1', experiment: 'hopfield', method: 'Half_Neumann', K: 6 } as RunDescription;
    const metrics = events.filter((e) => e.type === 'metrics');
    assert.match(overlaySeries(desc, metrics)[0].label, /^hopfield Half-Neumann \(test\) K=6 /);
    assert.equal(methodLabel('Half_Neumann'), 'Half-Neumann (test)');
    const notes = notesForRun({ runner: 'HopfieldRunner', method: 'halfn', K: 6 }, digestEvents(events));
    assert.match(notes.backward!.label, /^Half-Neumann \(test\) adjoint residual per iteration/);
    assert.ok(notesFromRun('HopfieldRunner', events).some((n) => /^Half-Neumann \(test\): adjoint residual/.test(n.text)));
  } finally {
    remove();
  }

  // Removed: unknown again everywhere.
  assert.equal(parseMethodName('halfn'), undefined);
  assert.equal((await rbp(['run', 'hopfield', '--method', 'halfn', ...tiny])).code, 2);
  assert.doesNotMatch(JSON.stringify(configJsonSchema()), /Half_Neumann/);
  assert.equal(methodLabel('Half_Neumann'), 'Half_Neumann');
});

test('a spelling that already names a method cannot be registered again', () => {
  assert.throws(() => registerMethod({ ...INFO, name: 'Neumann' }, getMethod('Neumann_RBP').compute), /'neumann' already names Neumann_RBP/);
  assert.throws(() => registerMethod({ ...INFO, aliases: ['cg-rbp'] }, getMethod('CG_RBP').compute), /'cgrbp' already names CG_RBP/);
  assert.equal(parseMethodName('Half_Neumann'), undefined, 'nothing was added by a refused registration');
});

test("package.json's rbpLab.defaultMethod offers exactly the catalog's training methods", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  const setting = pkg.contributes.configuration.properties['rbpLab.defaultMethod'];
  assert.deepEqual(setting.enum, ['', ...methods().filter((m) => !m.reference).map((m) => m.name)]);
  assert.equal(setting.enumDescriptions.length, setting.enum.length);
});
