/**
 * The model-facing types: dist/types/model.d.ts, one file that `npm run build` generates from
 * src/model.ts (shipped as `rbp-lab/model`, written beside the template as rbp-model.d.ts). It must
 * compile on its own and be the contract RBP Lab uses (each type assignable both ways to the source's,
 * none of them `any`); the template type-checks against it as an editor would check it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import ts from 'typescript';
import { writeModelTemplate } from '../../src/config/modelTemplate';
import { repoRoot } from '../helpers/setup';

const generated = path.join(repoRoot, 'dist', 'types', 'model.d.ts');

/** tsc's diagnostics for a probe that compares the public declarations in `publicFile` with the source's types. */
function probeDiagnostics(publicFile: string): string[] {
  const dir = fs.mkdtempSync(path.join(repoRoot, 'out', 'types-probe-')); // beside node_modules
  const src = (p: string) => JSON.stringify(path.join(repoRoot, 'src', p));
  const probe = path.join(dir, 'probe.ts');
  fs.writeFileSync(probe, `
import type * as Public from ${JSON.stringify(publicFile.replace(/\.d\.ts$/, ''))};
import type * as Core from ${src('core/system')};
import type * as State from ${src('core/state')};
import type * as Contract from ${src('experiments/module/contract')};
import type * as activations from ${src('core/activations')};
import type * as tfc from '@tensorflow/tfjs-core';
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Real<A, B> = 0 extends 1 & A ? false : Same<A, B>;
export const inSync: [
  Real<Public.DynamicSystem, Core.DynamicSystem>,
  Real<Public.Linearization, Core.Linearization>,
  Real<Public.StepPhase, Core.StepPhase>,
  Real<Public.State, State.State>,
  Real<Public.UserModel, Contract.UserModel>,
  Real<Public.ModelContext, Contract.ModelContext>,
  Real<Public.ModelFactoryArgs, Contract.ModelFactoryArgs>,
  Real<Public.ModelFactory, Contract.ModelFactory>,
  Real<Public.Rng, Contract.RngLike>,
  Real<Public.Activations, typeof activations>,
  Real<Public.Tensor, tfc.Tensor>,
  Real<Public.Variable, tfc.Variable>,
  Real<Public.Scalar, tfc.Scalar>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true];
`);
  const program = ts.createProgram([probe], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    esModuleInterop: true,
    skipLibCheck: false, // the generated file itself is checked too
    types: [],
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
  });
  // Only what the probe and the generated file say (tfjs's own declarations are not ours to fix).
  const ours = (d: ts.Diagnostic) => !d.file || d.file.fileName === probe || path.resolve(d.file.fileName) === path.resolve(publicFile);
  const found = ts.getPreEmitDiagnostics(program).filter(ours).map((d) => `${d.file ? path.basename(d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  fs.rmSync(dir, { recursive: true, force: true });
  return found;
}

test('dist/types/model.d.ts (generated) compiles and is the contract RBP Lab uses', () => {
  assert.ok(fs.existsSync(generated), 'npm run build writes dist/types/model.d.ts');
  assert.deepEqual(probeDiagnostics(generated), []);
  // The probe can fail: a public DynamicSystem whose step takes a Tensor, and an Activations that became any.
  // (Beside the repository's node_modules, so that only the change can make them fail.)
  const dir = fs.mkdtempSync(path.join(repoRoot, 'out', 'types-broken-'));
  const text = fs.readFileSync(generated, 'utf8');
  for (const [from, to] of [
    ['step(h: State,', 'step(h: Tensor,'],
    ['export type Activations = typeof activations;', 'export type Activations = any;'],
  ]) {
    assert.ok(text.includes(from), from);
    const broken = path.join(dir, `broken${from.length}.d.ts`);
    fs.writeFileSync(broken, text.replace(from, to));
    const found = probeDiagnostics(broken);
    assert.ok(found.length > 0, `${from} -> ${to} is caught`);
    assert.ok(!found.some((d) => d.includes('Cannot find module')), found.join('; '));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the template type-checks against rbp-model.d.ts (checkJs), and a broken one does not', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-types-'));
  const { files } = writeModelTemplate(dir, repoRoot);
  const diagnostics = (file: string) => {
    const program = ts.createProgram([file], {
      allowJs: true,
      checkJs: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      skipLibCheck: true,
      types: [],
      baseUrl: dir,
      paths: { '@tensorflow/tfjs-core': [path.join(repoRoot, 'node_modules', '@tensorflow', 'tfjs-core')] },
    });
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  };
  assert.deepEqual(diagnostics(files[0]), []);
  // A step that returns a tensor instead of a state, as the editor would flag it.
  const broken = path.join(dir, 'broken.mjs');
  fs.writeFileSync(broken, fs.readFileSync(files[0], 'utf8').replace('step: (h, w) => tf.tidy(() => [tanh(', 'step: (h, w) => tf.tidy(() => (tanh(').replace('w[1])), w[2]))]),', 'w[1])), w[2]))),'));
  assert.notEqual(fs.readFileSync(broken, 'utf8'), fs.readFileSync(files[0], 'utf8'));
  assert.ok(diagnostics(broken).length > 0, 'a step returning a Tensor is a type error');
});
