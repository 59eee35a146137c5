/**
 * GRU graph neural network on a citation graph (the paper's CitationRunner, config/cora.yaml), the
 * same model as the PyTorch reference `GRUGNN`:
 *
 *   m_i = Σ_{j→i} h_j                                  (message passing: gather by src, sum by dst;
 *                                                       a repeated edge is a repeated message)
 *   or, with aggregate 'avg' (the authors' aggregate_type: avg), m_i = Σ_{j→i} h_j / (d_i + ε),
 *   d_i = messages into i, ε = float32 machine epsilon (0 for a node without messages);
 *   h'  = GRUCell(m, h), exactly torch.nn.GRUCell:
 *     r = σ(m W_ir + b_ir + h W_hr + b_hr),  z = σ(m W_iz + b_iz + h W_hz + b_hz),
 *     n = tanh(m W_in + b_in + r ⊙ (h W_hn + b_hn)),   h' = (1 − z) ⊙ n + z ⊙ h,
 *   L = mean cross-entropy of (h_T W_out + b_out) on the training nodes.
 *
 * State h is [N, D] (h_0 = PCA node features). Weights are stored as W_i = [W_ir | W_iz | W_in]
 * and W_h ([D, 3D], the transpose of torch's weight_ih / weight_hh, so that one matMul gives all
 * three gates), biases b_i, b_h [3D]; the output layer (W_out [D, C], b_out [C]) is `lossParams`.
 * Kaiming-normal weights (std √(2/fan_in), fan_in = D), zero biases, as in the reference.
 */
import { tf, Tensor, isTaped } from '../../core/tf';
import { sigmoid, softmaxCrossEntropy } from '../../core/activations';
import { genericLinearization } from '../../core/system';
import type { DynamicSystem, Linearization, RecordedStep, StepPhase } from '../../core/system';
import type { State } from '../../core/state';
import { share } from '../../core/state';
import { Rng } from '../../core/random';
import { registerGraphKernels, registerFusedKernels, csrGraph, csrRowSum } from '../../core/kernels';
import type { CsrGraph } from '../../core/kernels';
import { gruKernelsAvailable, gruPoint, gruPointFrom, gruStep, gruStepRecorded, gruVjp } from './fused';
import type { GruPoint, GruRecord } from './fused';

export interface GnnGraph {
  numNodes: number;
  /** Directed edges j → i: message from src[e] to dst[e]. */
  src: Int32Array;
  dst: Int32Array;
  /** Node states h_0, row-major numNodes × dim. */
  features: Float32Array;
  dim: number;
  /** Class of each node (-1: none). */
  labels: Int32Array;
  numClasses: number;
  /** Nodes the loss is taken over (the training split). */
  lossNodes: Int32Array;
}

export interface GnnOptions {
  seed: number;
  /** Use the analytic linearisation of the GRU step (fast path); false forces generic autodiff. */
  analytic: boolean;
  /**
   * Use the fused fast path (default): message passing through the CSR kernel, and the GRU step
   * and its linearisation on per-gate weight blocks [D, D] (no column slices, no [N, 3D]
   * concatenations; blocks cached per weight value). false: the reference ops (gather +
   * unsortedSegmentSum, one [N, 3D] matMul per input, slices) that the fused path is tested against.
   */
  fused?: boolean;
  /**
   * On the fused path, run the GRU step, its linearisation and its VJPs as single wasm kernels
   * (./fused.ts) where they load (default); false keeps the per-gate op path, the reference the
   * tests hold the kernels to. Under autodiff the op path runs either way.
   */
  kernels?: boolean;
  /** Message aggregation: 'sum' (default, the authors' configs) or 'avg' (divided by the in-degree). */
  aggregate?: 'sum' | 'avg';
}

export const GNN_DEFAULTS: GnnOptions = { seed: 1234, analytic: true, fused: true, aggregate: 'sum' };

/** The authors' ε in the 'avg' aggregation (numpy's float32 machine epsilon, model/gnn.py). */
const AVG_EPS = 2 ** -23;

/** Per-gate blocks of the GRU weights (index 0, 1, 2 = r, z, n), their transposes. */
interface GateBlocks {
  Wi: Tensor[];
  Wh: Tensor[];
  bi: Tensor[];
  bh: Tensor[];
  WiT: Tensor[];
  WhT: Tensor[];
}

export class GruGnnSystem implements DynamicSystem {
  readonly name = 'gru-gnn';
  readonly N: number;
  readonly D: number;
  readonly C: number;
  /** [W_i [D,3D], W_h [D,3D], b_i [3D], b_h [3D]] */
  readonly params: tf.Variable[];
  /** [W_out [D,C], b_out [C]] */
  readonly lossParams: tf.Variable[];
  private readonly src: tf.Tensor1D;
  private readonly dst: tf.Tensor1D;
  private readonly h0: Tensor;
  private readonly lossIdx: tf.Tensor1D;
  private readonly lossLabels: tf.Tensor1D;
  /** Accuracy on the loss (training) nodes of the last `loss` evaluation, as a side product. */
  lastLossAccuracy = NaN;
  /** The graph in CSR form (both directions) for the fused message-passing kernel. */
  readonly csr: CsrGraph;
  readonly fused: boolean;
  private blockCache: { ids: object[]; blocks: GateBlocks } | undefined;
  /** 1 [N, 1] */
  private readonly onesCol: Tensor;
  /** 'avg': 1 / (d_i + ε) per node [N, 1]; 'sum': undefined. */
  private readonly avgScale: Tensor | undefined;
  /** 'avg': avgScale expanded to [N, D] for the fused kernels (made on first use). */
  private avgScaleFull: Tensor | undefined;

  constructor(
    readonly graph: GnnGraph,
    readonly opts: GnnOptions = GNN_DEFAULTS,
  ) {
    registerGraphKernels();
    registerFusedKernels();
    const { numNodes: N, dim: D, numClasses: C } = graph;
    if (graph.features.length !== N * D) throw new Error(`gnn: features hold ${graph.features.length} values, expected ${N}×${D}`);
    if (graph.src.length !== graph.dst.length) throw new Error('gnn: src and dst differ in length');
    for (const i of graph.lossNodes) if (!(graph.labels[i] >= 0 && graph.labels[i] < C)) throw new Error(`gnn: training node ${i} has no valid label`);
    this.N = N;
    this.D = D;
    this.C = C;
    const rng = new Rng(opts.seed);
    const kaiming = (fanIn: number, rows: number, cols: number) => tf.tensor2d(rng.normalArray(rows * cols, Math.sqrt(2 / fanIn)), [rows, cols]);
    this.params = [kaiming(D, D, 3 * D), kaiming(D, D, 3 * D), tf.zeros([3 * D]), tf.zeros([3 * D])].map((t) => ownedVariable(t));
    this.lossParams = [kaiming(D, D, C), tf.zeros([C])].map((t) => ownedVariable(t));
    this.src = tf.tensor1d(graph.src, 'int32');
    this.dst = tf.tensor1d(graph.dst, 'int32');
    this.h0 = tf.tensor2d(graph.features, [N, D]);
    this.lossIdx = tf.tensor1d(graph.lossNodes, 'int32');
    this.lossLabels = tf.tensor1d(Int32Array.from(graph.lossNodes, (i) => graph.labels[i]), 'int32');
    this.csr = csrGraph(graph.src, graph.dst, N);
    this.fused = opts.fused ?? true;
    this.onesCol = tf.ones([N, 1]);
    if ((opts.aggregate ?? 'sum') === 'avg') {
      const inDegree = new Float32Array(N);
      for (const d of graph.dst) inDegree[d]++;
      this.avgScale = tf.tensor2d(Float32Array.from(inDegree, (d) => 1 / Math.fround(d + AVG_EPS)), [N, 1]);
    } else if ((opts.aggregate ?? 'sum') !== 'sum') {
      throw new Error(`gnn: unknown aggregation '${String(opts.aggregate)}' (sum or avg)`);
    }
  }

  /**
   * The aggregated messages m = S A x, with (A x)_i = Σ_{j→i} x_j and S = I ('sum') or
   * diag(1 / (d_i + ε)) ('avg'): the CSR kernel on the fused path, else the reference ops.
   */
  propagate(x: Tensor): Tensor {
    return this.fused ? tf.tidy(() => this.scaled(csrRowSum(x, this.csr))) : this.propagateReference(x);
  }

  /** Its transpose, Aᵀ S y: (Aᵀ y)_j = Σ_{j→i} y_i. */
  propagateT(y: Tensor): Tensor {
    return this.fused ? tf.tidy(() => csrRowSum(this.scaled(y), this.csr, true)) : this.propagateTReference(y);
  }

  /** Reference message passing: gather by src, segment sum by dst (then S). */
  propagateReference(x: Tensor): Tensor {
    return tf.tidy(() => this.scaled(tf.unsortedSegmentSum(tf.gather(x, this.src), this.dst, this.N)));
  }

  propagateTReference(y: Tensor): Tensor {
    return tf.tidy(() => tf.unsortedSegmentSum(tf.gather(this.scaled(y), this.dst), this.src, this.N));
  }

  /** Whether this call runs on the fused kernels (./fused.ts): fused path, kernels on, wasm, not under autodiff. */
  private useKernels(): boolean {
    return this.fused && this.opts.kernels !== false && !isTaped() && gruKernelsAvailable();
  }

  /** The fused kernels' 'avg' scale [N, D] (undefined for 'sum'). */
  private kernelScale(): Tensor | undefined {
    if (this.avgScale && !this.avgScaleFull) this.avgScaleFull = tf.keep(tf.tidy(() => tf.tile(this.avgScale!, [1, this.D])));
    return this.avgScaleFull;
  }

  /** S x: rows divided by their in-degree (+ ε) for 'avg', x itself for 'sum'. */
  private scaled(x: Tensor): Tensor {
    return this.avgScale ? tf.mul(x, this.avgScale) : x;
  }

  /**
   * The per-gate blocks of w. For the system's own weights outside autodiff they are cached per
   * value (a variable's assign gives it a new dataId), so that they stay resident (and the wasm
   * backend keeps its packed GEMM weights); otherwise they are sliced from w in the caller's scope,
   * so that autodiff sees them.
   */
  private gateBlocks(w: Tensor[]): GateBlocks {
    const D = this.D;
    const build = (): GateBlocks => {
      const cols = (W: Tensor) => [0, 1, 2].map((g) => tf.slice(W, [0, g * D], [-1, D]));
      const parts = (b: Tensor) => [0, 1, 2].map((g) => tf.slice(b, [g * D], [D]));
      const Wi = cols(w[0]);
      const Wh = cols(w[1]);
      return { Wi, Wh, bi: parts(w[2]), bh: parts(w[3]), WiT: Wi.map((x) => tf.transpose(x)), WhT: Wh.map((x) => tf.transpose(x)) };
    };
    const own = w.length === 4 && w.every((x, i) => x === this.params[i]);
    if (!own || isTaped()) return build();
    const ids = this.params.map((v) => (v as unknown as { dataId: object }).dataId);
    if (!this.blockCache || this.blockCache.ids.some((id, i) => id !== ids[i])) {
      this.disposeBlocks();
      const blocks = tf.tidy(() => {
        const b = build();
        return { ...b } as unknown as tf.TensorContainer;
      }) as unknown as GateBlocks;
      for (const list of Object.values(blocks) as Tensor[][]) for (const t of list) tf.keep(t);
      this.blockCache = { ids, blocks };
    }
    return this.blockCache.blocks;
  }

  private disposeBlocks(): void {
    if (!this.blockCache) return;
    for (const list of Object.values(this.blockCache.blocks) as Tensor[][]) for (const t of list) t.dispose();
    this.blockCache = undefined;
  }

  initialState(): State {
    return [tf.clone(this.h0)];
  }

  /**
   * One GRU step, written with few ops for speed on wasm (measured there: a broadcast add costs ~5×
   * a same-shape one, tanh ~4× a sigmoid, transposed matMuls ~10× plain ones): the biases go into
   * fused matMuls, r and z come from one sigmoid over the [N, 3D] sum of both gate blocks, and
   * tanh(a) = 2σ(2a) − 1 through the second-order-correct `sigmoid`.
   */
  step(h: State, w: Tensor[], t: number, phase: StepPhase): State {
    return this.fused ? this.stepFused(h, w) : this.stepReference(h, w, t, phase);
  }

  /**
   * The fused step: the same arithmetic as `stepReference` on per-gate blocks (six [N, D]×[D, D]
   * GEMMs instead of two [N, D]×[D, 3D] ones plus four column slices, which cost ~1 ms each on
   * wasm) and the CSR message-passing kernel. Under autodiff it uses the second-order-correct
   * `sigmoid`; outside, tfjs's own (no saved input).
   */
  stepFused(h: State, w: Tensor[]): State {
    if (this.useKernels()) return [gruStep(h[0], w, this.csr, this.kernelScale())];
    return tf.tidy(() => {
      const x = h[0] as tf.Tensor2D;
      const sig = isTaped() ? sigmoid : tf.sigmoid;
      const B = this.gateBlocks(w);
      const m = this.propagate(x) as tf.Tensor2D;
      const mm = (a: tf.Tensor2D, W: Tensor, b: Tensor) => tf.fused.matMul({ a, b: W as tf.Tensor2D, bias: b });
      const r = sig(tf.add(mm(m, B.Wi[0], B.bi[0]), mm(x, B.Wh[0], B.bh[0])));
      const z = sig(tf.add(mm(m, B.Wi[1], B.bi[1]), mm(x, B.Wh[1], B.bh[1])));
      const an = tf.add(mm(m, B.Wi[2], B.bi[2]), tf.mul(r, mm(x, B.Wh[2], B.bh[2])));
      const q = sig(tf.add(an, an)); // tanh(a) = 2σ(2a) − 1, as tanhViaSigmoid (a + a = 2a exactly, cheaper than a broadcast ×2)
      const n = tf.sub(tf.add(q, q), 1);
      return [tf.add(n, tf.mul(z, tf.sub(x, n)))];
    });
  }

  /** The reference step (one [N, 3D] matMul per input, column slices, gather + segment sum). */
  stepReference(h: State, w: Tensor[], _t: number, _phase: StepPhase): State {
    return tf.tidy(() => {
      const x = h[0];
      const [Wi, Wh, bi, bh] = w;
      const D = this.D;
      const gi = tf.fused.matMul({ a: this.propagateReference(x) as tf.Tensor2D, b: Wi as tf.Tensor2D, bias: bi });
      const gh = tf.fused.matMul({ a: x as tf.Tensor2D, b: Wh as tf.Tensor2D, bias: bh });
      const s = sigmoid(tf.add(gi, gh));
      const r = tf.slice(s, [0, 0], [-1, D]);
      const z = tf.slice(s, [0, D], [-1, D]);
      const n = tanhViaSigmoid(tf.add(tf.slice(gi, [0, 2 * D], [-1, D]), tf.mul(r, tf.slice(gh, [0, 2 * D], [-1, D]))));
      return [tf.add(n, tf.mul(z, tf.sub(x, n)))];
    });
  }

  /** Logits of every node [N, C]. */
  logits(h: State, theta: Tensor[] = this.lossParams): Tensor {
    return tf.tidy(() => tf.add(tf.matMul(h[0], theta[0]), theta[1]));
  }

  loss(h: State, theta: Tensor[]): tf.Scalar {
    return tf.tidy(() => {
      const logits = tf.add(tf.matMul(tf.gather(h[0], this.lossIdx), theta[0]), theta[1]);
      this.lastLossAccuracy = accuracy(logits.dataSync() as Float32Array, this.C, this.lossLabels.dataSync() as Int32Array);
      return softmaxCrossEntropy(logits, this.lossLabels);
    });
  }

  /**
   * Analytic linearisation of the GRU step at (h, w). With the pre-activations a_r, a_z, a_n and
   * s_r = r(1 − r), s_z = z(1 − z), s_n = 1 − n², hn = h W_hn + b_hn, for an adjoint g:
   *   ḡ_n = g ⊙ (1 − z) ⊙ s_n,  ḡ_z = g ⊙ (h − n) ⊙ s_z,  ḡ_r = ḡ_n ⊙ hn ⊙ s_r,
   *   G_i = [ḡ_r | ḡ_z | ḡ_n],  G_h = [ḡ_r | ḡ_z | ḡ_n ⊙ r],
   *   Jᵀg = g ⊙ z + G_h W_hᵀ + Aᵀ (G_i W_iᵀ),
   *   ∂W_i = mᵀ G_i,  ∂W_h = hᵀ G_h,  ∂b_i = 1ᵀ G_i,  ∂b_h = 1ᵀ G_h;
   * and forward: J v = (1 − z) ⊙ s_n ⊙ (δa_n) + (h − n) ⊙ s_z ⊙ δa_z + z ⊙ v with
   *   δG_i = (A v) W_i, δG_h = v W_h, δa_r/z = δG_i + δG_h, δa_n = δG_i,n + s_r δa_r ⊙ hn + r ⊙ δG_h,n.
   * The multipliers of g are precomputed once per linearisation point.
   */
  linearize(h: State, w: Tensor[], t: number, phase: StepPhase): Linearization {
    if (!this.opts.analytic) return genericLinearization(this, h, w, t, phase);
    return this.fused ? this.linearizeFused(h, w) : this.linearizeReference(h, w);
  }

  /**
   * The analytic linearisation of `linearizeReference`, on per-gate blocks: with the adjoint
   * pieces a = g⊙c_rn, b = g⊙c_z, c = g⊙c_n, d = g⊙c_nr,
   *   Jᵀg = g⊙z + a W_hrᵀ + b W_hzᵀ + d W_hnᵀ + Aᵀ(a W_irᵀ + b W_izᵀ + c W_inᵀ),
   *   ∂W_i = mᵀ[a | b | c],  ∂W_h = hᵀ[a | b | d],  ∂b_i = 1ᵀ[a | b | c],  ∂b_h = 1ᵀ[a | b | d]:
   * [N, D]×[D, D] GEMMs and the CSR kernel, no [N, 3D] concatenations and no slices.
   */
  linearizeFused(h: State, w: Tensor[]): Linearization {
    if (this.useKernels()) return this.linearizeKernels(h, w);
    const B = this.gateBlocks(w);
    const own = B === this.blockCache?.blocks;
    const x = h[0] as tf.Tensor2D;
    const mm = (a: Tensor, W: Tensor, b?: Tensor) => tf.fused.matMul({ a: a as tf.Tensor2D, b: W as tf.Tensor2D, bias: b });
    const k = tf.tidy(() => {
      const m = this.propagate(x);
      const r = tf.sigmoid(tf.add(mm(m, B.Wi[0], B.bi[0]), mm(x, B.Wh[0], B.bh[0])));
      const z = tf.sigmoid(tf.add(mm(m, B.Wi[1], B.bi[1]), mm(x, B.Wh[1], B.bh[1])));
      const hn = mm(x, B.Wh[2], B.bh[2]);
      const an = tf.add(mm(m, B.Wi[2], B.bi[2]), tf.mul(r, hn));
      const q = tf.sigmoid(tf.add(an, an));
      const n = tf.sub(tf.add(q, q), 1);
      const sr = tf.mul(r, tf.sub(1, r));
      const cn = tf.mul(tf.sub(1, z), tf.sub(1, tf.square(n))); // ∂h'/∂a_n
      const cz = tf.mul(tf.sub(x, n), tf.mul(z, tf.sub(1, z))); // ∂h'/∂a_z
      const crn = tf.mul(tf.mul(cn, hn), sr); // ∂h'/∂a_r
      const cnr = tf.mul(cn, r); // ∂h'/∂(h W_hn + b_hn)
      return { r, z, hn, sr, cn, cz, crn, cnr, m, x: tf.clone(x) };
    });
    const pieces = (g: Tensor) => ({ a: tf.mul(g, k.crn), b: tf.mul(g, k.cz), c: tf.mul(g, k.cn), d: tf.mul(g, k.cnr) });
    type P = ReturnType<typeof pieces>;
    const vjpH = (g: Tensor, p: P) => {
      const fromH = tf.add(tf.add(tf.matMul(p.a, B.WhT[0]), tf.matMul(p.b, B.WhT[1])), tf.matMul(p.d, B.WhT[2]));
      const toM = tf.add(tf.add(tf.matMul(p.a, B.WiT[0]), tf.matMul(p.b, B.WiT[1])), tf.matMul(p.c, B.WiT[2]));
      return tf.add(tf.add(tf.mul(g, k.z), fromH), this.propagateT(toM));
    };
    // With Gᵀ [D, N] on the left, the right operands (m, h, a ones column) are the same tensors for
    // every adjoint, and wasm packs a GEMM's right operand once per tensor: mᵀG with a fresh G, or
    // tf.sum(G, 0), costs 1.5–15× as much.
    const vjpW = (p: P) => {
      const [aT, bT, cT, dT] = [p.a, p.b, p.c, p.d].map((g) => tf.transpose(g));
      const wGrad = (rhs: Tensor, G: Tensor[]) => tf.transpose(tf.concat(G.map((g) => tf.matMul(g, rhs)), 0));
      const colSum = (G: Tensor[]) => tf.reshape(tf.concat(G.map((g) => tf.matMul(g, this.onesCol)), 0), [3 * this.D]);
      return [wGrad(k.m, [aT, bT, cT]), wGrad(k.x, [aT, bT, dT]), colSum([aT, bT, cT]), colSum([aT, bT, dT])];
    };
    return {
      vjp: (g) => tf.tidy(() => [vjpH(g[0], pieces(g[0]))]),
      vjpParams: (g) => tf.tidy(() => vjpW(pieces(g[0]))),
      vjpBoth: (g) => {
        const out = tf.tidy(() => {
          const p = pieces(g[0]);
          return [vjpH(g[0], p), ...vjpW(p)];
        });
        return { h: [out[0]], w: out.slice(1) };
      },
      jvp: (v) => tf.tidy(() => [this.gruJvp(v[0], B, k)]),
      dispose: () => {
        for (const t of Object.values(k)) t.dispose();
        if (!own) for (const list of Object.values(B) as Tensor[][]) for (const t of list) t.dispose();
      },
    };
  }

  /**
   * `linearizeFused` on the fused kernels: the point's values from one kernel, each VJP (state,
   * weights or both) one kernel; the JVP (CG-RBP) on the per-gate ops. The state and weights are
   * held as handles on their data (`share`: no copy; a variable assigned later keeps its old
   * values here, as the op path's blocks do).
   */
  linearizeKernels(h: State, w: Tensor[]): Linearization {
    const x = share(h[0]);
    const wk = w.map(share);
    return this.kernelLinearization(x, wk, gruPoint(x, wk, this.csr, this.kernelScale()), w);
  }

  /**
   * On the fused kernels (BPTT, TBPTT through the solver's `record`): the step and the values of
   * the linearisation at its input from one pass, so that back-propagation does not evaluate the
   * step again (r, z, hn, σ(2a_n) and m are kept until then: 5 [N, D] tensors per recorded step;
   * the step's input h and the weights are held as handles on their data, `share`, not copies).
   * Undefined off the kernel path or with the generic linearisation.
   */
  stepRecorded(h: State, w: Tensor[]): RecordedStep | undefined {
    if (!this.opts.analytic || !this.useKernels()) return undefined;
    const x = share(h[0]);
    const wk = w.map(share);
    const { next, rec } = gruStepRecorded(x, wk, this.csr, this.kernelScale());
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      for (const t of [...Object.values(rec), x, ...wk]) t.dispose();
    };
    return {
      next: [next],
      linearize: () => {
        if (!held) throw new Error('gnn: a recorded step was linearised twice or after its release');
        held = false;
        return this.kernelLinearization(x, wk, rec, w);
      },
      dispose: release,
    };
  }

  /**
   * J v of the GRU step at a linearisation point: the message and state directions through each
   * gate's pre-activation (a_r, a_z, a_n), then through ∂h'/∂a_n, ∂h'/∂a_z and z (both paths).
   */
  private gruJvp(v: Tensor, B: GateBlocks, k: Pick<GruPoint, 'sr' | 'hn' | 'r' | 'cn' | 'cz' | 'z'>): Tensor {
    const mm = (a: Tensor, W: Tensor) => tf.matMul(a, W);
    const dm = this.propagate(v);
    const dar = tf.add(mm(dm, B.Wi[0]), mm(v, B.Wh[0]));
    const daz = tf.add(mm(dm, B.Wi[1]), mm(v, B.Wh[1]));
    const dan = tf.add(tf.add(mm(dm, B.Wi[2]), tf.mul(tf.mul(k.sr, dar), k.hn)), tf.mul(k.r, mm(v, B.Wh[2])));
    return tf.add(tf.add(tf.mul(k.cn, dan), tf.mul(k.cz, daz)), tf.mul(k.z, v));
  }

  /**
   * The linearisation at x on the kernels, owning x, the weight clones wk and the point, or the
   * record of the step at x: its VJPs make the multipliers on the fly, and the point is made from
   * it only for a J v (CG-RBP; BPTT takes one VJP per recorded step).
   */
  private kernelLinearization(x: Tensor, wk: Tensor[], from: GruPoint | GruRecord, w: Tensor[]): Linearization {
    const scale = this.kernelScale();
    const rec = 'q' in from ? from : undefined;
    let k = rec ? undefined : (from as GruPoint);
    // kept: a J v may be called inside the caller's tidy, and the point serves every later call
    const point = () => (k ??= keepAll(gruPointFrom(rec!, x)));
    const vjp = (g: Tensor, want: { h: boolean; w: boolean }) => gruVjp(g, x, k ?? from, wk, this.csr, scale, want);
    return {
      vjp: (g) => vjp(g[0], { h: true, w: false }),
      vjpParams: (g) => vjp(g[0], { h: false, w: true }),
      vjpBoth: (g) => {
        const out = vjp(g[0], { h: true, w: true });
        return { h: [out[0]], w: out.slice(1) };
      },
      jvp: (v) =>
        tf.tidy(() => {
          // the cached blocks of the system's own weights while they hold the same values, else blocks of the clones
          const own = w.length === 4 && w.every((t, i) => t === this.params[i] && dataIdOf(t) === dataIdOf(wk[i]));
          const B = this.gateBlocks(own ? w : wk);
          return [this.gruJvp(v[0], B, point())];
        }),
      dispose: () => {
        // the point made from a record shares r, z, hn, m with it
        for (const t of new Set([...Object.values(from), ...(k ? Object.values(k) : []), x, ...wk])) t.dispose();
      },
    };
  }

  /** The analytic linearisation on the reference ops (see `linearize`). */
  linearizeReference(h: State, w: Tensor[]): Linearization {
    const D = this.D;
    const [Wi, Wh] = w;
    const k = tf.tidy(() => {
      const x = h[0];
      const m = this.propagateReference(x);
      const gi = tf.fused.matMul({ a: m as tf.Tensor2D, b: Wi as tf.Tensor2D, bias: w[2] });
      const gh = tf.fused.matMul({ a: x as tf.Tensor2D, b: Wh as tf.Tensor2D, bias: w[3] });
      const s = tf.sigmoid(tf.add(gi, gh));
      const r = tf.slice(s, [0, 0], [-1, D]);
      const z = tf.slice(s, [0, D], [-1, D]);
      const hn = tf.slice(gh, [0, 2 * D], [-1, D]);
      const n = tf.tanh(tf.add(tf.slice(gi, [0, 2 * D], [-1, D]), tf.mul(r, hn)));
      const sr = tf.mul(r, tf.sub(1, r));
      const cn = tf.mul(tf.sub(1, z), tf.sub(1, tf.square(n))); // ∂h'/∂a_n
      const cz = tf.mul(tf.sub(x, n), tf.mul(z, tf.sub(1, z))); // ∂h'/∂a_z
      const crn = tf.mul(tf.mul(cn, hn), sr); // ∂h'/∂a_r
      const cnr = tf.mul(cn, r); // ∂h'/∂(h W_hn + b_hn)
      // Transposes made once here: a transposed matMul is ~10× slower than a plain one on wasm.
      return { r, z, hn, sr, cn, cz, crn, cnr, mT: tf.transpose(m), xT: tf.transpose(x), WiT: tf.transpose(Wi), WhT: tf.transpose(Wh) };
    });
    const G = (g: Tensor) => {
      const a = tf.mul(g, k.crn);
      const b = tf.mul(g, k.cz);
      return { Gi: tf.concat([a, b, tf.mul(g, k.cn)], 1), Gh: tf.concat([a, b, tf.mul(g, k.cnr)], 1) };
    };
    const vjpH = (g: Tensor, Gi: Tensor, Gh: Tensor) => tf.add(tf.add(tf.mul(g, k.z), tf.matMul(Gh, k.WhT)), this.propagateTReference(tf.matMul(Gi, k.WiT)));
    const vjpW = (Gi: Tensor, Gh: Tensor) => [tf.matMul(k.mT, Gi), tf.matMul(k.xT, Gh), tf.sum(Gi, 0), tf.sum(Gh, 0)];
    return {
      vjp: (z) =>
        tf.tidy(() => {
          const { Gi, Gh } = G(z[0]);
          return [vjpH(z[0], Gi, Gh)];
        }),
      vjpParams: (z) =>
        tf.tidy(() => {
          const { Gi, Gh } = G(z[0]);
          return vjpW(Gi, Gh);
        }),
      vjpBoth: (z) => {
        const out = tf.tidy(() => {
          const { Gi, Gh } = G(z[0]);
          return [vjpH(z[0], Gi, Gh), ...vjpW(Gi, Gh)];
        });
        return { h: [out[0]], w: out.slice(1) };
      },
      jvp: (v) =>
        tf.tidy(() => {
          const dgi = tf.matMul(this.propagateReference(v[0]), Wi);
          const dgh = tf.matMul(v[0], Wh);
          const da = tf.add(dgi, dgh);
          const dar = tf.slice(da, [0, 0], [-1, D]);
          const daz = tf.slice(da, [0, D], [-1, D]);
          const dan = tf.add(tf.add(tf.slice(dgi, [0, 2 * D], [-1, D]), tf.mul(tf.mul(k.sr, dar), k.hn)), tf.mul(k.r, tf.slice(dgh, [0, 2 * D], [-1, D])));
          return [tf.add(tf.add(tf.mul(k.cn, dan), tf.mul(k.cz, daz)), tf.mul(k.z, v[0]))];
        }),
      dispose: () => {
        for (const t of Object.values(k)) t.dispose();
      },
    };
  }

  dispose(): void {
    this.disposeBlocks();
    for (const t of [...this.params, ...this.lossParams, this.onesCol, this.src, this.dst, this.h0, this.lossIdx, this.lossLabels]) t.dispose();
    this.avgScale?.dispose();
    this.avgScaleFull?.dispose();
  }
}

/** tanh(a) = 2σ(2a) − 1 (one wasm sigmoid is ~4× cheaper than its tanh; second order correct). */
export function tanhViaSigmoid(a: Tensor): Tensor {
  return tf.tidy(() => tf.sub(tf.mul(sigmoid(tf.mul(a, 2)), 2), 1));
}

/** Fraction of rows whose argmax equals the label (rows with label < 0 are skipped). */
export function accuracy(logits: Float32Array, C: number, labels: ArrayLike<number>, rows?: ArrayLike<number>): number {
  const idx = rows ?? Array.from({ length: labels.length }, (_, i) => i);
  let ok = 0;
  let n = 0;
  for (let k = 0; k < idx.length; k++) {
    const row = rows ? idx[k] : k;
    const y = labels[rows ? idx[k] : k];
    if (y < 0) continue;
    let best = 0;
    for (let c = 1; c < C; c++) if (logits[row * C + c] > logits[row * C + best]) best = c;
    if (best === y) ok++;
    n++;
  }
  return n > 0 ? ok / n : NaN;
}

function keepAll<T extends object>(o: T): T {
  for (const t of Object.values(o) as Tensor[]) tf.keep(t);
  return o;
}

function dataIdOf(t: Tensor): object {
  return (t as unknown as { dataId: object }).dataId;
}

/** A trainable variable that takes over `t` (the initial tensor is released, not left live). */
function ownedVariable(t: tf.Tensor): tf.Variable {
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}
