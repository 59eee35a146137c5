/** Optimisers that apply a list of gradients to a list of variables (no hidden tape). */
import { tf, Tensor } from './tf';

/** A non-trainable zero variable shaped like x (the initial tensor is released, not left live). */
function zerosVariable(x: Tensor): tf.Variable {
  const z = tf.zerosLike(x);
  const v = tf.variable(z, false);
  z.dispose();
  return v;
}

export interface Optimizer {
  apply(vars: tf.Variable[], grads: Tensor[]): void;
  setLearningRate(lr: number): void;
  dispose(): void;
}

/** Adam (Kingma & Ba), bias-corrected. */
export class Adam implements Optimizer {
  private m: tf.Variable[] = [];
  private v: tf.Variable[] = [];
  private t = 0;
  constructor(
    private lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
    private readonly weightDecay = 0,
  ) {}
  setLearningRate(lr: number): void {
    this.lr = lr;
  }
  apply(vars: tf.Variable[], grads: Tensor[]): void {
    if (this.m.length === 0) {
      this.m = vars.map((x) => zerosVariable(x));
      this.v = vars.map((x) => zerosVariable(x));
    }
    this.t++;
    const c1 = 1 - Math.pow(this.beta1, this.t);
    const c2 = 1 - Math.pow(this.beta2, this.t);
    tf.tidy(() => {
      vars.forEach((x, i) => {
        const g = this.weightDecay ? tf.add(grads[i], tf.mul(x, this.weightDecay)) : grads[i];
        this.m[i].assign(tf.add(tf.mul(this.m[i], this.beta1), tf.mul(g, 1 - this.beta1)));
        this.v[i].assign(tf.add(tf.mul(this.v[i], this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
        const mh = tf.div(this.m[i], c1);
        const vh = tf.div(this.v[i], c2);
        x.assign(tf.sub(x, tf.mul(tf.div(mh, tf.add(tf.sqrt(vh), this.eps)), this.lr)));
      });
    });
  }
  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
  }
}

/** SGD with (PyTorch-style) momentum and weight decay: b = μb + (g + λx), x −= lr·b. */
export class SgdMomentum implements Optimizer {
  private buf: tf.Variable[] = [];
  constructor(
    private lr: number,
    private readonly momentum = 0.9,
    private readonly weightDecay = 0,
  ) {}
  setLearningRate(lr: number): void {
    this.lr = lr;
  }
  apply(vars: tf.Variable[], grads: Tensor[]): void {
    if (this.buf.length === 0) this.buf = vars.map((x) => zerosVariable(x));
    tf.tidy(() => {
      vars.forEach((x, i) => {
        const g = this.weightDecay ? tf.add(grads[i], tf.mul(x, this.weightDecay)) : grads[i];
        this.buf[i].assign(tf.add(tf.mul(this.buf[i], this.momentum), g));
        x.assign(tf.sub(x, tf.mul(this.buf[i], this.lr)));
      });
    });
  }
  dispose(): void {
    for (const x of this.buf) x.dispose();
  }
}
