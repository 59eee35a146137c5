/** The backend chooser: order, explicit choices, reasons, and a native package found on a search path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { selectBackend, describeChoice, findWasmDir, resolveNative, BackendError } from '../../src/core/backend';
import { tf } from '../../src/core/tf';

test('auto falls back to wasm here and says why the native backends were skipped', async () => {
  const c = await selectBackend('auto');
  assert.equal(c.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(c.skipped.map((s) => s.name), ['tensorflow-gpu', 'webgpu', 'tensorflow']);
  assert.match(c.skipped[0].reason, /@tensorflow\/tfjs-node-gpu is not installed/);
  // No GPU here: Dawn offers no adapter, or only a software one, which auto never picks.
  assert.match(c.skipped[1].reason, /no WebGPU adapter|only a software adapter .*auto never picks one|webgpu package .* is not installed/);
  assert.match(describeChoice(c), /^wasm \(wasm kernels: [^)]*\) — tensorflow-gpu unavailable: /);
});

test('an explicit cpu choice is honoured; an unavailable explicit choice throws with the reason', async () => {
  const c = await selectBackend('cpu');
  assert.equal(c.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  await assert.rejects(selectBackend('tensorflow-gpu'), (e: unknown) => e instanceof BackendError && /tfjs-node-gpu is not installed/.test(e.message));
  await selectBackend('wasm');
});

test('a missing .wasm file is detected before tfjs is asked for wasm', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-nowasm-'));
  assert.ok(findWasmDir() !== undefined, 'the real wasm files are found');
  assert.equal(findWasmDir(empty) === empty, false, 'an empty folder is never chosen');
});

test('a native package is found on an extra search path, and a broken one is skipped with its error', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-native-'));
  const pkg = path.join(base, 'node_modules', '@tensorflow', 'tfjs-node-gpu');
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', version: '0.0.0-fake', main: 'index.js' }));
  fs.writeFileSync(path.join(pkg, 'index.js'), "throw new Error('libcudart.so.11.0: cannot open shared object file');\n");
  assert.equal(resolveNative('@tensorflow/tfjs-node-gpu', [base]), pkg);
  const c = await selectBackend('auto', { searchPaths: [base] });
  assert.equal(c.name, 'wasm');
  assert.match(c.skipped[0].reason, /CUDA 11.2 \/ cuDNN 8 libraries are missing/);
  // A working fake: registers a 'tensorflow' backend into the shared global engine.
  fs.writeFileSync(
    path.join(pkg, 'index.js'),
    "const e = globalThis._tfengine; const cpu = e.registryFactory.cpu; e.registerBackend('tensorflow', () => cpu.factory ? cpu.factory() : cpu(), 1);\n",
  );
  const engine = (globalThis as unknown as { _tfengine?: { registryFactory: Record<string, unknown> } })._tfengine;
  assert.ok(engine?.registryFactory.cpu, 'tfjs keeps one global engine that a separately loaded package registers into');
  const c2 = await selectBackend('auto', { searchPaths: [base] });
  assert.equal(c2.name, 'tensorflow-gpu');
  assert.equal(c2.loadedFrom, pkg);
  await selectBackend('wasm');
});
