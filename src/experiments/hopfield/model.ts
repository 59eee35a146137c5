/**
 * Continuous Hopfield network (the paper's associative-memory experiment, config/hopfield.yaml):
 *   h' = (1 − a) h + W_s σ(b h),  W_s = (W + Wᵀ) ⊙ (1 − I),  input units clamped to the image,
 *   L = mean |h_out − image|  (L1 on the output units).
 * State h is [B, n] (one row per image), n = n_in + n_hid + n_in.
 */
import { tf, Tensor, isTaped } from '../../core/tf';
import { sigmoid } from '../../core/activations';
import { l1Loss } from '../../core/activations';
import { genericLinearization, sumParamVjps, type DynamicSystem, type Linearization, type StepPhase } from '../../core/system';
import type { State } from '../../core/state';
import { Rng } from '../../core/random';
import { streamDot, streamDotAvailable } from './kernel';

export interface HopfieldOptions {
  nIn: number;
  nHid: number;
  a: number;
  b: number;
  initScale: number;
  seed: number;
  /** Use the analytic linearisation (fast path); false forces the generic autodiff one. */
  analytic: boolean;
}

export const HOPFIELD_DEFAULTS: HopfieldOptions = { nIn: 784, nHid: 1024, a: 1, b: 0.5, initScale: 1e-3, seed: 1234, analytic: true };

export class HopfieldSystem implements DynamicSystem {
  readonly name = 'hopfield';
  readonly n: number;
  readonly W: tf.Variable;
  readonly params: tf.Variable[];
  readonly lossParams: tf.Variable[] = [];
  /** 1 on hidden and output units, 0 on the clamped input units: [1, n]. */
  private readonly mask: Tensor;
  /** 1 − I */
  private readonly offDiag: Tensor;
  /** Clamp values (image on the input units, 0 elsewhere): [B, n]. */
  private clamp: Tensor;
  private target: Tensor;
  private symCache: { dataId: object; Ws: Tensor } | undefined;

  constructor(readonly opts: HopfieldOptions, images: Float32Array[]) {
    this.n = opts.nIn + opts.nHid + opts.nIn;
    const rng = new Rng(opts.seed);
    const w0 = tf.tensor2d(rng.normalArray(this.n * this.n, opts.initScale), [this.n, this.n]);
    this.W = tf.variable(w0, true);
    w0.dispose();
    this.params = [this.W];
    const m = new Float32Array(this.n).fill(1);
    m.fill(0, 0, opts.nIn);
    this.mask = tf.tensor2d(m, [1, this.n]);
    this.offDiag = tf.tidy(() => tf.sub(1, tf.eye(this.n)));
    this.clamp = tf.zeros([1, this.n]);
    this.target = tf.zeros([1, opts.nIn]);
    this.setImages(images);
  }

  /** Set the batch: input units are clamped to `inputs`, the loss compares outputs with `targets`. */
  setImages(inputs: Float32Array[], targets: Float32Array[] = inputs): void {
    const B = inputs.length;
    const c = new Float32Array(B * this.n);
    const tg = new Float32Array(B * this.opts.nIn);
    inputs.forEach((img, i) => c.set(img, i * this.n));
    targets.forEach((img, i) => tg.set(img, i * this.opts.nIn));
    this.clamp.dispose();
    this.target.dispose();
    this.clamp = tf.tensor2d(c, [B, this.n]);
    this.target = tf.tensor2d(tg, [B, this.opts.nIn]);
  }

  get batchSize(): number {
    return this.clamp.shape[0];
  }

  /** W_s = (W + Wᵀ)(1 − I), cached per value of W outside autodiff. */
  symmetric(W: Tensor): Tensor {
    if (isTaped() || W !== this.W) return tf.mul(tf.add(W, tf.transpose(W)), this.offDiag);
    const id = (this.W as unknown as { dataId: object }).dataId;
    if (!this.symCache || this.symCache.dataId !== id) {
      this.symCache?.Ws.dispose();
      this.symCache = { dataId: id, Ws: tf.keep(tf.tidy(() => tf.mul(tf.add(W, tf.transpose(W)), this.offDiag))) };
    }
    return this.symCache.Ws;
  }

  initialState(): State {
    return [tf.clone(this.clamp)];
  }

  step(h: State, w: Tensor[], _t: number, _phase: StepPhase): State {
    const a = this.opts.a;
    // one dispatch for the whole step (W_s symmetric: s W_s = s W_sᵀ, what the kernel computes)
    if (streamDotAvailable(h[0].shape[0])) return [streamDot(h[0], this.symmetric(w[0]), { sigmoidOf: this.opts.b, h: a !== 1 ? h[0] : undefined, c: 1 - a, mask: this.mask, clamp: this.clamp })];
    return tf.tidy(() => {
      const Ws = this.symmetric(w[0]);
      let next = tf.matMul(sigmoid(tf.mul(h[0], this.opts.b)), Ws);
      if (a !== 1) next = tf.add(next, tf.mul(h[0], 1 - a));
      return [tf.add(tf.mul(next, this.mask), this.clamp)];
    });
  }

  /** Output units of a state [B, nIn]. */
  output(h: State): Tensor {
    return tf.slice(h[0], [0, this.n - this.opts.nIn], [-1, this.opts.nIn]);
  }

  loss(h: State, _theta: Tensor[]): tf.Scalar {
    return tf.tidy(() => l1Loss(this.output(h), this.target));
  }

  /**
   * Analytic linearisation at h, with s = σ(bh), d = b s(1 − s), z̃ = z ⊙ mask:
   *   Jᵀz = (1 − a) z̃ + d ⊙ (z̃ W_s),   J v = mask ⊙ ((1 − a) v + (d ⊙ v) W_s),
   *   ∂L/∂W_s = sᵀ z̃,   ∂L/∂W = (G + Gᵀ) ⊙ (1 − I).   (W_s is symmetric: no transposed products.)
   */
  linearize(h: State, w: Tensor[], t: number, phase: StepPhase): Linearization {
    if (!this.opts.analytic) return genericLinearization(this, h, w, t, phase);
    const Ws = this.symmetric(w[0]);
    const owned = Ws !== this.symCache?.Ws;
    const [s, d] = tf.tidy(() => {
      const s = sigmoid(tf.mul(h[0], this.opts.b));
      return [s, tf.mul(tf.mul(s, tf.sub(1, s)), this.opts.b)];
    });
    const a = this.opts.a;
    const vjp = (z: State): State =>
      tf.tidy(() => {
        const zm = tf.mul(z[0], this.mask);
        let r = tf.mul(d, product(zm, Ws));
        if (a !== 1) r = tf.add(r, tf.mul(zm, 1 - a));
        return [r];
      });
    const vjpParams = (z: State): Tensor[] => tf.tidy(() => [this.symmetrize(outerSum(s, tf.mul(z[0], this.mask)))]);
    return {
      vjp,
      vjpParams,
      vjpBoth: (z) => ({ h: vjp(z), w: vjpParams(z) }),
      jvp: (v) =>
        tf.tidy(() => {
          let r = product(tf.mul(d, v[0]), Ws);
          if (a !== 1) r = tf.add(r, tf.mul(v[0], 1 - a));
          return [tf.mul(r, this.mask)];
        }),
      dispose: () => {
        s.dispose();
        d.dispose();
        if (owned) Ws.dispose();
      },
    };
  }

  /** Σ_i (∂F/∂W at h_i)ᵀ z_i as one GEMM over the stacked rows of all steps. */
  paramVjpMany(hs: State[], zs: State[], _ts: number[], _phase: StepPhase): Tensor[] {
    if (!this.opts.analytic) return sumParamVjps(this, hs, zs, _ts, _phase);
    return tf.tidy(() => {
      const S = sigmoid(tf.mul(tf.concat(hs.map((h) => h[0]), 0), this.opts.b));
      const Z = tf.mul(tf.concat(zs.map((z) => z[0]), 0), this.mask);
      return [this.symmetrize(outerSum(S, Z))];
    });
  }

  private symmetrize(G: Tensor): Tensor {
    return tf.mul(tf.add(G, tf.transpose(G)), this.offDiag);
  }

  dispose(): void {
    for (const t of [this.W, this.mask, this.offDiag, this.clamp, this.target]) t.dispose();
    this.symCache?.Ws.dispose();
  }
}

/** x W_s: the streaming kernel where it runs (W_s symmetric, so x W_sᵀ is the same), else a matMul. */
function product(x: Tensor, Ws: Tensor): Tensor {
  return streamDotAvailable(x.shape[0]) ? streamDot(x, Ws) : tf.matMul(x, Ws);
}

/**
 * Σ_rows aᵀ b ([R, n]ᵀ[R, n] → [n, n]); one row: a broadcast outer product (10x faster on wasm).
 * Several rows: transpose the thin [R, n] operand first and do a plain GEMM; wasm's transposed
 * matMul is ~20× slower (BPTT's R = 50, n = 2592: 450 ms vs ~25 ms).
 */
function outerSum(a: Tensor, b: Tensor): Tensor {
  if (a.shape[0] === 1) return tf.mul(tf.reshape(a, [-1, 1]), b);
  return tf.tidy(() => tf.matMul(tf.transpose(a), b));
}
