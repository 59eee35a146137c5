/**
 * The layering rule of eslint.config.mjs: the extension host, the webview, configs, the protocol
 * and src/shared never import TensorFlow.js or a module of src/core / src/experiments / src/run
 * that loads it (type imports and the tfjs-free catalogs are fine). ESLint lints a probe as if it
 * sat in each of those folders (nothing is written to them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { ESLint } from 'eslint';
import { repoRoot } from '../helpers/setup';

const FORBIDDEN = [
  "import * as tf from '@tensorflow/tfjs-core';",
  "import { tf } from '../core/tf';",
  "import { getMethod } from '../core/gradients';",
  "import { makeSolver } from '../core/solvers';",
  "import { verdict } from '../core/diagnostics';",
  "import { loadExperiment } from '../experiments';",
  "import { hopfieldExperiment } from '../experiments/hopfield/experiment';",
  "import { runExperiment } from '../run/runner';",
  "import { gradcheck } from '../run/gradcheck';",
];
const ALLOWED = [
  "import { methodLabel } from '../core/gradients/catalog';",
  "import { SOLVER_NAMES } from '../core/solvers/catalog';",
  "import { fmt } from '../core/format';",
  "import type { Tensor } from '../core/tf';",
  "import type { GradcheckReport } from '../run/gradcheck';",
  "import { readRun } from '../run/recorder';",
  "import { parseWorkerEvent } from '../protocol/messages';",
];

const lines = (xs: string[]) => xs.join('\n') + '\n';

test('the layers that must not load TensorFlow.js cannot import it, nor the core modules that do', async () => {
  const eslint = new ESLint({ cwd: repoRoot });
  for (const dir of ['src/extension', 'src/config', 'src/protocol', 'src/shared', 'webview']) {
    const depth = dir.split('/').length - 1;
    // The probe's imports, as written from that folder (webview/ sits beside src/).
    const fix = (l: string) => (depth === 0 ? l.replace("'../core", "'../src/core").replace("'../experiments", "'../src/experiments").replace("'../run", "'../src/run").replace("'../protocol", "'../src/protocol") : l);
    const [r] = await eslint.lintText(lines([...FORBIDDEN, ...ALLOWED].map(fix)), { filePath: `${repoRoot}/${dir}/layering-probe.ts` });
    const flagged = r.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.line);
    assert.deepEqual(flagged, FORBIDDEN.map((_, i) => i + 1), `${dir}: ${JSON.stringify(r.messages.map((m) => `${m.line}: ${m.message}`))}`);
  }
});

test('the numerical layers may import tfjs (the rule is the layers’ own)', async () => {
  const eslint = new ESLint({ cwd: repoRoot });
  const [r] = await eslint.lintText(lines(["import * as tf from '@tensorflow/tfjs-core';", "import { getMethod } from '../core/gradients';"]), { filePath: `${repoRoot}/src/run/layering-probe.ts` });
  assert.deepEqual(r.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports'), []);
});

test('the extension host and webview bundles hold no TensorFlow.js, through any chain of imports', () => {
  // The rule above sees a layer's own imports; the bundles show what they pull in transitively
  // (esbuild's development build names every bundled module's path in a comment).
  for (const b of ['extension.js', 'webview.js']) {
    const text = fs.readFileSync(path.join(repoRoot, 'dist', b), 'utf8');
    assert.ok(!text.includes('node_modules/@tensorflow/'), `dist/${b} bundles TensorFlow.js`);
  }
  assert.ok(fs.readFileSync(path.join(repoRoot, 'dist', 'worker.js'), 'utf8').includes('node_modules/@tensorflow/tfjs-core/'), 'the check can see tfjs where it is (the worker)');
});

test('the extension host never bundles the model-module loader: a user’s model is only ever imported in the worker or the CLI', () => {
  const has = (b: string) => fs.readFileSync(path.join(repoRoot, 'dist', b), 'utf8').includes('src/experiments/module/loader.ts');
  assert.ok(!has('extension.js'), 'dist/extension.js bundles experiments/module/loader.ts');
  assert.ok(has('worker.js') && has('cli.js'), 'the check can see the loader where it is (the worker, the CLI)');
});
