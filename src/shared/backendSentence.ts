/** The backend a run used, as a sentence a user understands (the header; its full record stays in the tooltip). */
import type { BackendInfo } from '../protocol/workerEvents';

export function backendSentence(b: Pick<BackendInfo, 'name' | 'description' | 'adapter'> & { skipped?: BackendInfo['skipped'] }): string {
  const simd = /relaxed-simd/.test(b.description) ? ' with relaxed SIMD' : /simd/i.test(b.description) ? ' with SIMD' : '';
  const where: Record<string, string> = {
    wasm: `WebAssembly${simd} on the CPU`,
    cpu: 'plain JavaScript on the CPU (the slowest backend)',
    tensorflow: 'TensorFlow’s native library on the CPU',
    'tensorflow-gpu': 'TensorFlow on an NVIDIA GPU (CUDA)',
    webgpu: `WebGPU on ${b.adapter ? b.adapter.description || `${b.adapter.vendor} ${b.adapter.device}`.trim() || 'a GPU' : 'a GPU'}${b.adapter?.software ? ' (a software emulation on the CPU)' : ''}`,
  };
  const skipped = b.skipped?.length ? ` — ${b.skipped.map((s) => s.name).join(', ')} not available (hover for why)` : '';
  return `${where[b.name] ?? b.name}${skipped}`;
}
