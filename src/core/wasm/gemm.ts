/**
 * C = A·B (+ bias) (+ C) on heap offsets: the wasm `gemm` kernel with B in panels of 8 columns —
 * read in place when B is row-major with N a multiple of 8, else packed into a scratch buffer —
 * C's rows at any stride, and the reduction cut into blocks. Used by the tfjs matMul replacement
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
/**
 * Reduction block when B is read in place (`inPlacePanels`: one cache line per row of each panel
 * instead of contiguous panels): 64 rows of A and B, 32 KiB for the GNN's weight gradient, stay in
 * L1 (Rᵀ·P, 64×2708·2708×64, best of 15: 46–48 GFLOP/s at 64, 36–38 at 256; load 4–5).
 */
const KC_IN = positiveInt(process.env.RBP_LAB_GEMM_KC_IN, 64);

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
  /** C [M, N] at c, its rows `ldc` bytes apart (default 4·N: row-major). */
  c: number;
  ldc?: number;
  M: number;
  K: number;
  N: number;
  /** N floats added to every row. */
  bias?: number;
  /** Add to C instead of overwriting it. */
  accumulate?: boolean;
}

/** A product's operands once B is in panels (`Panels`). */
export type GemmPanelOperands = Omit<GemmOperands, 'b' | 'sbk' | 'sbn'>;

/** Where `gemm` reads B: the first panel, bytes from one panel to the next and from one row k to the next within a panel. */
export interface Panels {
  at: number;
  panel: number;
  bk: number;
}

/** B [K, N] packed by `pack` at `at`. */
export function packedPanels(at: number, K: number): Panels {
  return { at, panel: K * PANEL * 4, bk: PANEL * 4 };
}

/**
 * B read where it is, without packing, when its columns are contiguous (sbn = 4) and N is a
 * multiple of the panel width (the kernel reads whole panels); else undefined (pack it).
 */
export function inPlacePanels(b: number, sbk: number, sbn: number, N: number): Panels | undefined {
  return readsInPlace({ sbn, N }) ? { at: b, panel: PANEL * 4, bk: sbk } : undefined;
}

/** Whether `inPlacePanels` reads a B of this shape where it is: its columns contiguous, N a multiple of the panel width. */
function readsInPlace(g: Pick<GemmOperands, 'sbn' | 'N'>): boolean {
  return g.sbn === 4 && g.N % PANEL === 0;
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

/**
 * Compute the product, reading B (and the bias) in place where `inPlacePanels` allows, else packing
 * them into panels at `scratch` (≥ gemmScratchBytes) first.
 */
export function gemm(k: WasmKernels, scratch: number, g: GemmOperands): void {
  const j = gemmJob(k, scratch, g);
  gemmPacked(k, j.B, j.biasP, j.g);
}

/**
 * The product as a job: B (and the bias) read in place where `inPlacePanels` allows (a bias of N
 * floats is its own panel row when N is a multiple of the panel width), else packed at `scratch`
 * (≥ gemmScratchBytes).
 */
function gemmJob(k: WasmKernels, scratch: number, g: GemmOperands): GemmJob {
  const { b, sbk, sbn, ...rest } = g;
  const { K, N } = g;
  const inPlace = inPlacePanels(b, sbk, sbn, N);
  if (inPlace) return { B: inPlace, biasP: g.bias ?? 0, g: rest };
  k.fns.pack(b, scratch, K, N, sbk, sbn);
  const biasP = scratch + packedBytes(K, N);
  if (g.bias !== undefined) packBias(k, g.bias, biasP, N);
  return { B: packedPanels(scratch, K), biasP, g: rest };
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

type GemmFn = (a: number, bp: number, c: number, biasp: number, M: number, K: number, N: number, sai: number, sak: number, flags: number, panel: number, bk: number, ldc: number) => void;

/** Call `f` with the kernel arguments computing rows [i0, i1) of C (all reduction blocks, in order). */
function gemmBlocks(B: Panels, biasP: number, g: GemmPanelOperands, i0: number, i1: number, f: GemmFn): void {
  const { K, N, sai, sak } = g;
  const ldc = g.ldc ?? N * 4;
  const kc = B.bk !== PANEL * 4 ? KC_IN : sak > sai ? KC_T : KC;
  for (let k0 = 0; k0 < K || k0 === 0; k0 += kc) {
    const flags = (k0 === 0 && g.bias !== undefined ? 1 : 0) | (k0 > 0 || g.accumulate ? 2 : 0);
    f(g.a + i0 * sai + k0 * sak, B.at + k0 * B.bk, g.c + i0 * ldc, biasP, i1 - i0, Math.min(kc, K - k0), N, sai, sak, flags, B.panel, B.bk, ldc);
  }
}

/**
 * The product with B in panels `B` (packed, or read in place: `inPlacePanels`) and the bias, if
 * any, at `biasP` (`g.bias` says whether to add it). With a kernel pool and at least SPLIT_MACS of
 * work, the rows of C are split across its threads at multiples of the kernel's 4-row tile: each
 * element of C is computed by the same tile code with the same reduction order as in one thread,
 * so the result is bit-identical. On one thread the kernel is called directly (no call lists).
 */
export function gemmPacked(k: WasmKernels, B: Panels, biasP: number, g: GemmPanelOperands): void {
  const { M, K, N } = g;
  const pool = usablePool(k);
  if (pool && M >= 8 && M * K * N >= SPLIT_MACS) {
    pool.run(
      splitRows(M, pool.threads, 4).map(([i0, i1]) => {
        const calls: KernelCall[] = [];
        gemmBlocks(B, biasP, g, i0, i1, (...args) => calls.push([K_GEMM, ...args]));
        return calls;
      }),
    );
    return;
  }
  gemmBlocks(B, biasP, g, 0, M, k.fns.gemm);
}

/** One product of a batch: B in panels, the bias panel (`g.bias` says whether to add it) and the operands. */
export interface GemmJob {
  B: Panels;
  biasP: number;
  g: GemmPanelOperands;
}

/**
 * Several products with the same M (the GNN step's six gate products, its VJP's six transposed
 * ones) as one: with a kernel pool and at least SPLIT_MACS of work in all, the rows of C are
 * split across its threads in ONE handoff (instead of one per product), each thread running every
 * product on its rows in order; else they run here in order. Each element of C is computed by the
 * same tile code in the same reduction order as by `gemmPacked` alone (boundaries at multiples of
 * the 4-row tile), so the result is bit-identical to calling it product by product. No product may
 * read what another of the batch writes (its C must not be another's A, B or bias).
 */
export function gemmRows(k: WasmKernels, jobs: GemmJob[]): void {
  if (jobs.length === 0) return;
  const M = jobs[0].g.M;
  if (jobs.some((j) => j.g.M !== M)) throw new Error('gemmRows: the products must have the same number of rows');
  const macs = jobs.reduce((s, j) => s + j.g.M * j.g.K * j.g.N, 0);
  const pool = usablePool(k);
  const ranges = pool && M >= 8 && macs >= SPLIT_MACS ? splitRows(M, pool.threads, 4) : [];
  if (!pool || ranges.length < 2) {
    for (const j of jobs) gemmBlocks(j.B, j.biasP, j.g, 0, M, k.fns.gemm);
    return;
  }
  pool.run(
    ranges.map(([i0, i1]) => {
      const calls: KernelCall[] = [];
      for (const j of jobs) gemmBlocks(j.B, j.biasP, j.g, i0, i1, (...args) => calls.push([K_GEMM, ...args]));
      return calls;
    }),
  );
}

/**
 * Several products computed whole, each on one thread: with a kernel pool and at least SPLIT_MACS
 * of work in all, they are dealt to its threads in ONE handoff (in order, about equal multiply-adds
 * each), else run here in order. For products too short to split by rows (the GNN's weight
 * gradients, 64 rows of C: two threads would each read all of B), each is bit-identical to
 * `gemmPacked` on one thread. The products' outputs must not overlap nor feed one another.
 */
export function gemmEach(k: WasmKernels, jobs: GemmJob[]): void {
  const macs = jobs.map((j) => j.g.M * j.g.K * j.g.N);
  const pool = usablePool(k);
  if (!pool || jobs.length < 2 || macs.reduce((s, m) => s + m, 0) < SPLIT_MACS) {
    for (const j of jobs) gemmBlocks(j.B, j.biasP, j.g, 0, j.g.M, k.fns.gemm);
    return;
  }
  const lists: KernelCall[][] = Array.from({ length: Math.min(pool.threads, jobs.length) }, () => []);
  dealByWork(macs, lists.length).forEach((t, q) => gemmBlocks(jobs[q].B, jobs[q].biasP, jobs[q].g, 0, jobs[q].g.M, (...args) => lists[t].push([K_GEMM, ...args])));
  pool.run(lists.filter((l) => l.length > 0));
}

/** The part (0 … parts − 1) each item goes to, in order: the one whose share of the total weight the item's middle falls in. */
export function dealByWork(weights: number[], parts: number): number[] {
  const total = weights.reduce((s, w) => s + w, 0);
  let done = 0;
  return weights.map((w) => {
    const t = Math.min(parts - 1, Math.floor(((done + w / 2) / total) * parts));
    done += w;
    return t;
  });
}

/**
 * Scratch bytes `gemmJobs` needs for products of these shapes (the B, and bias, of each that is not
 * read in place): their K, N and B's column stride are enough, so a caller can size the scratch
 * before it has the operands' offsets.
 */
export function gemmJobsBytes(ops: Pick<GemmOperands, 'sbn' | 'K' | 'N'>[]): number {
  return ops.reduce((s, g) => s + (readsInPlace(g) ? 0 : gemmScratchBytes(g.K, g.N)), 0);
}

/**
 * The products as jobs for `gemmRows` / `gemmEach`: each B (and bias) read in place where
 * `inPlacePanels` allows, else packed here, one after another from `scratch` (≥ gemmJobsBytes).
 */
export function gemmJobs(k: WasmKernels, scratch: number, ops: GemmOperands[]): GemmJob[] {
  let at = scratch;
  return ops.map((g) => {
    const j = gemmJob(k, at, g);
    at += gemmJobsBytes([g]);
    return j;
  });
}
