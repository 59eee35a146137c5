/**
 * C = A·B (+ bias) (+ C) on heap offsets: the wasm `gemm` kernel with B packed into panels in a
 * scratch buffer and the reduction cut into blocks. Used by the tfjs matMul replacement
 * (`./matmul.ts`) and by fused model kernels that multiply views of packed parameter vectors.
 */
import { usablePool, K_GEMM } from './module';
import type { WasmKernels } from './module';
import { splitRows, type KernelCall } from './pool';

/** Panel width of the packed B (4·NR in ./kernels-wat.mjs, whose gemm reads panels this wide). */
const PANEL = 8;

/** A positive integer from an environment variable (the tuning knobs), else the default. */
export function positiveInt(v: string | undefined, fallback: number): number {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** Reduction block: 4 rows of A and one panel of KC rows fit in L1 with room to spare. */
const KC = positiveInt(process.env.RBP_LAB_GEMM_KC, 1024);
/**
 * Reduction block for A read down its columns (Aᵀ·B): a tile reads 4 floats from each of KC rows
 * of A, one cache line each; 256 lines stay in L1 for the next three tiles, which read the rest
 * of those lines (Xᵀ·δ of the hypergradient's full training set, K = 10,000: 27 → 21 ms).
 */
const KC_T = positiveInt(process.env.RBP_LAB_GEMM_KC_T, 256);

/** A product's operands, as byte offsets and byte strides into the heap. */
export interface GemmOperands {
  /** A[i, k] at a + i·sai + k·sak. */
  a: number;
  sai: number;
  sak: number;
  /** B[k, n] at b + k·sbk + n·sbn. */
  b: number;
  sbk: number;
  sbn: number;
  /** C row-major [M, N] at c. */
  c: number;
  M: number;
  K: number;
  N: number;
  /** N floats added to every row. */
  bias?: number;
  /** Add to C instead of overwriting it. */
  accumulate?: boolean;
}

/** Byte strides of A [M, K] and B [K, N] stored row-major, either of them stored transposed ([K, M] / [N, K]). */
export function rowMajorStrides(M: number, K: number, N: number, tA = false, tB = false): Pick<GemmOperands, 'sai' | 'sak' | 'sbk' | 'sbn'> {
  return { sai: tA ? 4 : K * 4, sak: tA ? M * 4 : 4, sbk: tB ? 4 : N * 4, sbn: tB ? K * 4 : 4 };
}

/** Bytes of a K × N right operand packed into panels. */
export function packedBytes(K: number, N: number): number {
  return Math.ceil(N / PANEL) * PANEL * K * 4;
}

/** Scratch bytes `gemm` needs for a K × N right operand (its panels and a bias panel). */
export function gemmScratchBytes(K: number, N: number): number {
  return packedBytes(K + 1, N);
}

/** Pack B into panels at `scratch` (≥ gemmScratchBytes) and compute the product. */
export function gemm(k: WasmKernels, scratch: number, g: GemmOperands): void {
  const { fns } = k;
  const { K, N } = g;
  fns.pack(g.b, scratch, K, N, g.sbk, g.sbn);
  const biasP = scratch + packedBytes(K, N);
  if (g.bias !== undefined) packBias(k, g.bias, biasP, N);
  gemmPacked(k, scratch, biasP, g);
}

/** Pack a bias of N floats at `src` as the 1 × N panel row `gemm` adds (`dst`: packedBytes(1, N)). */
export function packBias(k: WasmKernels, src: number, dst: number, N: number): void {
  k.fns.pack(src, dst, 1, N, 0, 4);
}

/**
 * Products of at least this many multiply-adds (M·K·N) are split across the kernel pool's threads
 * (RBP_LAB_SPLIT_MACS; bench/README.md, "Threads", has the measurement behind the default).
 */
export const SPLIT_MACS = positiveInt(process.env.RBP_LAB_SPLIT_MACS, 1 << 21);

/** The kernel calls computing rows [i0, i1) of C (all reduction blocks, in order). */
function gemmCalls(packed: number, biasP: number, g: Omit<GemmOperands, 'b' | 'sbk' | 'sbn'>, i0: number, i1: number): KernelCall[] {
  const { K, N, sai, sak } = g;
  const kc = sak > sai ? KC_T : KC;
  const calls: KernelCall[] = [];
  for (let k0 = 0; k0 < K || k0 === 0; k0 += kc) {
    const flags = (k0 === 0 && g.bias !== undefined ? 1 : 0) | (k0 > 0 || g.accumulate ? 2 : 0);
    calls.push([K_GEMM, g.a + i0 * sai + k0 * sak, packed + k0 * PANEL * 4, g.c + i0 * N * 4, biasP, i1 - i0, Math.min(kc, K - k0), N, sai, sak, flags, K * PANEL * 4]);
  }
  return calls;
}

/**
 * The product with B already packed at `packed` (and the bias, if any, at `biasP`; `g.bias` says
 * whether to add it). With a kernel pool and at least SPLIT_MACS of work, the rows of C are split
 * across its threads at multiples of the kernel's 4-row tile: each element of C is computed by the
 * same tile code with the same reduction order as in one thread, so the result is bit-identical.
 */
export function gemmPacked(k: WasmKernels, packed: number, biasP: number, g: Omit<GemmOperands, 'b' | 'sbk' | 'sbn'>): void {
  const { M, K, N } = g;
  const pool = usablePool(k);
  if (pool && M >= 8 && M * K * N >= SPLIT_MACS) {
    pool.run(splitRows(M, pool.threads, 4).map(([i0, i1]) => gemmCalls(packed, biasP, g, i0, i1)));
    return;
  }
  for (const [, ...args] of gemmCalls(packed, biasP, g, 0, M)) (k.fns.gemm as (...a: number[]) => void)(...args);
}
