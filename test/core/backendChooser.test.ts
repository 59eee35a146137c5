/**
 * The backend chooser honours RunSpec.nativeSearchPaths (the extension's global storage, the
 * workspace): a fake @tensorflow/tfjs-node-gpu in a temp folder's node_modules that registers a
 * 'tensorflow' backend into tfjs's global engine is found, loaded and selected.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { selectBackend, describeChoice } from '../../src/core/backend';
import { tf } from '../../src/core/tf';
import { BACKEND_REQUESTS, BACKEND_DESCRIPTIONS } from '../../src/core/backendNames';
import { vulkanEnvironment, noAdapterReason, isSoftwareAdapter } from '../../src/core/webgpu';
import { repoRoot } from '../helpers/setup';

/** A stand-in for tfjs-node-gpu: a 'tensorflow' backend that is tfjs's cpu backend with its kernels. */
const FAKE_INDEX = `
const engine = globalThis._tfengine;
if (!engine) throw new Error('no tfjs engine in this process');
const kernels = globalThis._tfGlobals.get('kernelRegistry');
for (const [key, k] of [...kernels]) if (key.startsWith('cpu_')) kernels.set('tensorflow_' + k.kernelName, { ...k, backendName: 'tensorflow' });
engine.registerBackend('tensorflow', () => {
  const Cpu = engine.registryFactory.cpu.factory().constructor;
  const b = new Cpu();
  b.isFakeGpu = true;
  return b;
}, 3);
globalThis.__fakeTfjsNodeGpuLoaded = (globalThis.__fakeTfjsNodeGpuLoaded || 0) + 1;
`;

test('a tfjs-node-gpu found in a native search path is selected by auto', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-fake-gpu-'));
  const pkg = path.join(dir, 'node_modules', '@tensorflow', 'tfjs-node-gpu');
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', version: '0.0.0-fake', main: 'index.js' }));
  fs.writeFileSync(path.join(pkg, 'index.js'), FAKE_INDEX);

  // Without the search path: not installed, and the reason says so.
  const without = await selectBackend('auto', { searchPaths: [path.join(os.tmpdir(), 'rbp-nowhere')] });
  assert.notEqual(without.name, 'tensorflow-gpu');
  assert.match(describeChoice(without), /tensorflow-gpu unavailable: @tensorflow\/tfjs-node-gpu is not installed/);

  const choice = await selectBackend('auto', { searchPaths: ['/nonexistent', dir] });
  assert.equal(choice.name, 'tensorflow-gpu');
  assert.equal(choice.tfName, 'tensorflow');
  assert.equal(choice.loadedFrom, pkg);
  assert.equal(tf.getBackend(), 'tensorflow');
  assert.equal((globalThis as { __fakeTfjsNodeGpuLoaded?: number }).__fakeTfjsNodeGpuLoaded, 1);
  // It computes, through the copied kernels.
  const y = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync());
  assert.deepEqual([...y], [4, 6]);
  assert.equal(describeChoice(choice), 'tensorflow-gpu');
});

test('the extension setting rbpLab.backend offers exactly the one backend list, each with its description', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  const setting = pkg.contributes.configuration.properties['rbpLab.backend'];
  assert.deepEqual(setting.enum, [...BACKEND_REQUESTS]);
  assert.deepEqual(setting.enumDescriptions, BACKEND_REQUESTS.map((b) => BACKEND_DESCRIPTIONS[b]));
});

test('webgpu: a driver file that does not exist is named as the reason; software adapters (SwiftShader, llvmpipe, fallback) are told apart from hardware ones', async () => {
  // An empty search path and a driver list that names a missing file: Dawn offers no adapter.
  const saved = process.env.VK_ICD_FILENAMES;
  process.env.VK_ICD_FILENAMES = '/nonexistent/rbp-icd.json';
  try {
    const env = vulkanEnvironment();
    assert.deepEqual(env.icdVariable?.missing, ['/nonexistent/rbp-icd.json']);
    assert.match(noAdapterReason(env), /VK_ICD_FILENAMES names driver files that do not exist: \/nonexistent\/rbp-icd\.json/);
  } finally {
    if (saved === undefined) delete process.env.VK_ICD_FILENAMES;
    else process.env.VK_ICD_FILENAMES = saved;
  }
  assert.equal(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader driver', isFallbackAdapter: false }), true);
  assert.equal(isSoftwareAdapter({ vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: '', isFallbackAdapter: false }), true);
  assert.equal(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', isFallbackAdapter: false }), false);
  assert.equal(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', isFallbackAdapter: true }), true);
});
