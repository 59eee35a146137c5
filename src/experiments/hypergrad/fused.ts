/**
 * The hypergradient MLP's hot steps as single kernels of the wasm backend: the forward and
 * backward pass of one SGD step (`HypergradPoint`), its Hessian-vector product (`HypergradHvp`),
 * and the elementwise parts of the momentum update and of its adjoint. Same formulas as the op
 * path of `MlpPoint` (./mlp.ts), in the same floating-point order, but one tfjs dispatch instead
 * of ~50 and the products taken on views of the packed θ and u (no weight copies, no transposes):
 * the wasm GEMM of `core/wasm/gemm` on heap offsets, the logistic and softmax functions from the
 * backend's own kernels, the elementwise chains from `core/wasm`'s `ew_*` kernels.
 *
 * With a batch's sparse form (`./sparse`) the first layer's two products (x·W₁ forward, xᵀδ₁
 * backward, and their R-op counterparts) run as sparse products plus a rank-one correction;
 * everything else is unchanged.
 *
 * Untaped use only (no gradients registered): the callers are the analytic fast path's forward
 * values. Available on the wasm backend when the wasm kernels load (`fusedAvailable`); the op
 * path is the reference the tests hold these to.
 */
import { tf, Tensor } from '../../core/tf';
import { wasmKernels, offsetOf, withHeapTemps, orRelease } from '../../core/wasm/module';
import type { WasmBackendLike, WasmKernels } from '../../core/wasm/module';
import { gemm, gemmPacked, gemmScratchBytes, packedBytes, packedPanels, rowMajorStrides } from '../../core/wasm/gemm';
import { sizeOf } from '../../core/kernelViews';
import type { CsrAt, SparseBatch, SparseLayout } from './sparse';

type TensorInfo = tf.TensorInfo;
interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: WasmBackendLike;
  attrs: Record<string, unknown>;
}

/** The MLP's geometry, as the kernels take it. */
export interface FusedLayout {
  /** Layer sizes s_0..s_L (input first). */
  sizes: number[];
  /** Start of θ_i (W₁, b₁, W₂, ...) in the packed vector; offsets[2L] = its length. */
  offsets: number[];
}

/** Forward/backward values of one (θ, batch), as the HVP needs them (index l as in mlp.ts). */
export interface FusedPoint {
  /** ∇L_batch(θ), packed like θ. */
  grad: Tensor;
  /** Logits, softmax, softmax / N. */
  z: Tensor;
  p: Tensor;
  pN: Tensor;
  /** X_l, D_l = 1 − X_l², e_l = δ_{l+1} W_{l+1}ᵀ for l = 1..L−1 (entry l−1). */
  X: Tensor[];
  D: Tensor[];
  e: Tensor[];
  /** δ_l for l = 1..L (entry l−1). */
  delta: Tensor[];
}

const POINT = 'HypergradPoint';
const HVP = 'HypergradHvp';
const PANELS = 'HypergradPanels';
const MOMENTUM = 'HypergradMomentum';
const ADJOINT = 'HypergradAdjoint';

function kernelsOf(backend: WasmBackendLike): WasmKernels {
  const k = wasmKernels(backend);
  if (!k) throw new Error('hypergrad fused kernels: the wasm kernels are not loaded');
  return k;
}

/** Whether the fused kernels can run on the current backend. */
export function fusedAvailable(): boolean {
  return tf.getBackend() === 'wasm' && wasmKernels(tf.backend()) !== undefined;
}

/** The kernels read raw heap: a shape that does not match the layout would read other tensors' data. */
function expectShape(what: string, t: TensorInfo, shape: number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new Error(`hypergrad fused kernels: ${what} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
}

/** The largest scratch any product of this MLP needs (K × N right operands: W_l, W_lᵀ, δ_l). */
function scratchBytes(sizes: number[], rows: number): number {
  let m = 0;
  for (let l = 1; l < sizes.length; l++) m = Math.max(m, gemmScratchBytes(sizes[l - 1], sizes[l]), gemmScratchBytes(sizes[l], sizes[l - 1]), gemmScratchBytes(rows, sizes[l]));
  return m;
}

/** Products of the MLP on heap offsets: row-major matrices, a weight W_l as a view of θ or u. */
class Products {
  constructor(
    private readonly k: WasmKernels,
    private readonly scratch: number,
  ) {}

  /** C = A·B (+ bias) (+ C): A [M, K] and B [K, N] row-major, either read transposed on request. */
  mul(a: number, b: number, c: number, M: number, K: number, N: number, o: { tA?: boolean; tB?: boolean; bias?: number; accumulate?: boolean } = {}): void {
    gemm(this.k, this.scratch, { a, b, c, M, K, N, ...rowMajorStrides(M, K, N, o.tA, o.tB), bias: o.bias, accumulate: o.accumulate });
  }
}

/** The first layer's products on a batch's sparse form x = raw − 1·μᵀ (heap offsets of its two tensors). */
class SparseFirstLayer {
  constructor(
    private readonly k: WasmKernels,
    private readonly sp: SparseLayout,
    private readonly idx: number,
    private readonly val: number,
  ) {}

  /** C = S·B (+ bias) (+ C), B's rows `sbk` bytes apart, C [S.rows, N]. */
  private csr(s: CsrAt, b: number, sbk: number, c: number, N: number, bias?: number, accumulate = false): void {
    this.k.fns.csr_mm(this.idx + s.ptr * 4, this.idx + s.col * 4, this.val + s.val * 4, b, sbk, c, s.rows, N, bias ?? 0, (bias !== undefined ? 1 : 0) | (accumulate ? 2 : 0));
  }

  /** C [n, N] = x·V + b = raw·V + (b − μᵀV); `tmp`: N floats of scratch. */
  forward(v: number, bias: number, c: number, N: number, tmp: number): void {
    this.csr(this.sp.meanRow, v, N * 4, tmp, N, bias);
    this.csr(this.sp.raw, v, N * 4, c, N, tmp);
  }

  /** C [d, N] = xᵀD = rawᵀD − μ·(1ᵀD), with 1ᵀD (the bias gradient) already at `colsumD`. */
  backward(dl: number, colsumD: number, c: number, N: number): void {
    this.sp.rawT.forEach((block, b) => this.csr(block, dl, N * 4, c, N, undefined, b > 0));
    this.csr(this.sp.meanCol, colsumD, 0, c, N, undefined, true);
  }
}

/** The batch's sparse form as kernel inputs and attributes (none without one). */
function sparseArgs(sparse: SparseBatch | undefined): { inputs: Record<string, Tensor>; attrs: { sparse?: SparseLayout } } {
  return sparse ? { inputs: { spIdx: sparse.idx, spVal: sparse.val }, attrs: { sparse: sparse.layout } } : { inputs: {}, attrs: {} };
}

/** The first layer on the sparse inputs when the kernel got them (their sizes checked against the batch: the kernel reads raw heap). */
function sparseFirstLayer(k: WasmKernels, backend: WasmBackendLike, inputs: Record<string, TensorInfo>, sp: SparseLayout | undefined, n: number, d: number): SparseFirstLayer | undefined {
  if (!sp) return undefined;
  if (sp.n !== n || sp.d !== d) throw new Error(`hypergrad fused kernels: the sparse inputs are [${sp.n}, ${sp.d}], the batch [${n}, ${d}]`);
  expectShape('the sparse indices', inputs.spIdx, [sp.idxLength]);
  expectShape('the sparse values', inputs.spVal, [sp.valLength]);
  return new SparseFirstLayer(k, sp, offsetOf(backend, inputs.spIdx), offsetOf(backend, inputs.spVal));
}

function pointKernel(args: KernelArgs): TensorInfo[] {
  const { backend } = args;
  const { theta, x, yN } = args.inputs;
  const { sizes, offsets, invN, sparse } = args.attrs as unknown as FusedLayout & { invN: number; sparse?: SparseLayout };
  if (!x && !sparse) throw new Error('hypergrad fused kernels: no inputs (neither x nor its sparse form)');
  const k = kernelsOf(backend);
  const sigmoid = tf.getKernel('Sigmoid', 'wasm');
  const softmax = tf.getKernel('Softmax', 'wasm');
  if (!sigmoid || !softmax) throw new Error('hypergrad fused kernels: the wasm backend has no Sigmoid/Softmax kernel');
  const L = sizes.length - 1;
  const n = yN.shape[0];
  const C = sizes[L];
  expectShape('θ', theta, [offsets[2 * L]]);
  if (x) expectShape('the batch', x, [n, sizes[0]]);
  expectShape('y/N', yN, [n, C]);
  const outs: TensorInfo[] = [];
  const mk = (shape: number[]) => {
    const t = backend.makeOutput(shape, 'float32');
    outs.push(t);
    return t;
  };
  return orRelease(backend, outs, () => {
    const grad = mk([offsets[2 * L]]);
    const z = mk([n, C]);
    const pN = mk([n, C]);
    const X: TensorInfo[] = [];
    const D: TensorInfo[] = [];
    const e: TensorInfo[] = [];
    const delta: TensorInfo[] = [];
    for (let l = 1; l < L; l++) X.push(mk([n, sizes[l]]));
    for (let l = 1; l < L; l++) D.push(mk([n, sizes[l]]));
    for (let l = 1; l < L; l++) e.push(mk([n, sizes[l]]));
    for (let l = 1; l <= L; l++) delta.push(mk([n, sizes[l]]));
    withHeapTemps(backend, scratchBytes(sizes, n), (scratch, temp) => {
      const sp = sparseFirstLayer(k, backend, args.inputs, sparse, n, sizes[0]);
      const spTmp = sp ? offsetOf(backend, temp([sizes[1]])) : 0;
      const at = (t: TensorInfo) => offsetOf(backend, t);
      const th = at(theta);
      const W = (l: number) => th + offsets[2 * l - 2] * 4;
      const bias = (l: number) => th + offsets[2 * l - 1] * 4;
      const mm = new Products(k, scratch);
      const Xo = (l: number) => (l === 0 ? at(x) : at(X[l - 1]));
      // forward: A_l = X_{l−1} W_l + b_l; X_l = tanh A_l = 2σ(2A_l) − 1, D_l = 1 − X_l²
      for (let l = 1; l < L; l++) {
        const xl = at(X[l - 1]);
        const size = n * sizes[l];
        if (l === 1 && sp) sp.forward(W(1), bias(1), xl, sizes[1], spTmp);
        else mm.mul(Xo(l - 1), W(l), xl, n, sizes[l - 1], sizes[l], { bias: bias(l) });
        k.fns.ew_scale(xl, xl, size, 2);
        const s = sigmoid.kernelFunc({ inputs: { x: X[l - 1] }, backend: backend as never, attrs: {} }) as TensorInfo;
        try {
          k.fns.ew_tanh_d(at(s), xl, at(D[l - 1]), size);
        } finally {
          backend.disposeData(s.dataId);
        }
      }
      if (L === 1 && sp) sp.forward(W(1), bias(1), at(z), C, spTmp); // no hidden layer: the logits are the first layer
      else mm.mul(Xo(L - 1), W(L), at(z), n, sizes[L - 1], C, { bias: bias(L) });
      const p = softmax.kernelFunc({ inputs: { logits: z }, backend: backend as never, attrs: { dim: 1 } }) as TensorInfo;
      outs.splice(2, 0, p); // [grad, z, p, pN, ...]
      // δ_L = p/N − y/N
      k.fns.ew_delta(at(p), at(yN), at(pN), at(delta[L - 1]), n * C, invN);
      const g = at(grad);
      for (let l = L; l >= 1; l--) {
        const d = at(delta[l - 1]);
        // ∇W_l = X_{l−1}ᵀ δ_l, ∇b_l = Σ_rows δ_l, straight into the packed gradient
        k.fns.colsum(d, g + offsets[2 * l - 1] * 4, n, sizes[l]);
        if (l === 1 && sp) sp.backward(d, g + offsets[1] * 4, g + offsets[0] * 4, sizes[1]);
        else mm.mul(Xo(l - 1), d, g + offsets[2 * l - 2] * 4, sizes[l - 1], n, sizes[l], { tA: true });
        if (l > 1) {
          // e_{l−1} = δ_l W_lᵀ, δ_{l−1} = e_{l−1} ⊙ D_{l−1}
          const el = at(e[l - 2]);
          mm.mul(d, W(l), el, n, sizes[l], sizes[l - 1], { tB: true });
          k.fns.ew_mul(el, at(D[l - 2]), at(delta[l - 2]), n * sizes[l - 1]);
        }
      }
    });
    return outs; // grad, z, p, pN, X_1.., D_1.., e_1.., δ_1..
  });
}

function hvpKernel(args: KernelArgs): TensorInfo {
  const { backend, inputs } = args;
  const { sizes, offsets, sparse } = args.attrs as unknown as FusedLayout & { sparse?: SparseLayout };
  const k = kernelsOf(backend);
  const L = sizes.length - 1;
  const x = inputs.x;
  if (!x && !sparse) throw new Error('hypergrad fused kernels: no inputs (neither x nor its sparse form)');
  const n = inputs.p.shape[0];
  const C = sizes[L];
  const X = (l: number) => (l === 0 ? x : inputs[`X${l}`]);
  expectShape('θ', inputs.theta, [offsets[2 * L]]);
  expectShape('u', inputs.u, [offsets[2 * L]]);
  if (x) expectShape('the batch', x, [n, sizes[0]]);
  for (const name of ['p', 'pN', `delta${L}`]) expectShape(name, inputs[name], [n, C]);
  for (let l = 1; l < L; l++) for (const name of [`X${l}`, `D${l}`, `e${l}`, `delta${l}`]) expectShape(name, inputs[name], [n, sizes[l]]);
  const out = backend.makeOutput([offsets[2 * L]], 'float32');
  return orRelease(backend, [out], () => {
    withHeapTemps(backend, scratchBytes(sizes, n), (scratch, temp) => {
      const sp = sparseFirstLayer(k, backend, inputs, sparse, n, sizes[0]);
      const spTmp = sp ? offsetOf(backend, temp([sizes[1]])) : 0;
      const at = (t: TensorInfo) => offsetOf(backend, t);
      const th = at(inputs.theta);
      const u = at(inputs.u);
      const mm = new Products(k, scratch);
      const RX: TensorInfo[] = [];
      // R-forward: RA_l = X_{l−1}U_{W_l} + U_{b_l} (+ RX_{l−1}W_l), RX_l = D_l ⊙ RA_l; RZ = RA_L
      for (let l = 1; l <= L; l++) {
        const ra = temp([n, sizes[l]]);
        RX[l] = ra;
        if (l === 1 && sp) sp.forward(u + offsets[0] * 4, u + offsets[1] * 4, at(ra), sizes[1], spTmp);
        else mm.mul(at(X(l - 1)), u + offsets[2 * l - 2] * 4, at(ra), n, sizes[l - 1], sizes[l], { bias: u + offsets[2 * l - 1] * 4 });
        if (l > 1) mm.mul(at(RX[l - 1]), th + offsets[2 * l - 2] * 4, at(ra), n, sizes[l - 1], sizes[l], { accumulate: true });
        if (l < L) k.fns.ew_mul(at(inputs[`D${l}`]), at(ra), at(ra), n * sizes[l]);
      }
      // Rδ_L = pN ⊙ (RZ − ⟨p, RZ⟩)
      let rd = temp([n, C]);
      k.fns.softmax_rop(at(inputs.p), at(inputs.pN), at(RX[L]), at(rd), n, C);
      const o = at(out);
      for (let l = L; l >= 1; l--) {
        const wOut = o + offsets[2 * l - 2] * 4;
        // R∇W_l = X_{l−1}ᵀRδ_l + RX_{l−1}ᵀδ_l, R∇b_l = Σ_rows Rδ_l
        k.fns.colsum(at(rd), o + offsets[2 * l - 1] * 4, n, sizes[l]);
        if (l === 1 && sp) sp.backward(at(rd), o + offsets[1] * 4, wOut, sizes[1]);
        else mm.mul(at(X(l - 1)), at(rd), wOut, sizes[l - 1], n, sizes[l], { tA: true });
        if (l > 1) {
          const dl = at(inputs[`delta${l}`]);
          // RX_{l−1}ᵀδ_l: δ_l in the panels `fusedPanels` made of it once per point, else packed here (the same panels either way)
          const dP = inputs[`deltaP${l}`];
          if (dP) {
            expectShape(`deltaP${l}`, dP, [packedBytes(n, sizes[l]) / 4]);
            gemmPacked(k, packedPanels(at(dP), n), 0, { a: at(RX[l - 1]), ...rowMajorStrides(sizes[l - 1], n, sizes[l], true), c: wOut, M: sizes[l - 1], K: n, N: sizes[l], accumulate: true });
          } else mm.mul(at(RX[l - 1]), dl, wOut, sizes[l - 1], n, sizes[l], { tA: true, accumulate: true });
          // Rδ_{l−1} = (Rδ_l W_lᵀ + δ_l U_{W_l}ᵀ) ⊙ D_{l−1} − 2 e_{l−1} ⊙ X_{l−1} ⊙ RX_{l−1}
          const re = temp([n, sizes[l - 1]]);
          mm.mul(at(rd), th + offsets[2 * l - 2] * 4, at(re), n, sizes[l], sizes[l - 1], { tB: true });
          mm.mul(dl, u + offsets[2 * l - 2] * 4, at(re), n, sizes[l], sizes[l - 1], { tB: true, accumulate: true });
          const next = temp([n, sizes[l - 1]]);
          k.fns.ew_hvp_rd(at(re), at(inputs[`D${l - 1}`]), at(inputs[`e${l - 1}`]), at(X(l - 1)), at(RX[l - 1]), at(next), n * sizes[l - 1]);
          rd = next;
        }
      }
    });
    return out;
  });
}

/** Row-major [rows, cols] matrices i0, i1, ... in the 8-column panels `gemm` reads (`pack`; packedBytes(rows, cols) each). */
function panelsKernel(args: KernelArgs): TensorInfo[] {
  const { backend } = args;
  const k = kernelsOf(backend);
  const ins = Array.from({ length: Object.keys(args.inputs).length }, (_, i) => args.inputs[`i${i}`]);
  const outs: TensorInfo[] = [];
  return orRelease(backend, outs, () => {
    for (const t of ins) {
      if (t.shape.length !== 2) throw new Error(`hypergrad fused kernels: panels of a matrix, not of shape [${t.shape.join(', ')}]`);
      const [rows, cols] = t.shape;
      const out = backend.makeOutput([packedBytes(rows, cols) / 4], 'float32');
      outs.push(out);
      k.fns.pack(offsetOf(backend, t), offsetOf(backend, out), rows, cols, cols * 4, 4);
    }
    return outs;
  });
}

/** An elementwise kernel over inputs i0, i1, ... of one length: `run` gets their and the outputs' offsets. */
function elementwiseKernel(outputs: number, run: (k: WasmKernels, ins: number[], outs: number[], n: number) => void) {
  return (args: KernelArgs): TensorInfo[] => {
    const { backend } = args;
    const k = kernelsOf(backend);
    const ins = Array.from({ length: Object.keys(args.inputs).length }, (_, i) => args.inputs[`i${i}`]);
    const n = sizeOf(ins[0].shape);
    ins.forEach((t, i) => expectShape(`input ${i}`, t, [n]));
    const outs = Array.from({ length: outputs }, () => backend.makeOutput([n], 'float32'));
    return orRelease(backend, outs, () => {
      run(
        k,
        ins.map((t) => offsetOf(backend, t)),
        outs.map((t) => offsetOf(backend, t)),
        n,
      );
      return outs;
    });
  };
}

let registered = false;
function ensureRegistered(): void {
  if (registered) return;
  const reg = (kernelName: string, kernelFunc: (args: KernelArgs) => TensorInfo | TensorInfo[]) => {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  };
  reg(POINT, pointKernel);
  reg(HVP, hvpKernel);
  reg(PANELS, panelsKernel);
  reg(
    MOMENTUM,
    elementwiseKernel(2, (k, [th, m, g, a, b, c], [th2, m2], n) => k.fns.ew_momentum(th, m, g, a, b, c, th2, m2, n)),
  );
  reg(
    ADJOINT,
    elementwiseKernel(2, (k, [zt, zm, a, b, c], [u, zm2], n) => k.fns.ew_adjoint(zt, zm, a, b, c, u, zm2, n)),
  );
  registered = true;
}

type RunKernel = (name: string, inputs: Record<string, Tensor>, attrs: Record<string, unknown>) => Tensor | Tensor[];
const runKernel: RunKernel = (name, inputs, attrs) => (tf.engine() as unknown as { runKernel: RunKernel }).runKernel(name, inputs, attrs);

function indexed(ts: Tensor[]): Record<string, Tensor> {
  const r: Record<string, Tensor> = {};
  ts.forEach((t, i) => (r[`i${i}`] = t));
  return r;
}

/** The forward and backward pass of the MLP at θ on a batch (x, y/N), or on x's sparse form (x not read: may be undefined). */
export function fusedPoint(theta: Tensor, x: Tensor | undefined, yN: Tensor, layout: FusedLayout, invN: number, sparse?: SparseBatch): FusedPoint {
  ensureRegistered();
  const L = layout.sizes.length - 1;
  const sp = sparseArgs(sparse);
  const r = runKernel(POINT, { theta, ...(x ? { x } : {}), yN, ...sp.inputs }, { sizes: layout.sizes, offsets: layout.offsets, invN, ...sp.attrs }) as Tensor[];
  const [grad, z, p, pN] = r;
  let i = 4;
  const take = (m: number) => r.slice(i, (i += m));
  const X = take(L - 1);
  const D = take(L - 1);
  const e = take(L - 1);
  const delta = take(L);
  return { grad, z, p, pN, X, D, e, delta };
}

/**
 * δ_2..δ_L of a point in the panels the HVP's products RX_{l−1}ᵀδ_l read (entry l−2), so that a
 * point's HVPs need not pack them each time (the RBP family's full-set point: 50–101 HVPs, each
 * packing three [10,000, 50 or 10] matrices).
 */
export function fusedPanels(pt: FusedPoint): Tensor[] {
  ensureRegistered();
  const ds = pt.delta.slice(1);
  return ds.length ? (runKernel(PANELS, indexed(ds), {}) as Tensor[]) : [];
}

/** H u for the batch loss at a point (u and the result packed like θ), with δ_l's panels from `fusedPanels` if given. */
export function fusedHvp(theta: Tensor, u: Tensor, x: Tensor | undefined, pt: FusedPoint, layout: FusedLayout, sparse?: SparseBatch, deltaPanels: Tensor[] = []): Tensor {
  ensureRegistered();
  const sp = sparseArgs(sparse);
  const inputs: Record<string, Tensor> = { theta, u, ...(x ? { x } : {}), p: pt.p, pN: pt.pN, ...sp.inputs };
  deltaPanels.forEach((t, i) => (inputs[`deltaP${i + 2}`] = t));
  pt.X.forEach((t, i) => (inputs[`X${i + 1}`] = t));
  pt.D.forEach((t, i) => (inputs[`D${i + 1}`] = t));
  pt.e.forEach((t, i) => (inputs[`e${i + 1}`] = t));
  pt.delta.forEach((t, i) => (inputs[`delta${i + 1}`] = t));
  return runKernel(HVP, inputs, { sizes: layout.sizes, offsets: layout.offsets, ...sp.attrs }) as Tensor;
}

/** Momentum SGD's update: m' = β m − (1 − β) g, θ' = θ + α m' (α, β, 1 − β per element). */
export function fusedMomentum(theta: Tensor, m: Tensor, g: Tensor, alpha: Tensor, beta: Tensor, oneMinusBeta: Tensor): [Tensor, Tensor] {
  ensureRegistered();
  return runKernel(MOMENTUM, indexed([theta, m, g, alpha, beta, oneMinusBeta]), {}) as [Tensor, Tensor];
}

/** The adjoint's elementwise part: s = α z_θ + z_m, returns u = (1 − β) s and β s. */
export function fusedAdjoint(zTheta: Tensor, zM: Tensor, alpha: Tensor, beta: Tensor, oneMinusBeta: Tensor): [Tensor, Tensor] {
  ensureRegistered();
  return runKernel(ADJOINT, indexed([zTheta, zM, alpha, beta, oneMinusBeta]), {}) as [Tensor, Tensor];
}
