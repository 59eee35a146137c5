/**
 * ModuleRunner: the user's own model from a module in the workspace. The template trains with
 * every method and its gradients agree with finite differences of the loss; a module that
 * re-implements the Hopfield system gives the built-in's gradients; each kind of bad module is a
 * failed run whose reason names the user's file (and line, where the fault is a line).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '../../src/core/tf';
import { getMethod, methodNames } from '../../src/core/gradients';
import { compareGrads } from '../../src/core/metrics';
import { NaiveSolver } from '../../src/core/solvers/naive';
import { dispose } from '../../src/core/state';
import { Rng } from '../../src/core/random';
import { loadConfigFile } from '../../src/config/load';
import { writeModelTemplate } from '../../src/config/modelTemplate';
import { loadExperiment } from '../../src/experiments';
import { RunError, type ExperimentSession } from '../../src/experiments/types';
import { HopfieldSystem, HOPFIELD_DEFAULTS } from '../../src/experiments/hopfield/model';
import { runExperiment } from '../../src/run/runner';
import { gradcheck } from '../../src/run/gradcheck';
import type { WorkerEvent } from '../../src/protocol/messages';
import { repoRoot, useBackend, randomDirection, dotAll } from '../helpers/setup';
import { writeBadModule, PATCH_LINE } from '../helpers/modules';

before(useBackend);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-module-'));
const template = writeModelTemplate(path.join(tmp, 'template'), repoRoot);

async function session(configFile: string, overrides: Record<string, unknown> = {}): Promise<ExperimentSession> {
  const { config } = loadConfigFile(configFile);
  Object.assign(config.model, overrides);
  const exp = await loadExperiment('ModuleRunner');
  assert.ok(exp);
  return exp.create(config, 'exact', 5, { configDir: path.dirname(configFile), log: () => undefined });
}

test('init-model writes the module, its config and the types, and never overwrites', () => {
  assert.deepEqual(template.files.map((f) => path.basename(f)), ['deq_two_moons.mjs', 'deq_two_moons.rbp.yaml', 'rbp-model.d.ts']);
  assert.equal(fs.readFileSync(template.files[2], 'utf8'), fs.readFileSync(path.join(repoRoot, 'dist', 'types', 'model.d.ts'), 'utf8'));
  assert.throws(() => writeModelTemplate(path.join(tmp, 'template'), repoRoot), /already exist.*not overwriting/);
});

test('the template trains a few steps with every method, and leaves no tensor behind', async () => {
  const before = tf.memory().numTensors;
  for (const method of methodNames()) {
    const events: WorkerEvent[] = [];
    const status = await runExperiment({ experiment: template.config, method, K: 5, steps: 2, overrides: ['model.num_update=60'] }, (e) => events.push(e));
    assert.equal(status, 'completed', method);
    const train = events.filter((e) => e.type === 'metrics' && e.kind === 'train');
    assert.equal(train.length, 2, method);
    for (const e of train) assert.ok(e.type === 'metrics' && Number.isFinite(e.values.loss) && e.values.grad_norm > 0, `${method}: ${JSON.stringify(e)}`);
    const evals = events.filter((e) => e.type === 'metrics' && e.kind === 'eval');
    assert.ok(evals.every((e) => e.type === 'metrics' && e.values.test_accuracy >= 0 && e.values.test_accuracy <= 1), method);
  }
  assert.equal(tf.memory().numTensors, before, 'every session freed its tensors');
});

test('running the template trains: test accuracy above 0.9 after 20 Neumann-RBP steps (from about 0.5)', async () => {
  const evals: Record<string, number>[] = [];
  await runExperiment({ experiment: template.config, steps: 20 }, (e) => {
    if (e.type === 'metrics' && e.kind === 'eval') evals.push(e.values);
  });
  assert.ok(evals[0].test_accuracy < 0.8, `untrained: ${evals[0].test_accuracy}`);
  assert.ok(evals.at(-1)!.test_accuracy > 0.9, `trained: ${evals.at(-1)!.test_accuracy}`);
});

test('template: the exact gradient (and BPTT) agree with finite differences of the loss at the fixed point; the methods differ at small K', async () => {
  const s = await session(template.config);
  s.beforeStep(0);
  const sys = s.system;
  const vars = [...sys.params, ...sys.lossParams];
  const lossAt = (): number => {
    const h0 = sys.initialState();
    const r = new NaiveSolver().solve(sys, h0, { maxSteps: s.T });
    const l = tf.tidy(() => sys.loss(r.h, sys.lossParams).dataSync()[0]);
    dispose(h0, r.h);
    return l;
  };
  const ex = getMethod('exact').compute(sys, { T: s.T, K: 1, ...s.gradientOptions });
  const bp = getMethod('BPTT').compute(sys, { T: s.T, K: 1 });
  const g = [...ex.grads, ...ex.lossGrads];
  const saved = vars.map((v) => tf.clone(v));
  const eps = 1e-2;
  for (const seed of [3, 17, 29]) {
    const d = randomDirection(vars, seed);
    const at = (sgn: number) => {
      vars.forEach((v, i) => v.assign(tf.tidy(() => tf.add(saved[i], tf.mul(d[i], sgn * eps)))));
      return lossAt();
    };
    const fd = (at(1) - at(-1)) / (2 * eps);
    vars.forEach((v, i) => v.assign(saved[i]));
    const ad = dotAll(g, d);
    const adBptt = dotAll([...bp.grads, ...bp.lossGrads], d);
    assert.ok(Math.abs(fd - ad) <= 1e-2 * Math.abs(fd) + 1e-4, `direction ${seed}: exact ${ad} vs finite difference ${fd}`);
    assert.ok(Math.abs(fd - adBptt) <= 1e-2 * Math.abs(fd) + 1e-4, `direction ${seed}: BPTT ${adBptt} vs finite difference ${fd}`);
    dispose(d);
  }
  dispose(saved, ex.grads, ex.lossGrads, bp.grads, bp.lossGrads);
  const report = gradcheck('template', s, { Ks: [5, 40], methods: ['Neumann_RBP', 'TBPTT'] });
  const row = (m: string, K: number) => report.rows.find((r) => r.method === m && r.K === K)!;
  assert.ok(report.rho > 0.5 && report.rho < 1, `ρ(J) = ${report.rho}: moderate`);
  assert.ok(row('Neumann_RBP', 5).relErrExact > 0.01, `Neumann K=5 is visibly off: ${row('Neumann_RBP', 5).relErrExact}`);
  assert.ok(row('Neumann_RBP', 40).relErrExact < row('Neumann_RBP', 5).relErrExact / 2, 'and better at K = 40');
  s.dispose();
});

/** A Hopfield module config (test/fixtures/models/hopfield.mjs) in a temporary folder. */
function hopfieldModuleConfig(): string {
  const dir = path.join(tmp, 'hopfield');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(repoRoot, 'test', 'fixtures', 'models', 'hopfield.mjs'), path.join(dir, 'hopfield.mjs'));
  const f = path.join(dir, 'hopfield.rbp.yaml');
  fs.writeFileSync(f, 'exp_name: hopfield_module\nrunner: ModuleRunner\nseed: 7\nmodel:\n  module: ./hopfield.mjs\n  num_update: 30\n  params: { n_in: 12, n_hid: 8, images: 3, init_scale: 0.3, a: 1, b: 0.5 }\n');
  return f;
}

test('a module re-implementing the Hopfield system gives the built-in’s gradients with every method', async () => {
  const s = await session(hopfieldModuleConfig());
  s.beforeStep(0);
  const imgRng = new Rng(8);
  const images = Array.from({ length: 3 }, () => Float32Array.from({ length: 12 }, () => (imgRng.next() < 0.5 ? 1 : 0)));
  const builtin = new HopfieldSystem({ ...HOPFIELD_DEFAULTS, nIn: 12, nHid: 8, initScale: 0.3, seed: 7 }, images);
  assert.equal(compareGrads(s.system.params, builtin.params).relErr, 0, 'same initial weights');
  for (const m of methodNames()) {
    const opts = { T: 30, K: 5 };
    const a = getMethod(m).compute(s.system, opts);
    const b = getMethod(m).compute(builtin, opts);
    assert.ok(Math.abs(a.loss - b.loss) <= 1e-6 * Math.abs(b.loss), `${m}: loss ${a.loss} vs ${b.loss}`);
    const c = compareGrads(a.grads, b.grads);
    assert.ok(c.relErr < 1e-4, `${m}: module vs built-in gradient rel err ${c.relErr}`);
    dispose(a.grads, a.lossGrads, b.grads, b.lossGrads);
  }
  builtin.dispose();
  s.dispose();
});

// ---- bad modules ----

const badModule = (name: string, opts: Parameters<typeof writeBadModule>[2]) => writeBadModule(path.join(tmp, 'bad'), name, opts);

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const BAD: { name: string; patch?: string; source?: string; module?: string | null; reason: (file: string) => RegExp }[] = [
  { name: 'missing', module: './nope.mjs', reason: (f) => new RegExp(`model.module: cannot find './nope.mjs' \\(looked for ${esc(path.join(path.dirname(f), 'nope.mjs'))}`) },
  { name: 'no-module-field', module: null, reason: () => /model.module is required for runner ModuleRunner/ },
  { name: 'no-factory', source: 'export const answer = 42;\n', reason: (f) => new RegExp(`^${esc(f)}: exports no model factory.*it exports answer`) },
  { name: 'throws-at-load', source: 'const a = 1;\nthrow new Error("broken at load " + a);\n', reason: (f) => new RegExp(`^${esc(f)}:2:7: loading the model module failed: broken at load 1`) },
  { name: 'syntax', source: 'export default function () {\n  return 1 +;\n}\n', reason: (f) => new RegExp(`^${esc(f)}:2:13: loading the model module failed: SyntaxError: Unexpected token`) },
  { name: 'factory-throws', patch: "throw new Error('hidden must be > 0');", reason: (f) => new RegExp(`^${esc(f)}:${PATCH_LINE}:9: the model factory threw: hidden must be > 0`) },
  { name: 'single-tensor', patch: 'system.initialState = () => tf.zeros([2, 4]);', reason: (f) => new RegExp(`^${esc(f)}: system.initialState\\(\\) must return an array of tensors \\(the state\\), got a single Tensor`) },
  { name: 'wrong-shape', patch: 'system.step = (h, w) => [tf.zeros([3, 4])];', reason: () => /returned h\[0\] of shape \[3, 4\]; the state's h\[0\] has shape \[2, 4\]/ },
  { name: 'not-variable', patch: 'system.params = [tf.ones([4, 4])];', reason: () => /system.params\[0\] is a Tensor of shape \[4, 4\], not a tf.Variable/ },
  { name: 'loss-not-scalar', patch: 'system.loss = (h) => tf.square(h[0]);', reason: () => /system.loss must return a scalar tensor, got a Tensor of shape \[2, 4\]/ },
  { name: 'nan', patch: 'system.step = (h, w) => tf.tidy(() => [tf.div(tf.matMul(h[0], w[0]), 0)]);', reason: () => /system.step\(h0, params, 0\) returned NaN or Infinity/ },
  { name: 'random-step', patch: 'system.step = (h, w) => tf.tidy(() => [tf.add(tf.matMul(h[0], w[0]), tf.randomNormal([2, 4]))]);', reason: () => /system.step is not a pure function: called twice on the same h and w it returned different values/ },
  {
    name: 'detached-h',
    patch: 'system.step = (h, w) => tf.tidy(() => [rbp.activations.tanh(tf.add(tf.matMul(tf.tensor(h[0].arraySync()), w[0]), x))]);',
    reason: () => /system.step's autodiff disagrees with a finite difference in h/,
  },
  { name: 'captured-w', patch: 'system.step = (h) => tf.tidy(() => [rbp.activations.tanh(tf.add(tf.matMul(h[0], W), x))]);', reason: () => /system.step's autodiff disagrees with a finite difference in w .*w\[i\], not the variables it captured/ },
  {
    name: 'wrong-linearize',
    patch: 'system.linearize = () => ({ vjp: (z) => z.map((t) => tf.mul(t, 2)), vjpParams: () => [tf.zeros([4, 4])], jvp: (v) => v.map((t) => tf.clone(t)), vjpBoth: () => { throw new Error("unused"); }, dispose() {} });',
    reason: () => /system.linearize\(…\).vjp disagrees with autodiff of step/,
  },
  {
    name: 'throws-mid-run',
    patch: "const ok = system.step;\n  system.step = (h, w, t, p) => {\n    if (++calls > 60) throw new RangeError('step exploded');\n    return ok(h, w, t, p);\n  };",
    reason: (f) => new RegExp(`^${esc(f)}:${PATCH_LINE + 2}:29: system.step: RangeError: step exploded`),
  },
  { name: 'bad-metrics', patch: "model.evaluate = () => ({ accuracy: 'high' });", reason: (f) => new RegExp(`^${esc(f)}: evaluate returned accuracy = "high"; metrics must be numbers`) },
];

test('each bad module is a bad-config failure naming the file (and the line of the fault)', async () => {
  for (const b of BAD) {
    const { config, file } = badModule(b.name, b);
    const before = tf.memory().numTensors;
    await assert.rejects(
      runExperiment({ experiment: config }, () => undefined),
      (err: unknown) => {
        assert.ok(err instanceof RunError, `${b.name}: ${String(err)}`);
        assert.equal(err.kind, 'bad-config', b.name);
        assert.match(err.message, b.reason(file), b.name);
        return true;
      },
    );
    // What the module made is freed, except what a factory that threw had made (RBP Lab never saw
    // it) and, for a throw in the middle of a gradient computation, the states the method held
    // (the run ends there; the worker or CLI process with it).
    if (b.name !== 'throws-mid-run') assert.equal(tf.memory().numTensors - before, b.name === 'factory-throws' ? 2 : 0, `${b.name} leaves tensors behind`);
  }
  // A good module after all of them still runs (nothing global was left broken).
  const { config } = badModule('good', {});
  assert.equal(await runExperiment({ experiment: config }, () => undefined), 'completed');
});
