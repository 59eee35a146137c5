/**
 * Per-call CPU time for the profiling tools (`gnn-profile`, `hypergrad-profile`): wrappers around
 * every function of this project's wasm kernels (`core/wasm`) and around tfjs kernels, each call's
 * process CPU time added to a row keyed by what it is (a `gemm` by its shape, with its flops, so the
 * table gives its GFLOP/s). The clock reads' own cost (two getrusage calls, ~1 µs), measured around
 * an empty call, is taken off each call, so that short calls do not look slower than they are.
 */
import { tf } from '../src/core/tf';
import { wasmKernels } from '../src/core/wasm/module';
import { cpuMs } from './common';

export interface CallStat {
  n: number;
  ms: number;
  flop: number;
}

/** What a pair of `cpuMs` reads costs by itself, best of 5 × 20,000 around an empty call. */
function clockCost(): number {
  const noop = () => undefined;
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const n = 20000;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const c = cpuMs();
      noop();
      sum += cpuMs() - c;
    }
    best = Math.min(best, sum / n);
  }
  return best;
}

/** A wasm kernel call's row: `gemm` by shape (A read down its columns 'T' or along its rows 'N'; flags: 1 bias, 2 accumulate). */
function wasmKey(name: string, a: number[]): string {
  if (name === 'gemm') {
    const [, , , , M, K, N, sai, sak, flags] = a;
    return `wasm gemm ${M}×${K}·${K}×${N} ${sak > sai ? 'T' : 'N'} flags ${flags}`;
  }
  if (name === 'pack') return `wasm pack ${a[2]}×${a[3]}`;
  if (name === 'csr_mm') return `wasm csr_mm rows ${a[6]} N ${a[7]}`;
  return `wasm ${name}`;
}

export class CallProfile {
  stats = new Map<string, CallStat>();
  /** ms of clock reads taken off each call. */
  readonly clockMs = clockCost();
  private depth = 0;

  add(key: string, ms: number, flop = 0): void {
    const s = this.stats.get(key) ?? { n: 0, ms: 0, flop: 0 };
    s.n++;
    s.ms += ms;
    s.flop += flop;
    this.stats.set(key, s);
  }

  /** f(), its CPU time (less the clock reads') added to the row `key()`. */
  timed<T>(key: () => string, f: () => T, flop = 0): T {
    const t0 = cpuMs();
    try {
      return f();
    } finally {
      this.add(key(), Math.max(0, cpuMs() - t0 - this.clockMs), flop);
    }
  }

  /** Times every function of the loaded wasm kernels, a row per `wasmKey`. */
  wrapWasmKernels(): void {
    const k = wasmKernels(tf.backend());
    if (!k) throw new Error('the wasm kernels are not loaded');
    const fns = k.fns as unknown as Record<string, (...a: number[]) => void>;
    const wrapped: Record<string, (...a: number[]) => void> = {};
    for (const [name, f] of Object.entries(fns)) {
      wrapped[name] = (...a: number[]) => this.timed(() => wasmKey(name, a), () => f(...a), name === 'gemm' ? 2 * a[4] * a[5] * a[6] : 0);
    }
    (k as unknown as { fns: unknown }).fns = wrapped;
  }

  /**
   * Times the wasm backend's tfjs kernels `names` (all of them if omitted), a row per
   * `key(name, attrs)`; with `topLevelOnly` a kernel called from inside another is left in that one's
   * row, else it has its own row too (its time then counts in both).
   */
  wrapTfKernels(names?: string[], key: (name: string, attrs: Record<string, unknown>) => string = (name) => `tf ${name}`, topLevelOnly = false): void {
    const configs = names ? names.map((n) => tf.getKernel(n, 'wasm')).filter((kc) => kc !== undefined) : tf.getKernelsForBackend('wasm');
    for (const kc of configs) {
      tf.unregisterKernel(kc.kernelName, 'wasm');
      const kernelFunc = ((a: { attrs?: Record<string, unknown> }) => {
        if (topLevelOnly && this.depth > 0) return kc.kernelFunc(a as never);
        this.depth++;
        try {
          return this.timed(() => key(kc.kernelName, a.attrs ?? {}), () => kc.kernelFunc(a as never));
        } finally {
          this.depth--;
        }
      }) as unknown as tf.KernelFunc;
      tf.registerKernel({ ...kc, kernelFunc });
    }
  }

  /** The rows as a markdown table per run, largest first, those under 0.05 ms a run left out. */
  table(runs: number, stats = this.stats): string[] {
    const lines = ['| call | calls per run | CPU ms per run | CPU ms per call | GFLOP/s |', '|---|---|---|---|---|'];
    for (const [key, s] of [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
      if (s.ms / runs < 0.05) continue;
      lines.push(`| ${key} | ${(s.n / runs).toFixed(0)} | ${(s.ms / runs).toFixed(1)} | ${(s.ms / s.n).toFixed(3)} | ${s.flop ? (s.flop / s.ms / 1e6).toFixed(1) : ''} |`);
    }
    return lines;
  }
}
