/**
 * A ModuleRunner config in the editor: the Problems panel says when `model.module` is missing or
 * names no file (relative to the config's folder), with the run's own message; RBP Lab's keys are
 * still checked for typos while the user's own keys live under model.params / dataset.params.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { configDiagnostics } from '../../src/extension/configEditor/model';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-module-config-'));
fs.writeFileSync(path.join(dir, 'model.mjs'), 'export default () => ({});\n');
const opts = { baseDirs: [dir], configDir: dir };
const cfg = (model: string) => `exp_name: mine\nrunner: ModuleRunner\nmodel:\n${model}train:\n  max_steps: 3\n`;

test('model.module: found relative to the config, else an error on its line with the path looked for', () => {
  assert.deepEqual(configDiagnostics(cfg('  module: ./model.mjs\n  params: { hidden: 8, anything_goes: true }\n'), opts).diagnostics, []);
  const missing = configDiagnostics(cfg('  module: ./models/nope.mjs\n'), opts).diagnostics;
  assert.equal(missing.length, 1);
  assert.equal(missing[0].severity, 'error');
  assert.equal(missing[0].path, 'model.module');
  assert.equal(missing[0].span.start.line, 3, 'on the module: line (0-based)');
  assert.equal(missing[0].message, `model.module: cannot find './models/nope.mjs' (looked for ${path.join(dir, 'models', 'nope.mjs')}, relative to the config's folder)`);
  const none = configDiagnostics(cfg('  num_update: 10\n'), opts).diagnostics;
  assert.match(none[0]?.message ?? '', /model.module is required for runner ModuleRunner/);
});

test('RBP Lab’s own keys are still checked; the user’s live under params, which must be a mapping', () => {
  const typo = configDiagnostics(cfg('  module: ./model.mjs\n  modul: x\n'), opts).diagnostics;
  assert.match(typo[0].message, /unknown field 'model.modul' \(did you mean 'module'\?\)/);
  const notMap = configDiagnostics(cfg('  module: ./model.mjs\n  params: 3\n'), opts).diagnostics;
  assert.match(notMap[0].message, /model.params must be a mapping \(key: value lines\), got 3/);
});
