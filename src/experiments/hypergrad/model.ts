/**
 * Hyperparameter optimisation by differentiating through training (config/hypergrad.yaml, the
 * paper's §4.3 after Maclaurin et al.). The dynamic system is T steps of momentum SGD on a tanh MLP:
 *   m' = β ⊙ m − (1 − β) ⊙ ∇L_batch(t)(θ),   θ' = θ + α ⊙ m',
 * with one learning rate α_i = exp(a_i) and one momentum β_i = σ(b_i) per parameter tensor θ_i
 * (a, b ∈ ℝ⁸ are the system's `params`). State h = (θ₁..θ₈, m₁..m₈). Meta-loss: the training
 * cross-entropy of θ_T on the full training set. Any outer VJP of a step is a Hessian-vector
 * product of the inner loss, so everything differentiable here uses `core/activations`.
 */
import { tf, Tensor } from '../../core/tf';
import { exp, sigmoid, softmaxCrossEntropy } from '../../core/activations';
import { gradsOf, genericLinearization } from '../../core/system';
import type { DynamicSystem, Linearization, StepPhase } from '../../core/system';
import type { State } from '../../core/state';
import { Rng } from '../../core/random';
import { BatchSchedule, Dataset } from './data';

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
  /** xᵀ, for the first layer's weight gradients without a transposed product. */
  xT: Tensor;
  /** One-hot targets [N, C]. */
  y: Tensor;
  n: number;
}

/** α = exp(a), β = σ(b) as numbers, from the hyperparameter tensors w = (a, b). */
function hyper(w: Tensor[]): { alpha: number[]; beta: number[] } {
  return { alpha: Array.from(w[0].dataSync(), Math.exp), beta: Array.from(w[1].dataSync(), (v) => 1 / (1 + Math.exp(-v))) };
}

function isTaped(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}

/**
 * tanh(x) = 2σ(2x) − 1 through the safe σ of `core/activations` (correct to any order); on wasm
 * 4x faster than tfjs's tanh kernel (5 ms vs 21 ms for 10,000 × 50).
 */
export function tanhFast(x: Tensor): Tensor {
  return tf.sub(tf.mul(sigmoid(tf.mul(x, 2)), 2), 1);
}

/** tanhFast without autodiff bookkeeping (forward values only). */
function tanhValue(x: Tensor): Tensor {
  return tf.tidy(() => tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1));
}

/** a bᵀ and aᵀ b with an explicit transpose: on wasm 6-10x faster than matMul's transpose flags. */
const mmT = (a: Tensor, b: Tensor): Tensor => tf.matMul(a, tf.transpose(b));
const tMm = (a: Tensor, b: Tensor): Tensor => tf.matMul(tf.transpose(a), b);

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

/** X W for a constant data batch X, with dW = Xᵀ dY from the batch's stored Xᵀ (no transpose per call). */
function dataMatMul(batch: Batch, W: Tensor): Tensor {
  const f = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
    const w = args[0] as Tensor;
    return { value: tf.matMul(batch.x, w), gradFunc: (dy: Tensor) => mm(batch.xT, dy) };
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

/**
 * The MLP's forward and backward pass at one (θ, batch), kept for Hessian-vector products
 * (Pearlmutter's R-operator written out for tanh layers and softmax cross-entropy):
 *   A_l = X_{l−1}W_l + b_l,  X_l = tanh A_l,  D_l = 1 − X_l²,  p = softmax(A_L),
 *   δ_L = (p − y)/N,  ∇W_l = X_{l−1}ᵀδ_l,  ∇b_l = Σ_rows δ_l,  e_{l−1} = δ_l W_lᵀ,  δ_{l−1} = e_{l−1} ⊙ D_{l−1}.
 * H u (u = (U_W, U_b)): R-forward  RA_l = RX_{l−1}W_l + X_{l−1}U_{W_l} + U_{b_l},  RX_l = D_l ⊙ RA_l,
 *   Rδ_L = p ⊙ (RA_L − ⟨p, RA_L⟩)/N,  R∇W_l = RX_{l−1}ᵀδ_l + X_{l−1}ᵀRδ_l,  R∇b_l = Σ_rows Rδ_l,
 *   Rδ_{l−1} = (Rδ_l W_lᵀ + δ_l U_{W_l}ᵀ) ⊙ D_{l−1} − 2 e_{l−1} ⊙ X_{l−1} ⊙ RX_{l−1}.
 */
export class MlpPoint {
  readonly L: number;
  /** X_l (X_0 = the batch, not owned), X_lᵀ, D_l, δ_l, e_l, W_lᵀ; index l as in the formulas (unused slots empty). */
  private readonly X: Tensor[];
  private readonly XT: Tensor[];
  private readonly D: Tensor[];
  private readonly delta: Tensor[];
  private readonly e: Tensor[];
  private readonly WT: Tensor[];
  private readonly p: Tensor;
  /** ∇L_batch(θ), one tensor per θ_i. */
  readonly grad: Tensor[];

  constructor(
    private readonly theta: Tensor[],
    private readonly batch: Batch,
  ) {
    const L = (this.L = theta.length / 2);
    const r = tf.tidy(() => {
      const X: Tensor[] = [batch.x];
      const XT: Tensor[] = [batch.xT];
      const D: Tensor[] = [];
      const WT: Tensor[] = [];
      let z: Tensor = batch.x;
      for (let l = 1; l <= L; l++) {
        const a = tf.add(tf.matMul(X[l - 1], theta[2 * l - 2]), theta[2 * l - 1]);
        if (l > 1) WT[l] = tf.transpose(theta[2 * l - 2]);
        if (l < L) {
          const xl = tanhValue(a);
          X[l] = xl;
          XT[l] = tf.transpose(xl);
          D[l] = tf.sub(1, tf.square(xl));
        } else z = a;
      }
      const p = tf.softmax(z);
      const delta: Tensor[] = [];
      const e: Tensor[] = [];
      const grad: Tensor[] = new Array(2 * L);
      delta[L] = tf.div(tf.sub(p, batch.y), batch.n);
      for (let l = L; l >= 1; l--) {
        grad[2 * l - 2] = tf.matMul(XT[l - 1], delta[l]);
        grad[2 * l - 1] = tf.sum(delta[l], 0);
        if (l > 1) {
          e[l - 1] = tf.matMul(delta[l], WT[l]);
          delta[l - 1] = tf.mul(e[l - 1], D[l - 1]);
        }
      }
      const out = { X: X.slice(1), XT: XT.slice(1), D: D.slice(1), WT: WT.slice(2), delta: delta.slice(1), e: e.slice(1), p, grad };
      // Owned by this object (disposed by `dispose`), also when made inside a caller's tidy scope.
      for (const t of [...out.X, ...out.XT, ...out.D, ...out.WT, ...out.delta, ...out.e, p, ...grad]) tf.keep(t);
      return out;
    });
    const none = undefined as unknown as Tensor;
    this.X = [batch.x, ...r.X];
    this.XT = [batch.xT, ...r.XT];
    this.D = [none, ...r.D];
    this.WT = [none, none, ...r.WT];
    this.delta = [none, ...r.delta];
    this.e = [none, ...r.e];
    this.p = r.p;
    this.grad = r.grad;
  }

  /** H u for the batch loss (u: one tensor per θ_i). */
  hvp(u: Tensor[]): Tensor[] {
    const { L, X, XT, D, delta, e, WT, p, theta, batch } = this;
    return tf.tidy(() => {
      const RX: Tensor[] = [];
      let RZ: Tensor | undefined;
      for (let l = 1; l <= L; l++) {
        let ra = tf.add(tf.matMul(X[l - 1], u[2 * l - 2]), u[2 * l - 1]);
        if (l > 1) ra = tf.add(ra, tf.matMul(RX[l - 1], theta[2 * l - 2]));
        if (l < L) RX[l] = tf.mul(D[l], ra);
        else RZ = ra;
      }
      let rd = tf.div(tf.mul(p, tf.sub(RZ!, tf.sum(tf.mul(p, RZ!), -1, true))), batch.n);
      const out: Tensor[] = new Array(2 * L);
      for (let l = L; l >= 1; l--) {
        out[2 * l - 2] = l === 1 ? tf.matMul(XT[0], rd) : tf.add(tf.matMul(XT[l - 1], rd), tMm(RX[l - 1], delta[l]));
        out[2 * l - 1] = tf.sum(rd, 0);
        if (l > 1) {
          const re = tf.add(tf.matMul(rd, WT[l]), mmT(delta[l], u[2 * l - 2]));
          rd = tf.sub(tf.mul(re, D[l - 1]), tf.mul(tf.mul(e[l - 1], X[l - 1]), tf.mul(RX[l - 1], 2)));
        }
      }
      return out;
    });
  }

  dispose(): void {
    const own = [...this.X.slice(1), ...this.XT.slice(1), ...this.D, ...this.WT, ...this.delta, ...this.e, this.p, ...this.grad];
    for (const t of own) t?.dispose();
  }
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
  readonly theta0: Tensor[];
  readonly schedule: BatchSchedule;
  private readonly full: Batch;
  private readonly batches = new Map<number, Batch>();

  constructor(
    readonly opts: HypergradOptions,
    readonly data: Dataset,
  ) {
    const s = opts.sizes;
    if (s[0] !== data.d) throw new Error(`MLP input size ${s[0]} does not match the data (${data.d} features)`);
    if (s[s.length - 1] !== data.classes) throw new Error(`MLP output size ${s[s.length - 1]} does not match the ${data.classes} classes`);
    const rng = new Rng(opts.seed);
    this.theta0 = [];
    for (let l = 0; l + 1 < s.length; l++) {
      this.theta0.push(tf.tensor2d(rng.normalArray(s[l] * s[l + 1], opts.initScale), [s[l], s[l + 1]]));
      this.theta0.push(tf.tensor1d(rng.normalArray(s[l + 1], opts.initScale)));
    }
    this.P = this.theta0.length;
    this.logLr = tf.variable(tf.fill([this.P], opts.lr0));
    this.logitMom = tf.variable(tf.fill([this.P], opts.mom0));
    this.params = [this.logLr, this.logitMom];
    this.schedule = new BatchSchedule(data.n, opts.batchSize, rng);
    this.full = this.makeBatch(Int32Array.from({ length: data.n }, (_, i) => i));
  }

  private makeBatch(idx: Int32Array): Batch {
    const { d, classes } = this.data;
    const x = new Float32Array(idx.length * d);
    const y = new Float32Array(idx.length * classes);
    idx.forEach((r, i) => {
      x.set(this.data.x.subarray(r * d, (r + 1) * d), i * d);
      y[i * classes + this.data.labels[r]] = 1;
    });
    // Cached across calls that may run inside a tidy scope: keep them out of it.
    const xt = tf.keep(tf.tensor2d(x, [idx.length, d]));
    return { x: xt, xT: tf.keep(tf.tidy(() => tf.transpose(xt))), y: tf.keep(tf.tensor2d(y, [idx.length, classes])), n: idx.length };
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

  /**
   * Forward passes of the MLP made by untaped steps, by the identity of the state's θ tensors
   * (immutable tensors: same objects, same values). An entry goes to the first `linearize` at the
   * same (θ, batch), or is disposed once its θ is (checked at every step).
   */
  private readonly points = new Map<Tensor, { theta: Tensor[]; batch: Batch; pt: MlpPoint }>();

  /** The cached forward pass at (θ, batch), removed from the cache (the caller owns it now). */
  private takePoint(theta: Tensor[], batch: Batch): MlpPoint | undefined {
    const e = this.points.get(theta[0]);
    if (!e || e.batch !== batch || !e.theta.every((x, i) => x === theta[i])) return undefined;
    this.points.delete(theta[0]);
    return e.pt;
  }

  private cachePoint(theta: Tensor[], batch: Batch, pt: MlpPoint): void {
    if (theta.some((x) => x instanceof tf.Variable)) {
      pt.dispose(); // mutable: identity does not pin the values
      return;
    }
    this.points.get(theta[0])?.pt.dispose();
    this.points.set(theta[0], { theta: theta.slice(), batch, pt });
  }

  private sweepPoints(): void {
    for (const [k, e] of this.points) {
      if (e.theta.some((x) => x.isDisposed)) {
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
    return [...this.theta0.map((x) => tf.clone(x)), ...this.theta0.map((x) => tf.zerosLike(x))];
  }

  /** α = exp(a), β = σ(b) as numbers. */
  hyperparameters(): { alpha: number[]; beta: number[] } {
    return hyper(this.params);
  }

  step(h: State, w: Tensor[], t: number, phase: StepPhase): State {
    const batch = this.batchFor(t, phase);
    const P = this.P;
    const theta = h.slice(0, P);
    const m = h.slice(P);
    if (this.opts.analytic && !isTaped()) {
      // Nothing differentiates through this call: the hand-written backward pass, no tape, and
      // α, β as numbers. The pass is kept for `linearize` at the same (θ, batch) (BPTT's backward
      // pass, the RBP family's last step), which then need not redo it.
      this.sweepPoints();
      const { alpha, beta } = hyper(w);
      const pt = this.takePoint(theta, batch) ?? new MlpPoint(theta, batch);
      const out = tf.tidy(() => {
        const m2 = m.map((mi, i) => tf.sub(tf.mul(mi, beta[i]), tf.mul(pt.grad[i], 1 - beta[i])));
        return [...theta.map((ti, i) => tf.add(ti, tf.mul(m2[i], alpha[i]))), ...m2];
      });
      this.cachePoint(theta, batch, pt);
      return out;
    }
    return tf.tidy(() => {
      const g = gradsOf(() => this.batchLoss(theta, batch), theta).grads;
      const alpha = tf.unstack(exp(w[0]));
      const beta = tf.unstack(sigmoid(w[1]));
      const m2 = m.map((mi, i) => tf.sub(tf.mul(beta[i], mi), tf.mul(tf.sub(1, beta[i]), g[i])));
      const th2 = theta.map((ti, i) => tf.add(ti, tf.mul(alpha[i], m2[i])));
      return [...th2, ...m2];
    });
  }

  /** Mean cross-entropy of the MLP θ on a batch (differentiable to any order). */
  batchLoss(theta: Tensor[], batch: Batch): tf.Scalar {
    return softmaxCrossEntropy(mlp(theta, batch), batch.y);
  }

  loss(h: State, _theta: Tensor[]): tf.Scalar {
    this.sweepPoints();
    return tf.tidy(() => softmaxCrossEntropy(mlp(h.slice(0, this.P), this.full), this.full.y));
  }

  /** Accuracy of the MLP θ (from a state) on the full training set. */
  accuracy(h: State): number {
    const correct = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(mlp(h.slice(0, this.P), this.full), -1), tf.argMax(this.full.y, -1)), 'float32')));
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
    const P = this.P;
    const theta = h.slice(0, P);
    const m = h.slice(P);
    const batch = this.batchFor(t, phase);
    const pt = this.takePoint(theta, batch) ?? new MlpPoint(theta, batch);
    const { alpha, beta } = hyper(w);
    // m' and m + g, for the parameter part: made on first use, possibly inside a caller's tidy
    // scope, so kept out of it (disposed with the linearisation).
    let mq: { mNew: Tensor[]; q: Tensor[] } | undefined;
    const getMq = () =>
      (mq ??= tf.tidy(() => ({
        mNew: m.map((mi, i) => tf.keep(tf.sub(tf.mul(mi, beta[i]), tf.mul(pt.grad[i], 1 - beta[i])))),
        q: m.map((mi, i) => tf.keep(tf.add(mi, pt.grad[i]))),
      })));
    const coefA = tf.tensor1d(alpha);
    const coefB = tf.tensor1d(beta.map((b) => b * (1 - b)));
    /** s = α z_θ + z_m per tensor. */
    const sOf = (z: State) => z.slice(0, P).map((zt, i) => tf.add(tf.mul(zt, alpha[i]), z[P + i]));
    const vjpWith = (z: State, s: Tensor[]): State => {
      const Hu = pt.hvp(s.map((si, i) => tf.mul(si, 1 - beta[i])));
      return [...z.slice(0, P).map((zt, i) => tf.sub(zt, Hu[i])), ...s.map((si, i) => tf.mul(si, beta[i]))];
    };
    const paramsWith = (z: State, s: Tensor[]): Tensor[] => {
      const { mNew, q } = getMq();
      const ga = tf.stack(mNew.map((x, i) => tf.sum(tf.mul(z[i], x))));
      const gb = tf.stack(q.map((x, i) => tf.sum(tf.mul(s[i], x))));
      return [tf.mul(ga, coefA), tf.mul(gb, coefB)];
    };
    return {
      vjp: (z) => tf.tidy(() => vjpWith(z, sOf(z))),
      vjpParams: (z) => tf.tidy(() => paramsWith(z, sOf(z))),
      vjpBoth: (z) =>
        tf.tidy(() => {
          const s = sOf(z);
          return { h: vjpWith(z, s), w: paramsWith(z, s) };
        }),
      jvp: (v) =>
        tf.tidy(() => {
          const Hv = pt.hvp(v.slice(0, P));
          const r = Hv.map((x, i) => tf.sub(tf.mul(v[P + i], beta[i]), tf.mul(x, 1 - beta[i])));
          return [...r.map((ri, i) => tf.add(v[i], tf.mul(ri, alpha[i]))), ...r];
        }),
      dispose: () => {
        pt.dispose();
        coefA.dispose();
        coefB.dispose();
        if (mq) for (const x of [...mq.mNew, ...mq.q]) x.dispose();
      },
    };
  }

  dispose(): void {
    for (const t of [this.logLr, this.logitMom, ...this.theta0, this.full.x, this.full.xT, this.full.y]) t.dispose();
    for (const b of this.batches.values()) for (const t of [b.x, b.xT, b.y]) t.dispose();
    for (const e of this.points.values()) e.pt.dispose();
    this.points.clear();
    this.batches.clear();
  }
}
