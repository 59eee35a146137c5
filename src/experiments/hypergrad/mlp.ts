/**
 * The tanh MLP of the hypergradient experiment at one (θ, batch): its forward and backward pass and
 * Hessian-vector products — written out as ops (`MlpPoint`) and as the single wasm kernels of
 * `./fused` (`FusedMlpPoint`) — and the data batches it runs on.
 */
import { tf, Tensor } from '../../core/tf';
import { sigmoid } from '../../core/activations';
import { BlockSpec, blocks, packLayers } from './kernels';
import { FusedPoint, fusedHvp, fusedPanels, fusedPoint } from './fused';
import type { Layout } from './layout';
import type { SparseBatch } from './sparse';

export interface Batch {
  /** The inputs [n, d]; with a sparse form (`sparse`), made on first use (the fused kernels do not read it). */
  readonly x: Tensor;
  /** x if made, without making it (for disposal). */
  readonly xIfMade: Tensor | undefined;
  /**
   * For the op path, made on its first use: [xᵀ; 1ᵀ] [d + 1, N] (the first layer's weight and bias
   * gradients as one product, without a transposed matMul) and a [1, N] row of ones (X̃ᵀ of the
   * hidden layers). The fused kernels read x transposed in place and need neither.
   */
  op?: { xaT: Tensor; ones: Tensor };
  /** x's sparse form (`./sparse`), when the system multiplies by it (option `sparseInputs`); read by the fused kernels only. */
  sparse?: SparseBatch;
  /** 1 / N as a scalar tensor. */
  invN: Tensor;
  /** One-hot targets [N, C]. */
  y: Tensor;
  /** y / N (the fast path's δ_L = p/N − y/N). */
  yN: Tensor;
  n: number;
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
    const pt = fusedPoint(theta, batch.sparse ? undefined : batch.x, batch.yN, ctx.layout, 1 / batch.n, batch.sparse);
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

  /** δ_l's panels, made on the second HVP at this point (a point with one HVP packs them in it, as before). */
  private panels?: Tensor[];
  private hvps = 0;

  hvp(u: Tensor): Tensor {
    if (++this.hvps === 2) {
      this.panels = fusedPanels(this.pt).map((t) => tf.keep(t));
      this.own.push(...this.panels);
    }
    return fusedHvp(this.theta, u, this.batch.sparse ? undefined : this.batch.x, this.pt, this.ctx.layout, this.batch.sparse, this.panels);
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

/** Every tensor a batch holds. */
export function batchTensors(b: Batch): Tensor[] {
  return [...(b.xIfMade ? [b.xIfMade] : []), b.y, b.yN, b.invN, ...(b.op ? [b.op.xaT, b.op.ones] : []), ...(b.sparse ? [b.sparse.idx, b.sparse.val] : [])];
}
