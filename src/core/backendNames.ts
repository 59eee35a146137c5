/**
 * The backends RBP Lab can run on, in `auto`'s order: the one list that the chooser
 * (`./backend`), the CLI's usage and checks, the protocol's validation, the extension setting's
 * enum (written into package.json by `scripts/gen-schema.mjs`) and the tests read. No tfjs import,
 * so that the protocol and the webview can use it.
 */
export const BACKENDS = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendRequest = BackendName | 'auto';
export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', ...BACKENDS];

/** One line per choice (the setting's enumDescriptions). */
export const BACKEND_DESCRIPTIONS: Record<BackendRequest, string> = {
  auto: `the first that works of ${BACKENDS.join(', ')} (webgpu only on a hardware adapter)`,
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu: CUDA 11.2 + cuDNN 8 (installed by "RBP Lab: Set Up GPU Backend")',
  webgpu: 'WebGPU through Dawn (npm webgpu): Vulkan, Metal or D3D12; a software adapter (SwiftShader) only when asked for by name',
  tensorflow: '@tensorflow/tfjs-node: native TensorFlow on the CPU',
  wasm: 'WebAssembly with SIMD (bundled): the default without a GPU',
  cpu: 'plain JavaScript (slow; always available)',
};

export function isBackendRequest(s: string): s is BackendRequest {
  return (BACKEND_REQUESTS as readonly string[]).includes(s);
}

/** "auto, tensorflow-gpu, webgpu, …" for messages. */
export const BACKEND_LIST = BACKEND_REQUESTS.join(', ');
