/**
 * Hyperparameter optimisation by differentiating through training (config/hypergrad.yaml, the
 * paper's §4.3 after Maclaurin et al.). The dynamic system is T steps of momentum SGD on a tanh MLP:
 *   m' = β ⊙ m − (1 − β) ⊙ ∇L_batch(t)(θ),   θ' = θ + α ⊙ m',
 * with one learning rate α_i = exp(a_i) and one momentum β_i = σ(b_i) per parameter tensor θ_i
 * (a, b ∈ ℝ⁸ are the system's `params`). State h = (Θ, M): θ₁..θ₈ and m₁..m₈ each packed into one
 * vector (`Layout`; two state tensors keep the per-step residual and norm cheap). Meta-loss: the training
 * cross-entropy of θ_T on the full training set. Any outer VJP of a step is a Hessian-vector
 * product of the inner loss, so everything differentiable here uses `core/activations`.
 */
import { tf, Tensor, gradientDepth, isTaped } from '../../core/tf';
import { exp, sigmoid, softmaxCrossEntropy } from '../../core/activations';
import { gradsOf, genericLinearization } from '../../core/system';
import type { DynamicSystem, Linearization, StepPhase } from '../../core/system';
import type { State } from '../../core/state';
import { Rng } from '../../core/random';
import { BatchSchedule, Dataset } from './data';
import { BlockSpec, blocks, packLayers, segmentDot } from './kernels';
import { FusedLayout, FusedPoint, fusedAdjoint, fusedAvailable, fusedHvp, fusedMomentum, fusedPoint } from './fused';

export type LastStep = 'full' | 'minibatch';

export interface HypergradOptions {
  /** Layer sizes, input first (784-50-50-50-10). */
  sizes: number[];
  /** Inner minibatch size. */
  batchSize: number;
  /** Initial log learning rate and momentum logit (same for every tensor). */
  lr0: number;
  mom0: number;
  seed: number;
  /** Data for the step RBP-family methods linearise at (phase 'linearize'). */
  lastStep: LastStep;
  /** Scale of the N(0, 1) weight/bias init. */
  initScale: number;
  /**
   * Analytic linearisation (hand-written Hessian-vector products of the tanh MLP) and an untaped
   * forward step; false forces the generic autodiff path everywhere.
   */
  analytic: boolean;
  /** The fast path's JS kernels (`./kernels`) on cpu and wasm; false uses their op fallbacks. */
  jsKernels?: boolean;
  /**
   * The fast path's fused wasm kernels (`./fused`: one kernel per MLP pass, HVP and update) where
   * the wasm kernels load; false keeps the op path (with or without `jsKernels`).
   */
  fusedKernels?: boolean;
}

export const HYPERGRAD_DEFAULTS: HypergradOptions = {
  sizes: [784, 50, 50, 50, 10],
  batchSize: 200,
  lr0: -1,
  mom0: 0,
  seed: 1234,
  lastStep: 'full',
  initScale: Math.exp(-3),
  analytic: true,
};

export interface Batch {
  x: Tensor;
  /**
   * For the op path, made on its first use: [xᵀ; 1ᵀ] [d + 1, N] (the first layer's weight and bias
   * gradients as one product, without a transposed matMul) and a [1, N] row of ones (X̃ᵀ of the
   * hidden layers). The fused kernels read x transposed in place and need neither.
   */
  op?: { xaT: Tensor; ones: Tensor };
  /** 1 / N as a scalar tensor. */
  invN: Tensor;
  /** One-hot targets [N, C]. */
  y: Tensor;
  /** y / N (the fast path's δ_L = p/N − y/N). */
  yN: Tensor;
  n: number;
}

/**
 * Where each parameter tensor θ_i lives in the packed vector Θ = (vec W₁, b₁, ..., vec W_L, b_L)
 * (row-major; the state is h = (Θ, M), M the momenta, packed the same way).
 */
export interface Layout extends FusedLayout {
  /** Shape of θ_i: [in, out] for a weight, [out] for a bias. */
  shapes: number[][];
  /** Start of θ_i in Θ; offsets[P] = N. */
  offsets: number[];
  N: number;
  /** Number of layers (P = 2L tensors). */
  L: number;
}

export function makeLayout(sizes: number[]): Layout {
  const shapes: number[][] = [];
  for (let l = 0; l + 1 < sizes.length; l++) shapes.push([sizes[l], sizes[l + 1]], [sizes[l + 1]]);
  const offsets = [0];
  for (const sh of shapes) offsets.push(offsets[offsets.length - 1] + sh.reduce((a, b) => a * b, 1));
  return { sizes, shapes, offsets, N: offsets[shapes.length], L: shapes.length / 2 };
}

/** The parameter tensors θ_i of a packed vector, by slices (differentiable to any order). */
export function unpackTheta(flat: Tensor, layout: Layout): Tensor[] {
  return layout.shapes.map((sh, i) => tf.reshape(tf.slice(flat, layout.offsets[i], layout.offsets[i + 1] - layout.offsets[i]), sh));
}

/** Pack tensors θ_i into one vector (differentiable). */
export function packTheta(xs: Tensor[]): Tensor {
  return tf.concat(xs.map((x) => tf.reshape(x, [-1])));
}

/** α = exp(a), β = σ(b) as numbers, from the hyperparameter tensors w = (a, b). */
function hyper(w: Tensor[]): { alpha: number[]; beta: number[] } {
  return { alpha: Array.from(w[0].dataSync(), Math.exp), beta: Array.from(w[1].dataSync(), (v) => 1 / (1 + Math.exp(-v))) };
}

/**
 * tanh(x) = 2σ(2x) − 1 through the safe σ of `core/activations` (correct to any order); on wasm
 * 4x faster than tfjs's tanh kernel (5 ms vs 21 ms for 10,000 × 50).
 */
export function tanhFast(x: Tensor): Tensor {
  return tf.sub(tf.mul(sigmoid(tf.mul(x, 2)), 2), 1);
}

/**
 * a b with a gradient that uses explicit transposes (dA = dY Bᵀ, dB = Aᵀ dY), each again through
 * `mm`, so derivatives of every order stay right and fast.
 */
export const mm = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
  const a = args[0] as Tensor;
  const b = args[1] as Tensor;
  (args[2] as tf.GradSaveFunc)([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: Tensor, saved: Tensor[]) => [mm(dy, tf.transpose(saved[1])), mm(tf.transpose(saved[0]), dy)],
  };
}) as (a: Tensor, b: Tensor) => Tensor;

/** The op path's [Xᵀ; 1ᵀ] and row of ones of a batch, made once (outside any tidy scope). */
function opExtras(batch: Batch): { xaT: Tensor; ones: Tensor } {
  if (!batch.op) {
    const n = batch.n;
    batch.op = {
      xaT: tf.keep(tf.tidy(() => tf.concat([tf.transpose(batch.x), tf.ones([1, n])], 0))),
      ones: tf.keep(tf.ones([1, n])),
    };
  }
  return batch.op;
}

/** X W for a constant data batch X, with dW = Xᵀ dY from the batch's stored [Xᵀ; 1ᵀ] (no transpose per call). */
function dataMatMul(batch: Batch, W: Tensor): Tensor {
  const f = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
    const w = args[0] as Tensor;
    return { value: tf.matMul(batch.x, w), gradFunc: (dy: Tensor) => tf.slice(mm(opExtras(batch).xaT, dy), [0, 0], [w.shape[0], -1]) };
  }) as (w: Tensor) => Tensor;
  return f(W);
}

/** The tanh MLP on θ = (W₁, b₁, ..., W_L, b_L): logits. Differentiable to any order. */
export function mlp(theta: Tensor[], batch: Batch): Tensor {
  const L = theta.length / 2;
  let a: Tensor = batch.x;
  for (let l = 0; l < L; l++) {
    a = tf.add(l === 0 ? dataMatMul(batch, theta[0]) : mm(a, theta[2 * l]), theta[2 * l + 1]);
    if (l < L - 1) a = tanhFast(a);
  }
  return a;
}

/** Shared by the fast-path pieces of one system. */
export interface FastContext {
  layout: Layout;
  /** Scalar constants 1 and 2 (kept; not re-uploaded per op). */
  one: Tensor;
  two: Tensor;
  /** Use the JS kernels of `./kernels` (else their op fallbacks). */
  jsKernels: boolean;
  /** Use the fused wasm kernels of `./fused` (else the op path). */
  fused: boolean;
}

/** One (θ, batch) of the MLP: the batch gradient, and Hessian-vector products at that point. */
export interface MlpPass {
  /** ∇L_batch(θ), packed like θ. */
  readonly grad: Tensor;
  /** L_batch(θ) (mean cross-entropy), when asked for. */
  readonly lossValue?: tf.Scalar;
  /** H u for the batch loss (u and the result packed like θ). */
  hvp(u: Tensor): Tensor;
  dispose(): void;
}

/** The forward and backward pass at (θ, batch): fused kernels where the context has them, else ops. */
export function mlpPass(theta: Tensor, batch: Batch, ctx: FastContext, withLoss = false): MlpPass {
  return ctx.fused ? new FusedMlpPoint(theta, batch, ctx, withLoss) : new MlpPoint(theta, batch, ctx, withLoss);
}

/** Mean cross-entropy Σ_i (lse(z_i) − z_i·y_i)/N from the logits, as the generic loss computes it. */
function meanCrossEntropy(z: Tensor, yN: Tensor): tf.Scalar {
  return tf.sum(tf.mul(yN, tf.sub(tf.logSumExp(z, -1, true), z))) as tf.Scalar;
}

/** `MlpPoint`'s formulas as the single kernels of `./fused` (θ's data is kept: the weights are views of it). */
export class FusedMlpPoint implements MlpPass {
  readonly grad: Tensor;
  readonly lossValue?: tf.Scalar;
  private readonly theta: Tensor;
  private readonly pt: FusedPoint;
  private readonly own: Tensor[];

  constructor(
    theta: Tensor,
    private readonly batch: Batch,
    private readonly ctx: FastContext,
    withLoss = false,
  ) {
    // Owned by this object (disposed by `dispose`), also when made inside a caller's tidy scope.
    const pt = fusedPoint(theta, batch.x, batch.yN, ctx.layout, 1 / batch.n);
    const made = [pt.grad, pt.z, pt.p, pt.pN, ...pt.X, ...pt.D, ...pt.e, ...pt.delta];
    let lossValue: tf.Scalar | undefined;
    try {
      lossValue = withLoss ? tf.tidy(() => meanCrossEntropy(pt.z, batch.yN)) : undefined;
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
    // A reshape to the same shape shares θ's data (a clone would copy it on wasm), so that the
    // point outlives the caller's θ without a copy per step.
    const th = tf.reshape(theta, theta.shape);
    const own = [th, ...made, lossValue].filter((t): t is Tensor => t !== undefined);
    for (const t of own) tf.keep(t);
    this.pt = pt;
    this.grad = pt.grad;
    this.lossValue = lossValue;
    this.theta = th;
    this.own = own;
  }

  hvp(u: Tensor): Tensor {
    return fusedHvp(this.theta, u, this.batch.x, this.pt, this.ctx.layout);
  }

  dispose(): void {
    for (const t of this.own) t.dispose();
    this.own.length = 0;
  }
}


/**
 * The MLP's forward and backward pass at one (θ, batch), kept for Hessian-vector products
 * (Pearlmutter's R-operator written out for tanh layers and softmax cross-entropy):
 *   A_l = X_{l−1}W_l + b_l,  X_l = tanh A_l,  D_l = 1 − X_l²,  p = softmax(A_L),
 *   δ_L = (p − y)/N,  ∇W_l = X_{l−1}ᵀδ_l,  ∇b_l = Σ_rows δ_l,  e_{l−1} = δ_l W_lᵀ,  δ_{l−1} = e_{l−1} ⊙ D_{l−1}.
 * H u (u = (U_W, U_b)): R-forward  RA_l = RX_{l−1}W_l + X_{l−1}U_{W_l} + U_{b_l},  RX_l = D_l ⊙ RA_l,
 *   Rδ_L = p ⊙ (RA_L − ⟨p, RA_L⟩)/N,  R∇W_l = RX_{l−1}ᵀδ_l + X_{l−1}ᵀRδ_l,  R∇b_l = Σ_rows Rδ_l,
 *   Rδ_{l−1} = (Rδ_l W_lᵀ + δ_l U_{W_l}ᵀ) ⊙ D_{l−1} − 2 e_{l−1} ⊙ X_{l−1} ⊙ RX_{l−1}.
 * The cost is the matMuls (~60% of BPTT on wasm: 4 of 200×784×50 per step and ~25 small ones);
 * around them ops are kept few: θ's pieces come out of one copy kernel (2W_l, 2b_l from 2θ, for
 * tanh A = 2σ(2A) − 1 as one fused matMul + sigmoid; W_lᵀ), bias adds are fused into the matMuls,
 * a weight and its bias get their gradient from one product with X̃ᵀ = [Xᵀ; 1ᵀ], no transposed
 * matMul (6-10x slower on wasm: explicit transposes of the small activations instead), and the
 * per-layer gradients are packed by one kernel. Θ, the gradient and H u are packed vectors (see
 * `Layout`). On wasm `FusedMlpPoint` runs the same formulas as single kernels (the default).
 */
export class MlpPoint implements MlpPass {
  readonly L: number;
  /** X_l (X_0 = the batch, not owned), [X_lᵀ; 1ᵀ], D_l, δ_l, e_l, W_l, W_lᵀ; index l as in the formulas (unused slots empty). */
  private readonly X: Tensor[] = [];
  private readonly XaT: Tensor[] = [];
  private readonly D: Tensor[] = [];
  private readonly delta: Tensor[] = [];
  private readonly e: Tensor[] = [];
  private readonly W: Tensor[] = [];
  private readonly WT: Tensor[] = [];
  /** 2 e_l ⊙ X_l, made on the first `hvp`. */
  private E2X?: Tensor[];
  private readonly p: Tensor;
  private readonly pN: Tensor;
  /** ∇L_batch(θ), packed like θ. */
  readonly grad: Tensor;
  /** L_batch(θ) (mean cross-entropy), when asked for. */
  readonly lossValue?: tf.Scalar;
  private readonly own: Tensor[];

  constructor(
    theta: Tensor,
    batch: Batch,
    private readonly ctx: FastContext,
    withLoss = false,
  ) {
    const { layout, one, two } = ctx;
    const k = ctx.jsKernels;
    const L = (this.L = layout.L);
    const off = layout.offsets;
    const sh = layout.shapes;
    const { X, XaT, D, delta, e, W, WT } = this;
    const { xaT, ones } = opExtras(batch);
    const r = tf.tidy(() => {
      // From 2θ: 2W_l, 2b_l for the tanh layers (tanh A = 2σ(2A) − 1: σ fused into the matMul).
      const specs2: BlockSpec[] = [];
      for (let l = 1; l < L; l++) specs2.push({ offset: off[2 * l - 2], shape: sh[2 * l - 2] }, { offset: off[2 * l - 1], shape: sh[2 * l - 1] });
      const bl2 = L > 1 ? blocks(tf.mul(theta, two), specs2, k) : [];
      // From θ: W_L, b_L, W_l (2 ≤ l < L), W_lᵀ (l ≥ 2).
      const specs: BlockSpec[] = [{ offset: off[2 * L - 2], shape: sh[2 * L - 2] }, { offset: off[2 * L - 1], shape: sh[2 * L - 1] }];
      for (let l = 2; l < L; l++) specs.push({ offset: off[2 * l - 2], shape: sh[2 * l - 2] });
      for (let l = 2; l <= L; l++) specs.push({ offset: off[2 * l - 2], shape: sh[2 * l - 2], transpose: true });
      const bl = blocks(theta, specs, k);
      W[L] = bl[0];
      let j = 2;
      for (let l = 2; l < L; l++) W[l] = bl[j++];
      for (let l = 2; l <= L; l++) WT[l] = bl[j++];
      X[0] = batch.x;
      XaT[0] = xaT;
      for (let l = 1; l < L; l++) {
        const s = tf.fused.matMul({ a: X[l - 1], b: bl2[2 * l - 2], bias: bl2[2 * l - 1], activation: 'sigmoid' });
        const x = (X[l] = tf.sub(tf.mul(s, two), one));
        XaT[l] = tf.concat([tf.transpose(x), ones]);
        D[l] = tf.sub(one, tf.square(x));
      }
      const z = tf.fused.matMul({ a: X[L - 1], b: W[L], bias: bl[1] });
      const lossValue = withLoss ? meanCrossEntropy(z, batch.yN) : undefined;
      const p = tf.softmax(z);
      const pN = tf.mul(p, batch.invN);
      delta[L] = tf.sub(pN, batch.yN);
      const G: Tensor[] = [];
      for (let l = L; l >= 1; l--) {
        G[l - 1] = tf.matMul(XaT[l - 1], delta[l]);
        if (l > 1) {
          e[l - 1] = tf.matMul(delta[l], WT[l]);
          delta[l - 1] = tf.mul(e[l - 1], D[l - 1]);
        }
      }
      const grad = packLayers(G, [], k);
      const own = [...X.slice(1), ...XaT.slice(1), ...D, ...delta, ...e, ...W, ...WT, p, pN, grad, lossValue].filter((t): t is Tensor => t !== undefined);
      // Owned by this object (disposed by `dispose`), also when made inside a caller's tidy scope.
      for (const t of own) tf.keep(t);
      return { p, pN, grad, own, lossValue };
    });
    this.lossValue = r.lossValue;
    this.p = r.p;
    this.pN = r.pN;
    this.grad = r.grad;
    this.own = r.own;
  }

  /** H u for the batch loss (u and the result packed like θ). */
  hvp(u: Tensor): Tensor {
    const { L, X, XaT, D, delta, W, WT, p, pN, ctx } = this;
    const { layout, two } = ctx;
    const k = ctx.jsKernels;
    const off = layout.offsets;
    const sh = layout.shapes;
    if (!this.E2X) {
      const e = this.e;
      this.E2X = tf.tidy(() => X.map((x, l) => (l === 0 ? x : tf.keep(tf.mul(tf.mul(e[l], x), two)))));
      this.own.push(...this.E2X.slice(1));
    }
    const E2X = this.E2X;
    return tf.tidy(() => {
      const specs: BlockSpec[] = sh.map((shape, i) => ({ offset: off[i], shape }));
      for (let l = 2; l <= L; l++) specs.push({ offset: off[2 * l - 2], shape: sh[2 * l - 2], transpose: true });
      const U = blocks(u, specs, k);
      const UT = (l: number) => U[2 * L + l - 2];
      const RX: Tensor[] = [];
      const RXT: Tensor[] = [];
      let RZ: Tensor | undefined;
      for (let l = 1; l <= L; l++) {
        let ra = tf.fused.matMul({ a: X[l - 1], b: U[2 * l - 2], bias: U[2 * l - 1] });
        if (l > 1) ra = tf.add(ra, tf.matMul(RX[l - 1], W[l]));
        if (l < L) {
          RX[l] = tf.mul(D[l], ra);
          RXT[l] = tf.transpose(RX[l]);
        } else RZ = ra;
      }
      let rd = tf.mul(pN, tf.sub(RZ!, tf.sum(tf.mul(p, RZ!), -1, true)));
      const G: Tensor[] = [];
      const H: (Tensor | undefined)[] = [undefined];
      for (let l = L; l >= 1; l--) {
        G[l - 1] = tf.matMul(XaT[l - 1], rd);
        if (l > 1) {
          H[l - 1] = tf.matMul(RXT[l - 1], delta[l]);
          const re = tf.add(tf.matMul(rd, WT[l]), tf.matMul(delta[l], UT(l)));
          rd = tf.sub(tf.mul(re, D[l - 1]), tf.mul(E2X[l - 1], RX[l - 1]));
        }
      }
      return packLayers(G, H, k);
    });
  }

  dispose(): void {
    for (const t of this.own) t.dispose();
    this.own.length = 0;
  }
}

/** Per-element coefficient vectors of the packed update for one value of the hyperparameters. */
interface Coefs {
  keys: [object, object];
  /** Live linearisations using these; disposed when 0 and no longer cached. */
  users: number;
  stale: boolean;
  alpha: number[];
  beta: number[];
  /** α, β, 1 − β per element of Θ. */
  A: Tensor;
  B: Tensor;
  C: Tensor;
}

export class HypergradSystem implements DynamicSystem {
  readonly name = 'hypergrad';
  /** a: log learning rates [P]. */
  readonly logLr: tf.Variable;
  /** b: momentum logits [P]. */
  readonly logitMom: tf.Variable;
  readonly params: tf.Variable[];
  readonly lossParams: tf.Variable[] = [];
  /** Number of parameter tensors P (weights and biases). */
  readonly P: number;
  readonly layout: Layout;
  /** θ_0, packed. */
  readonly theta0: Tensor;
  readonly schedule: BatchSchedule;
  private readonly full: Batch;
  private readonly batches = new Map<number, Batch>();
  private readonly fast: FastContext;
  private coefCache?: Coefs;

  constructor(
    readonly opts: HypergradOptions,
    readonly data: Dataset,
  ) {
    const s = opts.sizes;
    if (s[0] !== data.d) throw new Error(`MLP input size ${s[0]} does not match the data (${data.d} features)`);
    if (s[s.length - 1] !== data.classes) throw new Error(`MLP output size ${s[s.length - 1]} does not match the ${data.classes} classes`);
    const rng = new Rng(opts.seed);
    this.layout = makeLayout(s);
    const th = new Float32Array(this.layout.N);
    // Same draws, in the same order, as one tensor per θ_i (W₁, b₁, W₂, ...).
    this.layout.shapes.forEach((sh, i) => th.set(rng.normalArray(sh.reduce((a, b) => a * b, 1), opts.initScale), this.layout.offsets[i]));
    this.theta0 = tf.tensor1d(th);
    this.P = this.layout.shapes.length;
    const lr0 = tf.fill([this.P], opts.lr0);
    const mom0 = tf.fill([this.P], opts.mom0);
    this.logLr = tf.variable(lr0);
    lr0.dispose();
    this.logitMom = tf.variable(mom0);
    mom0.dispose();
    this.params = [this.logLr, this.logitMom];
    this.schedule = new BatchSchedule(data.n, opts.batchSize, rng);
    const jsKernels = opts.jsKernels ?? true;
    const fused = jsKernels && (opts.fusedKernels ?? true) && fusedAvailable();
    this.fast = { layout: this.layout, one: tf.keep(tf.scalar(1)), two: tf.keep(tf.scalar(2)), jsKernels, fused };
    this.full = this.makeBatch(Int32Array.from({ length: data.n }, (_, i) => i));
  }

  private makeBatch(idx: Int32Array): Batch {
    const { d, classes } = this.data;
    const n = idx.length;
    const x = new Float32Array(n * d);
    const y = new Float32Array(n * classes);
    idx.forEach((r, i) => {
      const row = this.data.x.subarray(r * d, (r + 1) * d);
      x.set(row, i * d);
      y[i * classes + this.data.labels[r]] = 1;
    });
    // Cached across calls that may run inside a tidy scope: keep them out of it.
    const xt = tf.keep(tf.tensor2d(x, [n, d]));
    return {
      x: xt,
      invN: tf.keep(tf.scalar(1 / n)),
      y: tf.keep(tf.tensor2d(y, [n, classes])),
      yN: tf.keep(tf.tensor2d(y.map((v) => v / n), [n, classes])),
      n,
    };
  }

  /** The data step t trains on: its minibatch, or the full set for the RBP-family last step. */
  batchFor(t: number, phase: StepPhase): Batch {
    if (phase === 'linearize' && this.opts.lastStep === 'full') return this.full;
    let b = this.batches.get(t);
    if (!b) {
      b = this.makeBatch(this.schedule.indices(t));
      this.batches.set(t, b);
    }
    return b;
  }

  get fullBatch(): Batch {
    return this.full;
  }

  /** Bytes held by the cached data batches (minibatches and the full set). */
  get batchBytes(): number {
    let s = 0;
    for (const b of [this.full, ...this.batches.values()]) for (const t of batchTensors(b)) s += t.size * 4;
    return s;
  }

  /** The forward-pass tools (for tests). */
  get fastContext(): FastContext {
    return this.fast;
  }

  /** θ_i of a state's packed Θ (differentiable). */
  thetaOf(h: State): Tensor[] {
    return unpackTheta(h[0], this.layout);
  }

  /**
   * Forward passes of the MLP made by untaped steps, by the identity of the state's Θ tensor
   * (immutable tensors: same object, same values). An entry goes to the first `linearize` at the
   * same (Θ, batch), or is disposed once its Θ is (checked at every step).
   */
  private readonly points = new Map<Tensor, { batch: Batch; pt: MlpPass }>();

  /** The cached forward pass at (Θ, batch), removed from the cache (the caller owns it now). */
  private takePoint(theta: Tensor, batch: Batch): MlpPass | undefined {
    const e = this.points.get(theta);
    if (!e || e.batch !== batch) return undefined;
    this.points.delete(theta);
    return e.pt;
  }

  private cachePoint(theta: Tensor, batch: Batch, pt: MlpPass): void {
    if (theta instanceof tf.Variable) {
      pt.dispose(); // mutable: identity does not pin the values
      return;
    }
    this.points.get(theta)?.pt.dispose();
    this.points.set(theta, { batch, pt });
  }

  private sweepPoints(): void {
    for (const [k, e] of this.points) {
      if (k.isDisposed) {
        e.pt.dispose();
        this.points.delete(k);
      }
    }
  }

  /** Number of cached forward passes (for tests). */
  get cachedPoints(): number {
    return this.points.size;
  }

  initialState(): State {
    return [tf.clone(this.theta0), tf.zeros([this.layout.N])];
  }

  /** α = exp(a), β = σ(b) as numbers. */
  hyperparameters(): { alpha: number[]; beta: number[] } {
    return hyper(this.params);
  }

  /**
   * α, β and the per-element vectors for hyperparameter tensors w, cached by the identity of w's
   * data (a variable's `assign` gives it new data), so the unroll reads w back once, not per step.
   */
  private coefs(w: Tensor[]): Coefs {
    const keys: [object, object] = [w[0].dataId, w[1].dataId];
    const c = this.coefCache;
    if (c && c.keys[0] === keys[0] && c.keys[1] === keys[1]) return c;
    const { alpha, beta } = hyper(w);
    const { offsets, N } = this.layout;
    const mk = (f: (i: number) => number) => {
      const v = new Float32Array(N);
      for (let i = 0; i < this.P; i++) v.fill(f(i), offsets[i], offsets[i + 1]);
      return tf.keep(tf.tensor1d(v));
    };
    if (c) this.releaseCoefs(c, true);
    this.coefCache = { keys, alpha, beta, users: 0, stale: false, A: mk((i) => alpha[i]), B: mk((i) => beta[i]), C: mk((i) => 1 - beta[i]) };
    return this.coefCache;
  }

  private releaseCoefs(c: Coefs, evict: boolean): void {
    if (evict) c.stale = true;
    else c.users--;
    if (c.stale && c.users === 0) for (const t of [c.A, c.B, c.C]) t.dispose();
  }

  step(h: State, w: Tensor[], t: number, phase: StepPhase): State {
    const batch = this.batchFor(t, phase);
    if (this.opts.analytic && !isTaped()) {
      // Nothing differentiates through this call: the hand-written backward pass, no tape, and
      // α, β as constants. The pass is kept for `linearize` at the same (Θ, batch) (BPTT's backward
      // pass, the RBP family's last step), which then need not redo it.
      this.sweepPoints();
      const { A, B, C } = this.coefs(w);
      const pt = this.takePoint(h[0], batch) ?? mlpPass(h[0], batch, this.fast);
      const out = this.fast.fused
        ? fusedMomentum(h[0], h[1], pt.grad, A, B, C)
        : tf.tidy(() => {
            const m2 = tf.sub(tf.mul(h[1], B), tf.mul(pt.grad, C));
            return [tf.add(h[0], tf.mul(m2, A)), m2];
          });
      this.cachePoint(h[0], batch, pt);
      return out;
    }
    return tf.tidy(() => {
      const theta = this.thetaOf(h);
      const m = unpackTheta(h[1], this.layout);
      const g = gradsOf(() => this.batchLoss(theta, batch), theta).grads;
      const alpha = tf.unstack(exp(w[0]));
      const beta = tf.unstack(sigmoid(w[1]));
      const m2 = m.map((mi, i) => tf.sub(tf.mul(beta[i], mi), tf.mul(tf.sub(1, beta[i]), g[i])));
      const th2 = theta.map((ti, i) => tf.add(ti, tf.mul(alpha[i], m2[i])));
      return [packTheta(th2), packTheta(m2)];
    });
  }

  /** Mean cross-entropy of the MLP θ (one tensor per θ_i) on a batch (differentiable to any order). */
  batchLoss(theta: Tensor[], batch: Batch): tf.Scalar {
    return softmaxCrossEntropy(mlp(theta, batch), batch.y);
  }

  loss(h: State, _theta: Tensor[]): tf.Scalar {
    this.sweepPoints();
    // Differentiated once (lossGradients): value and gradient from one analytic pass.
    if (this.opts.analytic && gradientDepth() === 1) return this.lossAnalytic(h[0]);
    return tf.tidy(() => softmaxCrossEntropy(mlp(this.thetaOf(h), this.full), this.full.y));
  }

  /**
   * The meta-loss on the full set as one custom op: forward and ∇_Θ from `MlpPoint` (no tape over
   * the 10,000-row MLP). Its gradient is right to first order only (constant in Θ), hence only
   * used at gradient depth 1.
   */
  private lossAnalytic(theta: Tensor): tf.Scalar {
    const f = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
      const pt = mlpPass(args[0] as Tensor, this.full, this.fast, true);
      (args[1] as tf.GradSaveFunc)([pt.grad]);
      const value = tf.clone(pt.lossValue!);
      pt.dispose();
      return { value, gradFunc: (dy: Tensor, saved: Tensor[]) => [tf.mul(dy, saved[0])] };
    }) as (t: Tensor) => tf.Scalar;
    return f(theta);
  }

  /** Accuracy of the MLP θ (from a state) on the full training set. */
  accuracy(h: State): number {
    const correct = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(mlp(this.thetaOf(h), this.full), -1), tf.argMax(this.full.y, -1)), 'float32')));
    const v = correct.dataSync()[0];
    correct.dispose();
    return v / this.full.n;
  }

  /**
   * Analytic linearisation of one momentum-SGD step at (θ, m), with H the batch Hessian at θ and
   * u = (1 − β)(α z_θ + z_m) per tensor:
   *   Jᵀz = (z_θ − H u,  β(α z_θ + z_m)),
   *   J v = (v_θ + α r,  r)  with r = β v_m − (1 − β) H v_θ,
   *   ∂/∂a_i = α_i ⟨z_θi, m'_i⟩,   ∂/∂b_i = β_i(1 − β_i) ⟨α_i z_θi + z_mi, m_i + g_i⟩.
   */
  linearize(h: State, w: Tensor[], t: number, phase: StepPhase): Linearization {
    if (!this.opts.analytic) return genericLinearization(this, h, w, t, phase);
    const [theta, m] = h;
    const batch = this.batchFor(t, phase);
    const pt = this.takePoint(theta, batch) ?? mlpPass(theta, batch, this.fast);
    const c = this.coefs(w);
    const { alpha, beta, A, B, C } = c;
    // Held until `dispose`: the cache may move on to other hyperparameters while this is alive.
    c.users++;
    const coefB = beta.map((b) => b * (1 - b));
    const { offsets } = this.layout;
    const useK = this.fast.jsKernels;
    // m' and m + g, for the parameter part: made on first use, possibly inside a caller's tidy
    // scope, so kept out of it (disposed with the linearisation).
    let mq: { mNew: Tensor; q: Tensor } | undefined;
    const getMq = () =>
      (mq ??= tf.tidy(() => ({
        mNew: tf.keep(tf.sub(tf.mul(m, B), tf.mul(pt.grad, C))),
        q: tf.keep(tf.add(m, pt.grad)),
      })));
    /** s = α z_θ + z_m. */
    const sOf = (z: State) => tf.add(tf.mul(z[0], A), z[1]);
    const vjpWith = (z: State, s: Tensor): State => [tf.sub(z[0], pt.hvp(tf.mul(s, C))), tf.mul(s, B)];
    /** Jᵀz with u = (1 − β)s and β s from one kernel. */
    const vjpFused = (z: State): State => {
      const [u, zm] = fusedAdjoint(z[0], z[1], A, B, C);
      return [tf.sub(z[0], pt.hvp(u)), zm];
    };
    const paramsWith = (z: State, s: Tensor): Tensor[] => {
      const { mNew, q } = getMq();
      return [segmentDot(z[0], mNew, offsets, alpha, useK), segmentDot(s, q, offsets, coefB, useK)];
    };
    return {
      vjp: (z) => tf.tidy(() => (this.fast.fused ? vjpFused(z) : vjpWith(z, sOf(z)))),
      vjpParams: (z) => tf.tidy(() => paramsWith(z, sOf(z))),
      vjpBoth: (z) =>
        tf.tidy(() => {
          const s = sOf(z);
          return { h: vjpWith(z, s), w: paramsWith(z, s) };
        }),
      jvp: (v) =>
        tf.tidy(() => {
          const r = tf.sub(tf.mul(v[1], B), tf.mul(pt.hvp(v[0]), C));
          return [tf.add(v[0], tf.mul(r, A)), r];
        }),
      dispose: () => {
        pt.dispose();
        this.releaseCoefs(c, false);
        if (mq) for (const x of [mq.mNew, mq.q]) x.dispose();
      },
    };
  }

  dispose(): void {
    for (const t of [this.logLr, this.logitMom, this.theta0, this.fast.one, this.fast.two]) t.dispose();
    for (const b of [this.full, ...this.batches.values()]) for (const t of batchTensors(b)) t.dispose();
    for (const e of this.points.values()) e.pt.dispose();
    if (this.coefCache) this.releaseCoefs(this.coefCache, true);
    this.coefCache = undefined;
    this.points.clear();
    this.batches.clear();
  }
}

/** Every tensor a batch holds. */
function batchTensors(b: Batch): Tensor[] {
  return [b.x, b.y, b.yN, b.invN, ...(b.op ? [b.op.xaT, b.op.ones] : [])];
}
