/**
 * Peak tensor memory of a computation, synchronously, from the tfjs engine's own bookkeeping:
 * while the engine's profiling flag is on it snapshots the live byte count after every kernel.
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
}

export function measurePeak<T>(fn: () => T): { result: T; memory: MemoryReport } {
  const state = (tf.engine() as unknown as { state: EngineState }).state;
  const startBytes = state.numBytes;
  const startTensors = state.numTensors;
  const wasProfiling = state.profiling;
  const savedKernels = state.activeProfile.kernels;
  state.profiling = true;
  state.activeProfile.kernels = [];
  let peak = startBytes;
  let result: T;
  try {
    result = fn();
  } finally {
    for (const k of state.activeProfile.kernels) if (k.totalBytesSnapshot > peak) peak = k.totalBytesSnapshot;
    state.profiling = wasProfiling;
    state.activeProfile.kernels = savedKernels;
  }
  return {
    result,
    memory: { startBytes, peakBytes: Math.max(0, peak - startBytes), newBytes: state.numBytes - startBytes, newTensors: state.numTensors - startTensors },
  };
}
