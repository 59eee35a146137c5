/**
 * Peak tensor memory of a computation, synchronously, from the tfjs engine's own bookkeeping:
 * while the engine's profiling flag is on it snapshots the live byte count after every kernel.
 * On a GPU backend that reports its device buffers (webgpu: `tf.memory().numBytesInGPU`, the
 * buffers in use, uniforms and staging included) the peak of those bytes is reported too.
 */
import { tf } from './tf';

interface EngineState {
  numBytes: number;
  numTensors: number;
  profiling: boolean;
  activeProfile: { kernels: { totalBytesSnapshot: number }[] };
}

export interface MemoryReport {
  /** Live tensor bytes before the computation. */
  startBytes: number;
  /** Highest live tensor bytes during it, minus startBytes. */
  peakBytes: number;
  /** Live bytes left afterwards, minus startBytes (what the result holds). */
  newBytes: number;
  newTensors: number;
  /** On a GPU backend: device bytes in use before, and their highest value during it, minus the start. */
  gpuStartBytes?: number;
  gpuPeakBytes?: number;
}

/** What a GPU backend offers the memory figures (the webgpu backend: `./webgpu/tfjsBackend`). */
export interface GpuMemoryProbe {
  /** Device bytes in use now. */
  gpuBytes(): number;
  /** Start a new peak at `to` (default: the bytes in use now). */
  resetGpuPeak(to?: number): void;
  /** The highest bytes in use since the last reset (sampled after every kernel while profiling). */
  gpuPeakBytes(): number;
}

/** The active backend's GPU memory probe, if it has one. */
export function gpuMemoryProbe(): GpuMemoryProbe | undefined {
  const b = tf.backend() as unknown as Partial<GpuMemoryProbe>;
  return typeof b.gpuPeakBytes === 'function' && typeof b.resetGpuPeak === 'function' && typeof b.gpuBytes === 'function' ? (b as GpuMemoryProbe) : undefined;
}

export function measurePeak<T>(fn: () => T): { result: T; memory: MemoryReport } {
  const state = (tf.engine() as unknown as { state: EngineState }).state;
  const startBytes = state.numBytes;
  const startTensors = state.numTensors;
  const wasProfiling = state.profiling;
  const savedKernels = state.activeProfile.kernels;
  const gpu = gpuMemoryProbe();
  const gpuStartBytes = gpu?.gpuBytes();
  const outerGpuPeak = gpu?.gpuPeakBytes(); // a measurement around this one keeps its own peak
  gpu?.resetGpuPeak();
  state.profiling = true;
  state.activeProfile.kernels = [];
  let peak = startBytes;
  let result: T;
  let gpuPeak = 0;
  try {
    result = fn();
  } finally {
    for (const k of state.activeProfile.kernels) if (k.totalBytesSnapshot > peak) peak = k.totalBytesSnapshot;
    state.profiling = wasProfiling;
    state.activeProfile.kernels = savedKernels;
    if (gpu) {
      gpuPeak = gpu.gpuPeakBytes();
      gpu.resetGpuPeak(Math.max(gpuPeak, outerGpuPeak!));
    }
  }
  return {
    result,
    memory: {
      startBytes,
      peakBytes: Math.max(0, peak - startBytes),
      newBytes: state.numBytes - startBytes,
      newTensors: state.numTensors - startTensors,
      ...(gpu ? { gpuStartBytes, gpuPeakBytes: Math.max(0, gpuPeak - gpuStartBytes!) } : {}),
    },
  };
}
