/** The header's backend row as a sentence (its full record stays in the tooltip). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendSentence } from '../../src/shared/backendSentence';

test('each backend reads as where it computes, and which ones were not available', () => {
  const skipped = [{ name: 'tensorflow-gpu', reason: 'not installed' }, { name: 'webgpu', reason: 'no adapter' }];
  assert.equal(backendSentence({ name: 'wasm', description: 'wasm (wasm kernels: relaxed-simd) — tensorflow-gpu unavailable: …', skipped }), 'WebAssembly with relaxed SIMD on the CPU — tensorflow-gpu, webgpu not available (hover for why)');
  assert.equal(backendSentence({ name: 'wasm', description: 'wasm (wasm kernels: simd)' }), 'WebAssembly with SIMD on the CPU');
  assert.equal(backendSentence({ name: 'cpu', description: 'cpu' }), 'plain JavaScript on the CPU (the slowest backend)');
  assert.equal(backendSentence({ name: 'tensorflow-gpu', description: 'x' }), 'TensorFlow on an NVIDIA GPU (CUDA)');
  const adapter = { vendor: 'google', architecture: 'swiftshader', device: 'x', description: 'SwiftShader driver', software: true };
  assert.equal(backendSentence({ name: 'webgpu', description: 'x', adapter }), 'WebGPU on SwiftShader driver (a software emulation on the CPU)');
  assert.equal(backendSentence({ name: 'mystery', description: 'x' }), 'mystery');
});
