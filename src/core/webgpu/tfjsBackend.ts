/**
 * tfjs's webgpu backend on the bridge's device, with the two things Node needs changed:
 * - `readSync` (every `dataSync`): tfjs reads back through an OffscreenCanvas, which Node lacks;
 *   here it submits the pending commands and reads the buffer through the GPU thread.
 * - `time` (called per kernel while the engine profiles, i.e. inside `measurePeak`): tfjs's
 *   version submits every kernel on its own to time it with queries; here it only runs the kernel
 *   and notes the GPU bytes in use, for the peak-memory figures.
 * Loaded only when webgpu is chosen (it imports the backend package, which registers its kernels).
 */
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { tf } from '../tf';
import type { GpuMemoryProbe } from '../memory';
import type { AdapterInfo, ProxyDevice, ProxyBuffer } from './bridge';

interface TensorData {
  values: tf.backend_util.BackendValues | null;
  dtype: tf.DataType;
  resource: unknown;
}
/** The parts of WebGPUBackend used here that its typings keep private or type with WebGPU's own types. */
interface Internals {
  tensorMap: { get(id: object): TensorData };
  bufferManager: { numBytesUsed: number };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

class SyncWebGpuBackend extends WebGPUBackend implements GpuMemoryProbe {
  private peakGpu = 0;

  constructor(private readonly proxy: ProxyDevice, info: AdapterInfo) {
    super(proxy as unknown as ConstructorParameters<typeof WebGPUBackend>[0], info as unknown as ConstructorParameters<typeof WebGPUBackend>[1]);
  }

  private get internals(): Internals {
    return this as unknown as Internals;
  }

  override readSync(dataId: object): tf.backend_util.BackendValues {
    const data = this.internals.tensorMap.get(dataId);
    if (data.values != null || data.dtype === 'string' || data.dtype === 'complex64') return super.readSync(dataId);
    const t = this.internals;
    t.ensureCommandEncoderReady();
    t.endComputePassEncoder();
    t.submitQueue();
    const bytes = this.proxy.bridge.readSync(data.resource as ProxyBuffer);
    const values = tf.util.convertBackendValuesAndArrayBuffer(bytes, data.dtype) as tf.backend_util.BackendValues;
    data.values = values; // cached on the CPU, as tfjs's own read does
    return values;
  }

  override async time(f: () => void): Promise<Awaited<ReturnType<WebGPUBackend['time']>>> {
    f();
    this.notePeak();
    return { kernelMs: 0, wallMs: 0, uploadWaitMs: 0, downloadWaitMs: 0 } as unknown as Awaited<ReturnType<WebGPUBackend['time']>>;
  }

  private notePeak(): void {
    const used = this.internals.bufferManager.numBytesUsed;
    if (used > this.peakGpu) this.peakGpu = used;
  }

  gpuBytes(): number {
    return this.internals.bufferManager.numBytesUsed;
  }

  resetGpuPeak(to = this.gpuBytes()): void {
    this.peakGpu = to;
  }

  gpuPeakBytes(): number {
    this.notePeak();
    return this.peakGpu;
  }
}

/** Register (or re-register) tfjs's 'webgpu' backend on this device and adapter. */
export function registerWebgpuBackend(device: ProxyDevice, info: AdapterInfo): void {
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new SyncWebGpuBackend(device, info), 0);
}
