/**
 * The GRU-GNN's hot steps as single kernels of the wasm backend: the GRU step (`RbpGnnGruStep`,
 * which also yields the linearisation's multipliers) and its vector-Jacobian product with respect
 * to the state and the weights (`RbpGnnGruVjp`). Same formulas as the per-gate op path of
 * `GruGnnSystem` (./model.ts), in the same floating-point order, but one tfjs dispatch instead of
 * 18–44: the message passing through `core/wasm`'s `csr_rowsum`, the gate products through the
 * wasm GEMM of `core/wasm/gemm` on views of the packed W_i, W_h [D, 3D] (a gate's block, or its
 * transpose, read through strides: no slices, no transposed copies; the six of a step, or of a
 * VJP, as one batch: `gemmRows`), the logistic function from the backend's own
 * `Sigmoid` kernel, the elementwise chains from `core/wasm`'s `ew_gru_*` kernels. On a kernel pool
 * (core/wasm/pool.ts) a step is two handoffs (the message passing; the six gate products) and a VJP
 * three (the six transposed products; the message passing; the six weight-gradient products, each
 * whole on one thread: `gemmEach`).
 *
 * Bit-identical to the op path except the weight gradient, whose reductions over the N nodes are
 * blocked differently (Aᵀ·B read through strides, and `colsum` for the biases; float32 round-off).
 * Untaped use only (no gradients registered). Available on the wasm backend when the wasm kernels
 * load (`gruKernelsAvailable`); the op path is the reference the tests hold these to.
 */
import { tf, Tensor } from '../../core/tf';
import { wasmKernels, offsetOf, withHeapTemps, orRelease } from '../../core/wasm/module';
import { csrHeapBytes, csrRowSumHeap } from '../../core/kernels/csr';
import type { WasmBackendLike, WasmKernelExports } from '../../core/wasm/module';
import { gemmEach, gemmJobs, gemmJobsBytes, gemmPacked, gemmRows, gemmScratchBytes, inPlacePanels, packedBytes, packedPanels } from '../../core/wasm/gemm';
import type { GemmOperands } from '../../core/wasm/gemm';
import type { CsrGraph } from '../../core/kernels';

type TensorInfo = tf.TensorInfo;
interface KernelArgs {
  inputs: Record<string, TensorInfo | undefined>;
  backend: WasmBackendLike;
  attrs: Record<string, unknown>;
}

/** The elementwise chains of the GRU step (ELEMENTWISE in core/wasm/kernels-wat.mjs): inputs, outputs, n. */
interface GruExports extends WasmKernelExports {
  ew_gru_an2(ai: number, r: number, hn: number, a2: number, n: number): void;
  ew_gru_out(q: number, z: number, x: number, out: number, n: number): void;
  ew_gru_lin(q: number, r: number, z: number, hn: number, x: number, sr: number, cn: number, cz: number, crn: number, cnr: number, n: number): void;
  ew_gru_pieces(g: number, crn: number, cz: number, cn: number, cnr: number, a: number, b: number, c: number, d: number, n: number): void;
  ew_gru_pieces_rec(g: number, q: number, r: number, z: number, hn: number, x: number, a: number, b: number, c: number, d: number, n: number): void;
  ew_gru_vjp(g: number, z: number, fh: number, fm: number, out: number, n: number): void;
}

interface Kernels {
  fns: GruExports;
  memory: WebAssembly.Memory;
  k: NonNullable<ReturnType<typeof wasmKernels>>;
}

const STEP = 'RbpGnnGruStep';
const VJP = 'RbpGnnGruVjp';
const POINT_FROM = 'RbpGnnGruPointFrom';

function kernelsOf(backend: WasmBackendLike): Kernels {
  const k = wasmKernels(backend);
  if (!k || typeof (k.fns as Partial<GruExports>).ew_gru_out !== 'function') throw new Error('GNN fused kernels: the wasm kernels are not loaded');
  return { fns: k.fns as GruExports, memory: k.memory, k };
}

/** Whether the fused GRU kernels can run on the current backend. */
export function gruKernelsAvailable(): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const k = wasmKernels(tf.backend());
  return !!k && typeof (k.fns as Partial<GruExports>).ew_gru_out === 'function';
}

/** The kernels read raw heap: a shape that does not match would read other tensors' data. */
function expectShape(what: string, t: TensorInfo | undefined, shape: number[]): TensorInfo {
  if (!t) throw new Error(`GNN fused kernels: ${what} is missing`);
  if (t.dtype !== 'float32' || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`GNN fused kernels: ${what} has shape [${t.shape.join(', ')}] (${t.dtype}), expected float32 [${shape.join(', ')}]`);
  }
  return t;
}

/** The geometry of a call, its inputs checked. */
function geometry(inputs: KernelArgs['inputs'], graph: CsrGraph) {
  const x = inputs.x;
  if (!x || x.shape.length !== 2) throw new Error('GNN fused kernels: the state must be [N, D]');
  const N = graph.numNodes;
  const D = x.shape[1];
  expectShape('the state', x, [N, D]);
  expectShape('W_i', inputs.Wi, [D, 3 * D]);
  expectShape('W_h', inputs.Wh, [D, 3 * D]);
  if (inputs.scale) expectShape('the avg scale', inputs.scale, [N, D]);
  return { N, D, ND: N * D };
}

/** Run the backend's Sigmoid kernel on x (a new heap tensor). */
function sigmoidOf(backend: WasmBackendLike, x: TensorInfo): TensorInfo {
  const sigmoid = tf.getKernel('Sigmoid', 'wasm');
  if (!sigmoid) throw new Error('GNN fused kernels: the wasm backend has no Sigmoid kernel');
  return sigmoid.kernelFunc({ inputs: { x }, backend: backend as never, attrs: {} }) as TensorInfo;
}

/**
 * The step h' = GRU(S A h, h) (attr mode 'step': outputs [h']), the linearisation's values at h
 * ('lin': [r, z, hn, s_r, c_n, c_z, c_rn, c_nr, m], as `linearizeFused` names them), or both
 * from one pass ('record': [h', r, z, hn, q, m], q = σ(2 a_n), the rest made later by `gruPointFrom`).
 */
function stepKernel(args: KernelArgs): TensorInfo[] {
  const { backend, inputs } = args;
  const { graph, mode } = args.attrs as { graph: CsrGraph; mode: 'step' | 'lin' | 'record' };
  const lin = mode === 'lin';
  const K = kernelsOf(backend);
  const { N, D, ND } = geometry(inputs, graph);
  expectShape('b_i', inputs.bi, [3 * D]);
  expectShape('b_h', inputs.bh, [3 * D]);
  const made: TensorInfo[] = [];
  const mk = (t: TensorInfo = backend.makeOutput([N, D], 'float32')) => (made.push(t), t);
  return orRelease(backend, made, () => {
    const out = lin ? undefined : mk();
    const [hn, sr, cn, cz, crn, cnr, m] = lin ? Array.from({ length: 7 }, () => mk()) : [];
    const [hnR, mR] = mode === 'record' ? [mk(), mk()] : [];
    let result: TensorInfo[] = [];
    // the six gate products: their shape and strides, then their operands (offsets filled in below);
    // their scratch: B packed where D is ragged
    const gateShape = { sai: D * 4, sak: 4, sbk: 3 * D * 4, sbn: 4, M: N, K: D, N: D };
    const gate = (a: number, W: number, b: number, g: number, c: number, accumulate = false): GemmOperands =>
      ({ ...gateShape, a, b: W + g * D * 4, c, bias: b + g * D * 4, accumulate });
    const gemmBytes = gemmJobsBytes(Array.from({ length: 6 }, () => gateShape));
    withHeapTemps(backend, gemmBytes + csrHeapBytes(graph.fwd), (scratch, temp) => {
      const at = (t: TensorInfo) => offsetOf(backend, t);
      const x = at(inputs.x!);
      const Wi = at(inputs.Wi!);
      const Wh = at(inputs.Wh!);
      const bi = at(inputs.bi!);
      const bh = at(inputs.bh!);
      const mT = m ?? mR ?? temp([N, D]);
      const pr = temp([N, D]);
      const pz = temp([N, D]);
      const ai = temp([N, D]);
      const hnT = hn ?? hnR ?? temp([N, D]);
      // m = S A h
      csrRowSumHeap(K.k, scratch + gemmBytes, graph.fwd, x, at(mT), D);
      if (inputs.scale) K.fns.ew_mul(at(mT), at(inputs.scale), at(mT), ND);
      // a gate's block of W [D, 3D] is the view at column g·D, row stride 3D; C (+)= A·W_g + b_g;
      // all six as one batch (`gemmRows`: one handoff on a pool)
      const mo = at(mT);
      const ops = [
        gate(mo, Wi, bi, 0, at(pr)),
        gate(x, Wh, bh, 0, at(pr), true), // (h W_hr + b_hr) + (m W_ir + b_ir): the op path's sum, commuted
        gate(mo, Wi, bi, 1, at(pz)),
        gate(x, Wh, bh, 1, at(pz), true),
        gate(mo, Wi, bi, 2, at(ai)),
        gate(x, Wh, bh, 2, at(hnT)),
      ];
      gemmRows(K.k, gemmJobs(K.k, scratch, ops));
      const r = mk(sigmoidOf(backend, pr));
      const z = mk(sigmoidOf(backend, pz));
      K.fns.ew_gru_an2(at(ai), at(r), at(hnT), at(ai), ND);
      const q = mk(sigmoidOf(backend, ai));
      if (lin) {
        K.fns.ew_gru_lin(at(q), at(r), at(z), at(hnT), x, at(sr!), at(cn!), at(cz!), at(crn!), at(cnr!), ND);
        result = [r, z, hn!, sr!, cn!, cz!, crn!, cnr!, m!];
        for (const t of [q]) backend.disposeData(t.dataId);
      } else {
        K.fns.ew_gru_out(at(q), at(z), x, at(out!), ND);
        if (mode === 'record') {
          result = [out!, r, z, hnR!, q, mR!];
        } else {
          result = [out!];
          for (const t of [r, z, q]) backend.disposeData(t.dataId);
        }
      }
    });
    return result;
  });
}

/** The linearisation's multipliers from a recorded step's values: inputs q, r, z, hn, x; outputs [s_r, c_n, c_z, c_rn, c_nr]. */
function pointFromKernel(args: KernelArgs): TensorInfo[] {
  const { backend, inputs } = args;
  const K = kernelsOf(backend);
  const shape = inputs.x?.shape ?? [];
  const names = ['q', 'r', 'z', 'hn', 'x'];
  const ins = names.map((n) => expectShape(n, inputs[n], shape));
  const n = shape.reduce((a, b) => a * b, 1);
  const outs = Array.from({ length: 5 }, () => backend.makeOutput(shape, 'float32'));
  return orRelease(backend, outs, () => {
    const [q, r, z, hn, x] = ins.map((t) => offsetOf(backend, t));
    const [sr, cn, cz, crn, cnr] = outs.map((t) => offsetOf(backend, t));
    K.fns.ew_gru_lin(q, r, z, hn, x, sr, cn, cz, crn, cnr, n);
    return outs;
  });
}

/**
 * The VJP of the step at a linearisation point for an adjoint g (attrs wantH, wantW): outputs
 * [Jᵀg] if wantH, then [∂W_i, ∂W_h, ∂b_i, ∂b_h] if wantW. With a = g c_rn, b = g c_z, c = g c_n,
 * d = g c_nr: Jᵀg = g z + a W_hrᵀ + b W_hzᵀ + d W_hnᵀ + Aᵀ S (a W_irᵀ + b W_izᵀ + c W_inᵀ),
 * ∂W_i = mᵀ[a | b | c], ∂W_h = hᵀ[a | b | d], ∂b_i = 1ᵀ[a | b | c], ∂b_h = 1ᵀ[a | b | d].
 * The multipliers c_rn, c_z, c_n, c_nr come as inputs (a point), or are made with the pieces from
 * a recorded step's q, r, hn (`ew_gru_pieces_rec`, the same arithmetic as ew_gru_lin then ew_gru_pieces).
 */
function vjpKernel(args: KernelArgs): TensorInfo[] {
  const { backend, inputs } = args;
  const { graph, wantH, wantW } = args.attrs as { graph: CsrGraph; wantH: boolean; wantW: boolean };
  const K = kernelsOf(backend);
  const { N, D, ND } = geometry(inputs, graph);
  // the pieces from a point's multipliers, or from a recorded step's values (`inputs.q`)
  const recorded = inputs.q !== undefined;
  for (const name of ['g', 'z', 'm', ...(recorded ? ['q', 'r', 'hn'] : ['cn', 'cz', 'crn', 'cnr'])]) expectShape(name, inputs[name], [N, D]);
  const made: TensorInfo[] = [];
  const mk = (shape: number[]) => {
    const t = backend.makeOutput(shape, 'float32');
    made.push(t);
    return t;
  };
  return orRelease(backend, made, () => {
    const vh = wantH ? mk([N, D]) : undefined;
    const [dWi, dWh, dbi, dbh] = wantW ? [mk([D, 3 * D]), mk([D, 3 * D]), mk([3 * D]), mk([3 * D])] : [];
    // C (+)= P·W_gᵀ: W_gᵀ[k, n] = W[n, g·D + k], read through strides (packed: 6 B's of D × D)
    const gateTShape = { sai: D * 4, sak: 4, sbk: 4, sbn: 3 * D * 4, M: N, K: D, N: D };
    const gateT = (p: number, W: number, g: number, c: number, accumulate: boolean): GemmOperands => ({ ...gateTShape, a: p, b: W + g * D * 4, c, accumulate });
    const gemmBytes = Math.max(gemmScratchBytes(D, D), gemmJobsBytes(Array.from({ length: 6 }, () => gateTShape)));
    // a piece P_g is read in place as the right operand of the weight gradient, or packed here when D is ragged
    const inPlace = inPlacePanels(0, D * 4, 4, D) !== undefined;
    const packBytes = wantW && !inPlace ? packedBytes(N, D) : 0;
    withHeapTemps(backend, gemmBytes + packBytes + csrHeapBytes(graph.bwd), (scratch, temp) => {
      const at = (t: TensorInfo) => offsetOf(backend, t);
      const [a, b, c, d] = [0, 1, 2, 3].map(() => temp([N, D]));
      const fh = wantH ? temp([N, D]) : undefined;
      const fm = wantH ? temp([N, D]) : undefined;
      const fm2 = wantH ? temp([N, D]) : undefined;
      const g = at(inputs.g!);
      const [ao, bo, co, dout] = [a, b, c, d].map(at);
      if (recorded) K.fns.ew_gru_pieces_rec(g, at(inputs.q!), at(inputs.r!), at(inputs.z!), at(inputs.hn!), at(inputs.x!), ao, bo, co, dout, ND);
      else K.fns.ew_gru_pieces(g, at(inputs.crn!), at(inputs.cz!), at(inputs.cn!), at(inputs.cnr!), ao, bo, co, dout, ND);
      const Wi = at(inputs.Wi!);
      const Wh = at(inputs.Wh!);
      if (vh) {
        // the six as one batch (`gemmRows`: one handoff on a pool)
        const ops = [
          gateT(ao, Wh, 0, at(fh!), false),
          gateT(bo, Wh, 1, at(fh!), true),
          gateT(dout, Wh, 2, at(fh!), true),
          gateT(ao, Wi, 0, at(fm!), false),
          gateT(bo, Wi, 1, at(fm!), true),
          gateT(co, Wi, 2, at(fm!), true),
        ];
        gemmRows(K.k, gemmJobs(K.k, scratch, ops));
        if (inputs.scale) K.fns.ew_mul(at(fm!), at(inputs.scale), at(fm!), ND);
        csrRowSumHeap(K.k, scratch + gemmBytes + packBytes, graph.bwd, at(fm!), at(fm2!), D);
        K.fns.ew_gru_vjp(g, at(inputs.z!), at(fh!), at(fm2!), at(vh), ND);
      }
      if (wantW) {
        // ∂W[:, g·D:(g+1)·D] = Rᵀ·P_g with R = m or h read down its columns, written into its
        // columns of ∂W (C's rows 3D apart); ∂b[g·D:(g+1)·D] = 1ᵀP_g. With the pieces read in
        // place, the six products go in one batch (`gemmEach`: whole products dealt to the pool's
        // threads); packed (D ragged), one by one through the one packing buffer.
        const wOps = (R: number, pieces: number[], out: TensorInfo) =>
          pieces.map((p, gate) => ({ p, g: { a: R, sai: 4, sak: D * 4, c: at(out) + gate * D * 4, ldc: 3 * D * 4, M: D, K: N, N: D } }));
        const all = [...wOps(at(inputs.m!), [ao, bo, co], dWi!), ...wOps(at(inputs.x!), [ao, bo, dout], dWh!)];
        if (inPlace) gemmEach(K.k, all.map(({ p, g }) => ({ B: inPlacePanels(p, D * 4, 4, D)!, biasP: 0, g })));
        else
          for (const { p, g } of all) {
            K.fns.pack(p, scratch + gemmBytes, N, D, D * 4, 4);
            gemmPacked(K.k, packedPanels(scratch + gemmBytes, N), 0, g);
          }
        const sums = (pieces: number[], bias: TensorInfo, from: (number | undefined)[]) =>
          pieces.forEach((p, gate) => {
            const dst = at(bias) + gate * D * 4;
            const f = from[gate];
            if (f === undefined) K.fns.colsum(p, dst, N, D);
            else new Float32Array(K.memory.buffer).copyWithin(dst / 4, f / 4, f / 4 + D); // the same piece's sum
          });
        sums([ao, bo, co], dbi!, []);
        // ∂b_h's r and z parts are ∂b_i's (the pieces a and b are shared)
        sums([ao, bo, dout], dbh!, [at(dbi!), at(dbi!) + D * 4]);
      }
    });
    return made;
  });
}

let registered = false;
function ensureRegistered(): void {
  if (registered) return;
  for (const [kernelName, kernelFunc] of [
    [STEP, stepKernel],
    [VJP, vjpKernel],
    [POINT_FROM, pointFromKernel],
  ] as const) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
  registered = true;
}

type RunKernel = (name: string, inputs: Record<string, Tensor>, attrs: Record<string, unknown>) => Tensor | Tensor[];
const runKernel: RunKernel = (name, inputs, attrs) => (tf.engine() as unknown as { runKernel: RunKernel }).runKernel(name, inputs, attrs);
const asList = (r: Tensor | Tensor[]) => (Array.isArray(r) ? r : [r]);

/** The GRU step's weights [W_i, W_h, b_i, b_h] and, for 'avg', the per-node scale expanded to [N, D]. */
function weightInputs(w: Tensor[], scale: Tensor | undefined): Record<string, Tensor> {
  const r: Record<string, Tensor> = { Wi: w[0], Wh: w[1], bi: w[2], bh: w[3] };
  if (scale) r.scale = scale;
  return r;
}

/** h' = GRUCell(S A h, h) in one kernel. */
export function gruStep(x: Tensor, w: Tensor[], graph: CsrGraph, scale?: Tensor): Tensor {
  ensureRegistered();
  return asList(runKernel(STEP, { x, ...weightInputs(w, scale) }, { graph, mode: 'step' }))[0];
}

/** The linearisation's values at h: what `linearizeFused` computes, in one kernel. */
export interface GruPoint {
  r: Tensor;
  z: Tensor;
  hn: Tensor;
  sr: Tensor;
  cn: Tensor;
  cz: Tensor;
  crn: Tensor;
  cnr: Tensor;
  m: Tensor;
}

export function gruPoint(x: Tensor, w: Tensor[], graph: CsrGraph, scale?: Tensor): GruPoint {
  ensureRegistered();
  const [r, z, hn, sr, cn, cz, crn, cnr, m] = asList(runKernel(STEP, { x, ...weightInputs(w, scale) }, { graph, mode: 'lin' }));
  return { r, z, hn, sr, cn, cz, crn, cnr, m };
}

/** What a recorded step keeps of its pass for the linearisation at its input. */
export type GruRecord = Pick<GruPoint, 'r' | 'z' | 'hn' | 'm'> & { q: Tensor };

/** h' and the record of its pass, in one kernel (the step's cost: nothing is computed twice). */
export function gruStepRecorded(x: Tensor, w: Tensor[], graph: CsrGraph, scale?: Tensor): { next: Tensor; rec: GruRecord } {
  ensureRegistered();
  const [next, r, z, hn, q, m] = asList(runKernel(STEP, { x, ...weightInputs(w, scale) }, { graph, mode: 'record' }));
  return { next, rec: { r, z, hn, q, m } };
}

/** The point `gruPoint(x, …)` computes, from a recorded step's values (one elementwise kernel; bit-identical). */
export function gruPointFrom(rec: GruRecord, x: Tensor): GruPoint {
  ensureRegistered();
  const [sr, cn, cz, crn, cnr] = asList(runKernel(POINT_FROM, { q: rec.q, r: rec.r, z: rec.z, hn: rec.hn, x }, {}));
  return { r: rec.r, z: rec.z, hn: rec.hn, m: rec.m, sr, cn, cz, crn, cnr };
}

/**
 * Jᵀg (wantH) and the weight gradient [∂W_i, ∂W_h, ∂b_i, ∂b_h] (wantW) at a point, or at a
 * recorded step's input (the multipliers made on the fly: no `gruPointFrom`), in one kernel.
 */
export function gruVjp(g: Tensor, x: Tensor, p: GruPoint | GruRecord, w: Tensor[], graph: CsrGraph, scale: Tensor | undefined, want: { h: boolean; w: boolean }): Tensor[] {
  ensureRegistered();
  const point: Record<string, Tensor> = 'q' in p ? { q: p.q, r: p.r, hn: p.hn } : { cn: p.cn, cz: p.cz, crn: p.crn, cnr: p.cnr };
  const inputs = { g, x, z: p.z, m: p.m, ...point, ...weightInputs(w, scale) };
  return asList(runKernel(VJP, inputs, { graph, wantH: want.h, wantW: want.w }));
}
