/**
 * GRU graph neural network on a citation graph (the paper's CitationRunner, config/cora.yaml), the
 * same model as the PyTorch reference `GRUGNN`:
 *
 *   m_i = Σ_{j→i} h_j                                  (message passing: gather by src, sum by dst)
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
import { tf, Tensor } from '../../core/tf';
import { sigmoid, softmaxCrossEntropy } from '../../core/activations';
import { genericLinearization } from '../../core/system';
import type { DynamicSystem, Linearization, StepPhase } from '../../core/system';
import type { State } from '../../core/state';
import { Rng } from '../../core/random';
import { registerGraphKernels } from '../../core/kernels';

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
}

export const GNN_DEFAULTS: GnnOptions = { seed: 1234, analytic: true };

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

  constructor(
    readonly graph: GnnGraph,
    readonly opts: GnnOptions = GNN_DEFAULTS,
  ) {
    registerGraphKernels();
    const { numNodes: N, dim: D, numClasses: C } = graph;
    if (graph.features.length !== N * D) throw new Error(`gnn: features hold ${graph.features.length} values, expected ${N}×${D}`);
    if (graph.src.length !== graph.dst.length) throw new Error('gnn: src and dst differ in length');
    for (const i of graph.lossNodes) if (!(graph.labels[i] >= 0 && graph.labels[i] < C)) throw new Error(`gnn: training node ${i} has no valid label`);
    this.N = N;
    this.D = D;
    this.C = C;
    const rng = new Rng(opts.seed);
    const kaiming = (fanIn: number, rows: number, cols: number) => tf.tensor2d(rng.normalArray(rows * cols, Math.sqrt(2 / fanIn)), [rows, cols]);
    this.params = [kaiming(D, D, 3 * D), kaiming(D, D, 3 * D), tf.zeros([3 * D]), tf.zeros([3 * D])].map((t) => tf.variable(t, true));
    this.lossParams = [kaiming(D, D, C), tf.zeros([C])].map((t) => tf.variable(t, true));
    this.src = tf.tensor1d(graph.src, 'int32');
    this.dst = tf.tensor1d(graph.dst, 'int32');
    this.h0 = tf.tensor2d(graph.features, [N, D]);
    this.lossIdx = tf.tensor1d(graph.lossNodes, 'int32');
    this.lossLabels = tf.tensor1d(Int32Array.from(graph.lossNodes, (i) => graph.labels[i]), 'int32');
  }

  /** (A x)_i = Σ_{j→i} x_j */
  propagate(x: Tensor): Tensor {
    return tf.unsortedSegmentSum(tf.gather(x, this.src), this.dst, this.N);
  }

  /** (Aᵀ y)_j = Σ_{j→i} y_i */
  propagateT(y: Tensor): Tensor {
    return tf.unsortedSegmentSum(tf.gather(y, this.dst), this.src, this.N);
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
  step(h: State, w: Tensor[], _t: number, _phase: StepPhase): State {
    return tf.tidy(() => {
      const x = h[0];
      const [Wi, Wh, bi, bh] = w;
      const D = this.D;
      const gi = tf.fused.matMul({ a: this.propagate(x) as tf.Tensor2D, b: Wi as tf.Tensor2D, bias: bi });
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
    const D = this.D;
    const [Wi, Wh] = w;
    const k = tf.tidy(() => {
      const x = h[0];
      const m = this.propagate(x);
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
    const vjpH = (g: Tensor, Gi: Tensor, Gh: Tensor) => tf.add(tf.add(tf.mul(g, k.z), tf.matMul(Gh, k.WhT)), this.propagateT(tf.matMul(Gi, k.WiT)));
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
          const dgi = tf.matMul(this.propagate(v[0]), Wi);
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
    for (const t of [...this.params, ...this.lossParams, this.src, this.dst, this.h0, this.lossIdx, this.lossLabels]) t.dispose();
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
