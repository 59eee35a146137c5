/**
 * A small smooth test system with a two-tensor state, so that the generic library code is
 * exercised on more than one model:
 *   a' = tanh(W a + U x + c),   b' = β b + σ(a') ⊙ s  (β = ½ by default),     L = ½ ||V a + b·1 − y||²  (V: loss parameter)
 * `scale` sets ||W||: small → contractive (ρ < 1), large → not. `batch` rows of x (2 by default): a
 * large batch makes the state large against the weights, so stored state vectors dominate memory.
 */
import { tf, Tensor } from '../../src/core/tf';
import { tanh, sigmoid } from '../../src/core/activations';
import type { DynamicSystem, StepPhase } from '../../src/core/system';
import type { State } from '../../src/core/state';
import { Rng } from '../../src/core/random';

export class ToySystem implements DynamicSystem {
  readonly name = 'toy';
  readonly params: tf.Variable[];
  readonly lossParams: tf.Variable[];
  private readonly x: Tensor;
  private readonly y: Tensor;
  readonly n: number;
  private readonly bDecay: number;
  private readonly batch: number;

  constructor(opts: { n?: number; m?: number; scale?: number; seed?: number; bDecay?: number; batch?: number } = {}) {
    this.bDecay = opts.bDecay ?? 0.5;
    const batch = (this.batch = opts.batch ?? 2);
    const n = (this.n = opts.n ?? 12);
    const m = opts.m ?? 5;
    const rng = new Rng(opts.seed ?? 3);
    const scale = opts.scale ?? 0.5;
    const W = tf.tensor2d(rng.normalArray(n * n, scale / Math.sqrt(n)), [n, n]);
    const U = tf.tensor2d(rng.normalArray(m * n, 1 / Math.sqrt(m)), [m, n]);
    const c = tf.tensor2d(rng.normalArray(n, 0.1), [1, n]);
    const s = tf.tensor2d(rng.normalArray(n, 0.5), [1, n]);
    this.params = [W, U, c, s].map((t) => owned(t));
    this.lossParams = [owned(tf.tensor2d(rng.normalArray(n * 3, 0.3), [n, 3]))];
    this.x = tf.tensor2d(rng.normalArray(batch * m), [batch, m]);
    this.y = tf.tensor2d(rng.normalArray(batch * 3), [batch, 3]);
  }

  initialState(): State {
    return [tf.zeros([this.batch, this.n]), tf.zeros([this.batch, this.n])];
  }

  step(h: State, w: Tensor[], _t: number, _phase: StepPhase): State {
    return tf.tidy(() => {
      const [W, U, c, s] = w;
      const a = tanh(tf.add(tf.add(tf.matMul(h[0], W), tf.matMul(this.x, U)), c));
      const b = tf.add(tf.mul(h[1], this.bDecay), tf.mul(sigmoid(a), s));
      return [a, b];
    });
  }

  loss(h: State, theta: Tensor[]): tf.Scalar {
    return tf.tidy(() => {
      const out = tf.add(tf.matMul(h[0], theta[0]), tf.sum(h[1], 1, true));
      return tf.mul(0.5, tf.sum(tf.square(tf.sub(out, this.y)))) as tf.Scalar;
    });
  }

  /** L after T plain steps with the given parameter values (for finite differences). */
  lossAt(T: number): number {
    return tf.tidy(() => {
      let h = this.initialState();
      for (let t = 0; t < T; t++) h = this.step(h, this.params, t, 'unroll');
      return this.loss(h, this.lossParams).dataSync()[0];
    });
  }

  dispose(): void {
    for (const t of [...this.params, ...this.lossParams, this.x, this.y]) t.dispose();
  }
}

function owned(t: Tensor): tf.Variable {
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}
