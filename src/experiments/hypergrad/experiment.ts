/** The hyperparameter-optimisation experiment (HypergradRunner): meta-training loop pieces and evaluation. */
import { Adam } from '../../core/optim';
import { makeSolver } from '../../core/solvers';
import { NaiveSolver } from '../../core/solvers/naive';
import { getMethod } from '../../core/gradients';
import type { MethodName } from '../../core/gradients/types';
import { compareGrads } from '../../core/metrics';
import { dispose } from '../../core/state';
import type { RbpConfig } from '../../config/load';
import { Experiment, ExperimentContext, ExperimentSession, RunError, keptStates } from '../types';
import { HypergradSystem, HYPERGRAD_DEFAULTS, LastStep } from './model';
import { Dataset, loadHypergradMnist } from './data';

interface ModelSection {
  grad_method?: string;
  truncate_iter?: number;
  lr?: number;
  momentum?: number;
  num_sgd_step?: number;
  batch_size?: number;
  mlp_hidden?: number[];
  last_step?: LastStep;
  forward_solver?: string;
  forward_tol?: number;
  rbp_init?: 'zero' | 'uniform';
}

interface TrainSection {
  meta_lr?: number;
  max_meta_iter?: number;
  lr_decay_iter?: number;
  max_steps?: number;
}

/** Keys of the per-meta-iteration hyperparameter metrics. */
export const alphaKey = (i: number) => `alpha_${i}`;
export const betaKey = (i: number) => `beta_${i}`;

let mnistCache: Dataset | undefined;

/** Build a session; `data` replaces the MNIST digits (tests use a small synthetic set). */
export function createHypergradSession(config: RbpConfig, method: MethodName, K: number, ctx: ExperimentContext, data?: Dataset): ExperimentSession {
  const md = config.model as ModelSection;
  const tr = config.train as TrainSection;
  const lastStep: LastStep = md.last_step ?? 'full';
  if (lastStep !== 'full' && lastStep !== 'minibatch') throw new RunError('bad-config', `model.last_step must be 'full' or 'minibatch' (got '${String(lastStep)}')`);
  const ds = data ?? (mnistCache ??= loadHypergradMnist());
  const sizes = md.mlp_hidden ?? HYPERGRAD_DEFAULTS.sizes;
  if (sizes.length < 2 || sizes[0] !== ds.d || sizes[sizes.length - 1] !== ds.classes) {
    throw new RunError('bad-config', `model.mlp_hidden must start with the input size ${ds.d} and end with the ${ds.classes} classes (got [${sizes.join(', ')}])`);
  }
  const T = md.num_sgd_step ?? 100;
  const sys = new HypergradSystem(
    {
      ...HYPERGRAD_DEFAULTS,
      sizes,
      batchSize: Math.min(md.batch_size ?? HYPERGRAD_DEFAULTS.batchSize, ds.n),
      lr0: md.lr ?? HYPERGRAD_DEFAULTS.lr0,
      mom0: md.momentum ?? HYPERGRAD_DEFAULTS.mom0,
      seed: config.seed,
      lastStep,
    },
    ds,
  );
  const rbpFamily = method === 'RBP' || method === 'CG_RBP' || method === 'Neumann_RBP' || method === 'exact';
  ctx.log(
    `hypergrad: ${ds.n} training images, MLP ${sizes.join('-')}, T=${T} SGD steps of batch ${sys.opts.batchSize}; ` +
      `the RBP-family last step (phase 'linearize') uses ${lastStep === 'full' ? `the full ${ds.n}-image training set` : "the last step's own minibatch"} (model.last_step: ${lastStep})` +
      (rbpFamily ? '' : ` — not used by ${method}`),
  );
  const metaLr = tr.meta_lr ?? 0.05;
  const decayAt = tr.lr_decay_iter ?? 50;
  const numSteps = tr.max_steps ?? tr.max_meta_iter ?? 100;
  const optimizer = new Adam(metaLr);
  const gradientOptions = { solver: md.forward_solver ? makeSolver(md.forward_solver) : undefined, forwardTol: md.forward_tol, rbpInit: md.rbp_init, seed: config.seed, cancelled: ctx.cancelled };
  const gradOpts = () => ({ T, K, ...gradientOptions });
  let lastCos = NaN;
  let lastRelErr = NaN;
  let bestEval = Infinity;
  return {
    system: sys,
    T,
    numSteps,
    stepLabel: 'meta-iteration',
    optimizer,
    evalEvery: 10,
    gradientOptions,
    beforeStep(i) {
      optimizer.setLearningRate(i >= decayAt ? metaLr * 0.1 : metaLr);
    },
    stepMetrics() {
      // The hyperparameters the reported meta-loss was computed with (before this update).
      const { alpha, beta } = sys.hyperparameters();
      const out: Record<string, number> = {};
      alpha.forEach((a, i) => (out[alphaKey(i)] = a));
      beta.forEach((b, i) => (out[betaKey(i)] = b));
      return out;
    },
    evaluate() {
      const out: Record<string, number> = {};
      // The meta-loss of the current hyperparameters through the plain unroll, and the accuracy reached.
      const h0 = sys.initialState();
      const r = new NaiveSolver().solve(sys, h0, { maxSteps: T, cancelled: ctx.cancelled });
      const l = sys.loss(r.h, []);
      out.eval_meta_loss = l.dataSync()[0];
      out.train_acc = sys.accuracy(r.h);
      dispose(h0, r.h, [l]);
      bestEval = Math.min(bestEval, out.eval_meta_loss);
      // This method's meta-gradient against BPTT's, at the current hyperparameters.
      if (method === 'BPTT') {
        lastRelErr = 0;
        lastCos = 1;
      } else {
        const bp = getMethod('BPTT').compute(sys, gradOpts());
        const mine = getMethod(method).compute(sys, gradOpts());
        const c = compareGrads(mine.grads, bp.grads);
        lastRelErr = c.relErr;
        lastCos = c.cosine;
        dispose(bp.grads, bp.lossGrads, mine.grads, mine.lossGrads);
      }
      out.grad_relerr_bptt = lastRelErr;
      out.grad_cos_bptt = lastCos;
      return out;
    },
    summary: () => ({
      last_step: lastStep,
      images: ds.n,
      T,
      batch_size: sys.opts.batchSize,
      best_eval_meta_loss: bestEval,
      last_grad_cos_bptt: lastCos,
      last_grad_relerr_bptt: lastRelErr,
    }),
    dispose() {
      optimizer.dispose();
      sys.dispose();
    },
  };
}

export const hypergradExperiment: Experiment = {
  runner: 'HypergradRunner',
  names: ['hypergrad'],
  title: () => 'Hyperparameter optimisation (learning rates and momenta of an MLP on MNIST)',
  estimateBytes(config, method, K) {
    const md = config.model as ModelSection;
    const sizes = md.mlp_hidden ?? HYPERGRAD_DEFAULTS.sizes;
    const T = md.num_sgd_step ?? 100;
    const batch = md.batch_size ?? HYPERGRAD_DEFAULTS.batchSize;
    const n = 10000; // the training images
    const P = sizes.slice(1).reduce((s, d, i) => s + (sizes[i] + 1) * d, 0);
    const units = sizes.reduce((s, d) => s + d, 0);
    const keep = keptStates(method, T, K);
    // The full set and its activations, T cached minibatches, and per kept step the state (θ, momentum) and a batch's activations.
    const floats = n * (sizes[0] + 1) * 2 + n * units * 3 + T * batch * (sizes[0] + 1) + (keep + 4) * (2 * P + 2 * batch * units);
    return { bytes: 4 * floats, what: `an MLP of ${P} weights (model.mlp_hidden), model.num_sgd_step = ${T} minibatches of model.batch_size = ${batch}, and ${keep} states for ${method}` };
  },
  create: (config, method, K, ctx) => createHypergradSession(config, method, K, ctx),
};
