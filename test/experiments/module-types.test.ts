/**
 * The model-facing types (types/model.d.ts, shipped as `rbp-lab/model` and written beside the
 * template as rbp-model.d.ts) are the contract RBP Lab uses: each assignable to the other (checked
 * by tsc, `npm run check`), and the template type-checks against them as an editor would check it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import ts from 'typescript';
import type * as Public from '../../types/model';
import type * as Contract from '../../src/experiments/module/contract';
import type * as Core from '../../src/core/system';
import { writeModelTemplate } from '../../src/config/modelTemplate';
import { repoRoot } from '../helpers/setup';

/** true when A and B are assignable to each other (else a tsc error on the line that uses it). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const inSync: [
  Same<Public.DynamicSystem, Core.DynamicSystem>,
  Same<Public.Linearization, Core.Linearization>,
  Same<Public.StepPhase, Core.StepPhase>,
  Same<Public.UserModel, Contract.UserModel>,
  Same<Public.ModelContext, Contract.ModelContext>,
  Same<Public.ModelFactoryArgs, Contract.ModelFactoryArgs>,
  Same<Public.ModelFactory, Contract.ModelFactory>,
] = [true, true, true, true, true, true, true];

test('types/model.d.ts and the contract RBP Lab uses are the same types', () => {
  assert.ok(inSync.every(Boolean)); // the check is tsc's, on the declaration above
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
