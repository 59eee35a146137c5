/** The hyperparameter-optimisation experiment (HypergradRunner): meta-training loop pieces and evaluation. */
import { NaiveSolver } from '../../core/solvers/naive';
import { getMethod, methodInfo } from '../../core/gradients';
import type { MethodName } from '../../core/gradients/types';
import { compareGrads } from '../../core/metrics';
import { dispose } from '../../core/state';
import { configSections, type RbpConfig } from '../../config/load';
import { EXPERIMENTS } from '../catalog';
import { gradientOptionsOf, optimizerWithSchedule } from '../training';
import { Experiment, ExperimentContext, ExperimentSession, RunError } from '../types';
import { HypergradSystem, HYPERGRAD_DEFAULTS, LastStep } from './model';
import { Dataset, loadHypergradMnist } from './data';

/** Keys of the per-meta-iteration hyperparameter metrics. */
export const alphaKey = (i: number) => `alpha_${i}`;
export const betaKey = (i: number) => `beta_${i}`;

let mnistCache: Dataset | undefined;

/** Build a session; `data` replaces the MNIST digits (tests use a small synthetic set). */
export function createHypergradSession(config: RbpConfig, method: MethodName, K: number, ctx: ExperimentContext, data?: Dataset): ExperimentSession {
  const { model: md, train: tr, seed } = configSections('HypergradRunner', config);
  const lastStep: LastStep = md.last_step ?? 'full';
  if (lastStep !== 'full' && lastStep !== 'minibatch') throw new RunError('bad-config', `model.last_step must be 'full' or 'minibatch' (got '${String(lastStep)}')`);
  const ds = data ?? (mnistCache ??= loadHypergradMnist());
  const sizes = md.mlp_hidden;
  if (sizes.length < 2 || sizes[0] !== ds.d || sizes[sizes.length - 1] !== ds.classes) {
    throw new RunError('bad-config', `model.mlp_hidden must start with the input size ${ds.d} and end with the ${ds.classes} classes (got [${sizes.join(', ')}])`);
  }
  const T = md.num_sgd_step;
  const sys = new HypergradSystem(
    {
      ...HYPERGRAD_DEFAULTS,
      sizes,
      batchSize: Math.min(md.batch_size, ds.n),
      lr0: md.lr,
      mom0: md.momentum,
      seed,
      lastStep,
      sparseInputs: md.sparse_inputs,
    },
    ds,
  );
  const rbpFamily = methodInfo(method)?.unroll === false;
  ctx.log(
    `hypergrad: ${ds.n} training images, MLP ${sizes.join('-')}, T=${T} SGD steps of batch ${sys.opts.batchSize}; ` +
      `the RBP-family last step (phase 'linearize') uses ${lastStep === 'full' ? `the full ${ds.n}-image training set` : "the last step's own minibatch"} (model.last_step: ${lastStep})` +
      (rbpFamily ? '' : ` — not used by ${method}`) +
      `; first layer on ${sys.sparseInputs ? `the uncentred inputs in sparse form (${(100 * ds.sparse!.density).toFixed(1)} % nonzero) plus a rank-one correction` : 'the dense centred inputs'} (model.sparse_inputs: ${md.sparse_inputs ?? 'auto'})`,
  );
  // meta_lr × 0.1 from meta-iteration lr_decay_iter on.
  const { optimizer, atStep } = optimizerWithSchedule({ kind: tr.meta_optimizer, lr: tr.meta_lr, decay: 0.1, decaySteps: [tr.lr_decay_iter ?? 50] });
  const numSteps = tr.max_meta_iter;
  const gradientOptions = gradientOptionsOf(md, seed, ctx.cancelled);
  const gradOpts = () => ({ T, K, ...gradientOptions });
  let lastCos = NaN;
  let lastRelErr = NaN;
  let bestEval = Infinity;
  return {
    system: sys,
    T,
    numSteps,
    stepLabel: EXPERIMENTS.HypergradRunner.stepLabel,
    optimizer,
    evalEvery: 10,
    snapshotEvery: Math.max(1, tr.snapshot_epoch),
    gradientOptions,
    beforeStep: atStep,
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
    // The meta-parameters (a, b) are the system's params and the meta-optimiser the session's: saved
    // for every session. The inner batches are a fixed function of the seed (BatchSchedule draws its
    // permutations in order), so the inner-data generator needs no state of its own.
    extraState: () => ({ bestEval, lastCos, lastRelErr }),
    restoreExtraState(s) {
      const n = (v: unknown) => (v === null || v === undefined ? NaN : Number(v));
      bestEval = s.bestEval === null ? Infinity : n(s.bestEval);
      lastCos = n(s.lastCos);
      lastRelErr = n(s.lastRelErr);
    },
    dispose() {
      optimizer.dispose();
      sys.dispose();
    },
  };
}

export const hypergradExperiment: Experiment<'HypergradRunner'> = {
  ...EXPERIMENTS.HypergradRunner,
  create: (config, method, K, ctx) => createHypergradSession(config, method, K, ctx),
};
