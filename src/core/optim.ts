/** Optimisers that apply a list of gradients to a list of variables (no hidden tape). */
import { tf, Tensor } from './tf';

/** A non-trainable zero variable shaped like x (the initial tensor is released, not left live). */
function zerosVariable(x: Tensor): tf.Variable {
  const z = tf.zerosLike(x);
  const v = tf.variable(z, false);
  z.dispose();
  return v;
}

/** An optimiser's state for a checkpoint: its counters and its buffers (one array per variable, in the order of `vars`). */
export interface OptimizerState {
  kind: 'Adam' | 'SGD';
  /** Adam's step count t (bias correction); none for SGD. */
  scalars: Record<string, number>;
  /** Adam: m, v; SGD: buf. Empty before the first step (the buffers are created by it). */
  buffers: Record<string, Float32Array[]>;
}

export interface Optimizer {
  readonly kind: OptimizerState['kind'];
  apply(vars: tf.Variable[], grads: Tensor[]): void;
  setLearningRate(lr: number): void;
  /** Its state (the learning rate is not: the schedule sets it from the step). */
  saveState(): OptimizerState;
  /** Restore `saveState`'s result for these variables (each buffer shaped like its variable; the caller checks the sizes). */
  loadState(vars: tf.Variable[], s: OptimizerState): void;
  dispose(): void;
}

const read = (xs: tf.Variable[]) => xs.map((x) => Float32Array.from(x.dataSync() as Float32Array));

/** Variables shaped like `vars` holding `data` (a fresh optimiser's lazily created buffers, filled). */
function buffersFrom(vars: tf.Variable[], data: Float32Array[] | undefined, name: string): tf.Variable[] {
  if (!data || data.length === 0) return [];
  if (data.length !== vars.length) throw new Error(`optimiser buffer '${name}' has ${data.length} arrays for ${vars.length} variables`);
  return vars.map((x, i) => {
    if (data[i].length !== x.size) throw new Error(`optimiser buffer '${name}' ${i} has ${data[i].length} values for a variable of ${x.size}`);
    const t = tf.tensor(data[i], x.shape);
    const v = tf.variable(t, false);
    t.dispose();
    return v;
  });
}

/** Adam (Kingma & Ba), bias-corrected. */
export class Adam implements Optimizer {
  readonly kind = 'Adam';
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
  saveState(): OptimizerState {
    return { kind: 'Adam', scalars: { t: this.t }, buffers: { m: read(this.m), v: read(this.v) } };
  }
  loadState(vars: tf.Variable[], s: OptimizerState): void {
    const m = buffersFrom(vars, s.buffers.m, 'm');
    const v = buffersFrom(vars, s.buffers.v, 'v');
    this.dispose();
    this.m = m;
    this.v = v;
    this.t = s.scalars.t ?? 0;
  }
  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
    this.m = [];
    this.v = [];
  }
}

/** SGD with (PyTorch-style) momentum and weight decay: b = μb + (g + λx), x −= lr·b. */
export class SgdMomentum implements Optimizer {
  readonly kind = 'SGD';
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
  saveState(): OptimizerState {
    return { kind: 'SGD', scalars: {}, buffers: { buf: read(this.buf) } };
  }
  loadState(vars: tf.Variable[], s: OptimizerState): void {
    const buf = buffersFrom(vars, s.buffers.buf, 'buf');
    this.dispose();
    this.buf = buf;
  }
  dispose(): void {
    for (const x of this.buf) x.dispose();
    this.buf = [];
  }
}
