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
import { segmentDot } from './kernels';
import { fusedAdjoint, fusedAvailable, fusedMomentum } from './fused';
import { Layout, makeLayout, packTheta, unpackTheta } from './layout';
import { Batch, FastContext, batchTensors, mlp, mlpPass } from './mlp';
import { PointCache } from './points';
import { sparseBatch } from './sparse';

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
  /**
   * `auto` (default): where the data has a sparse form (`Dataset.sparse`: uncentred inputs mostly
   * zeros) and the fused kernels run, their first layer multiplies by it plus a rank-one
   * correction (`./sparse`); `off`: always the dense centred x (the reference).
   */
  sparseInputs?: SparseInputsMode;
}

export type SparseInputsMode = 'auto' | 'off';

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

/** α = exp(a), β = σ(b) as numbers, from the hyperparameter tensors w = (a, b). */
function hyper(w: Tensor[]): { alpha: number[]; beta: number[] } {
  return { alpha: Array.from(w[0].dataSync(), Math.exp), beta: Array.from(w[1].dataSync(), (v) => 1 / (1 + Math.exp(-v))) };
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
  /** Whether the fused kernels multiply by the data's sparse form (option `sparseInputs`). */
  readonly sparseInputs: boolean;

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
    this.sparseInputs = fused && (opts.sparseInputs ?? 'auto') === 'auto' && data.sparse !== undefined;
    this.full = this.makeBatch(Int32Array.from({ length: data.n }, (_, i) => i));
  }

  private makeBatch(idx: Int32Array): Batch {
    const { d, classes } = this.data;
    const n = idx.length;
    const y = new Float32Array(n * classes);
    idx.forEach((r, i) => (y[i * classes + this.data.labels[r]] = 1));
    // Cached across calls that may run inside a tidy scope: keep them out of it.
    const makeX = () => {
      const x = new Float32Array(n * d);
      idx.forEach((r, i) => x.set(this.data.x.subarray(r * d, (r + 1) * d), i * d));
      return tf.keep(tf.tensor2d(x, [n, d]));
    };
    const sparse = this.sparseInputs ? sparseBatch(this.data.sparse!, idx) : undefined;
    // With the sparse form the dense x is made only if something other than the fused kernels asks (the op path, accuracy).
    let xt = sparse ? undefined : makeX();
    return {
      get x() {
        return (xt ??= makeX());
      },
      get xIfMade() {
        return xt;
      },
      invN: tf.keep(tf.scalar(1 / n)),
      y: tf.keep(tf.tensor2d(y, [n, classes])),
      yN: tf.keep(tf.tensor2d(y.map((v) => v / n), [n, classes])),
      sparse,
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

  /** Forward passes made by untaped steps, for a `linearize` at the same (Θ, batch). */
  private readonly points = new PointCache();

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
      this.points.sweep();
      const { A, B, C } = this.coefs(w);
      const pt = this.points.take(h[0], batch) ?? mlpPass(h[0], batch, this.fast);
      const out = this.fast.fused
        ? fusedMomentum(h[0], h[1], pt.grad, A, B, C)
        : tf.tidy(() => {
            const m2 = tf.sub(tf.mul(h[1], B), tf.mul(pt.grad, C));
            return [tf.add(h[0], tf.mul(m2, A)), m2];
          });
      this.points.put(h[0], batch, pt);
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
    this.points.sweep();
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
    const pt = this.points.take(theta, batch) ?? mlpPass(theta, batch, this.fast);
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
    this.points.dispose();
    if (this.coefCache) this.releaseCoefs(this.coefCache, true);
    this.coefCache = undefined;
    this.batches.clear();
  }
}

