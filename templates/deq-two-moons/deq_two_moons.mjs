// @ts-check
/**
 * A deep-equilibrium layer for RBP Lab: h ← tanh(h W + x U + b), iterated to its fixed point h*,
 * with a linear read-out logits = h* V + c, classifying the two-moons data set (generated from the
 * config's seed: no download). Run it with `rbp run deq_two_moons.rbp.yaml` or the ▶ Run lens
 * above `model:` in the config; Compare TBPTT vs Neumann-RBP on it shows the methods' errors.
 *
 * The contract (rbp-model.d.ts; README "Your own model"): the default export receives RBP Lab's
 * tfjs, its second-order-safe activations, the config's sections and a context, and returns the
 * system h_{t+1} = F(h_t, w) with its loss, plus the data for each step and an evaluation.
 */

/** @type {import('./rbp-model').ModelFactory} */
export default function createModel({ tf, rbp, model, dataset, train, context }) {
  // tanh from rbp.activations: tfjs's own tf.tanh has a wrong second derivative (CG-RBP needs it).
  const { tanh, softmaxCrossEntropy } = rbp.activations;
  const H = Number(model.params.hidden ?? 32);
  // W starts with spectral radius ≈ init_radius (circular law), so ρ(J) ≈ init_radius < 1: the
  // forward pass converges, and at 0.8 truncated methods (small K) are visibly off.
  const radius = Number(model.params.init_radius ?? 0.8);
  const T = Number(model.num_update);
  const N = Number(dataset.params.points ?? 512);
  const noise = Number(dataset.params.noise ?? 0.1);
  const B = Number(train.batch_size ?? 64);
  const rng = context.rng;

  // Two interleaved half circles, labels 0 and 1; 80% train, 20% test.
  const xs = new Float32Array(2 * N);
  const ys = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const label = i % 2;
    const a = Math.PI * rng.next();
    xs[2 * i] = (label ? 1 - Math.cos(a) : Math.cos(a)) + noise * rng.normal();
    xs[2 * i + 1] = (label ? 0.5 - Math.sin(a) : Math.sin(a)) + noise * rng.normal();
    ys[i] = label;
  }
  const nTrain = Math.floor(0.8 * N);
  const rows = (idx) => ({ x: tf.tensor2d(Array.from(idx).flatMap((i) => [xs[2 * i], xs[2 * i + 1]]), [idx.length, 2]), y: tf.tensor1d(Array.from(idx, (i) => ys[i]), 'int32') });
  const range = (a, b) => Array.from({ length: b - a }, (_, k) => a + k);
  const trainSet = rows(range(0, nTrain));
  const testSet = rows(range(nTrain, N));

  /** A trainable variable from an initial tensor (tf.variable keeps its own copy: the initial one is freed). */
  const variable = (init) => {
    const v = tf.variable(init);
    init.dispose();
    return v;
  };
  const W = variable(tf.tensor2d(rng.normalArray(H * H, radius / Math.sqrt(H)), [H, H]));
  const U = variable(tf.tensor2d(rng.normalArray(2 * H, 1), [2, H]));
  const b = variable(tf.zeros([1, H]));
  const V = variable(tf.tensor2d(rng.normalArray(H * 2, 1 / Math.sqrt(H)), [H, 2]));
  const c = variable(tf.zeros([1, 2]));

  /** The current batch (step reads its x, loss its labels). */
  let batch = rows(range(0, Math.min(B, nTrain)));
  const stepsPerEpoch = Math.ceil(nTrain / B);
  let order = range(0, nTrain);

  /** @type {import('./rbp-model').DynamicSystem} */
  const system = {
    name: 'deq-two-moons',
    params: [W, U, b],
    lossParams: [V, c],
    initialState: () => [tf.zeros([batch.x.shape[0], H])],
    // Pure in (h, w): reads the weights from w, not from W, U, b above.
    step: (h, w) => tf.tidy(() => [tanh(tf.add(tf.add(tf.matMul(h[0], w[0]), tf.matMul(batch.x, w[1])), w[2]))]),
    loss: (h, theta) => tf.tidy(() => softmaxCrossEntropy(tf.add(tf.matMul(h[0], theta[0]), theta[1]), batch.y)),
  };

  /** Accuracy on a data set after T forward steps. */
  const accuracy = (set) => {
    const saved = batch;
    batch = set;
    let h = system.initialState();
    for (let t = 0; t < T; t++) {
      const next = system.step(h, system.params, t, 'unroll');
      tf.dispose(h);
      h = next;
    }
    const acc = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(tf.add(tf.matMul(h[0], V), c), 1), set.y), 'float32')).dataSync()[0]);
    tf.dispose(h);
    batch = saved;
    return acc;
  };

  return {
    system,
    stepsPerEpoch,
    batch(step) {
      const pos = step % stepsPerEpoch;
      if (pos === 0 && train.shuffle !== false) order = Array.from(rng.permutation(nTrain));
      if (batch !== trainSet && batch !== testSet) tf.dispose([batch.x, batch.y]);
      batch = rows(order.slice(pos * B, (pos + 1) * B));
    },
    metrics: ['train_accuracy', 'test_accuracy'],
    evaluate: () => ({ train_accuracy: accuracy(trainSet), test_accuracy: accuracy(testSet) }),
    summary: () => ({ points: N, hidden: H }),
    dispose() {
      tf.dispose([batch.x, batch.y, trainSet.x, trainSet.y, testSet.x, testSet.y, W, U, b, V, c]);
    },
  };
}
