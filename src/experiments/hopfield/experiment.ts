/** The associative-memory experiment (HopfieldRunner): training loop pieces and evaluation. */
import { tf } from '../../core/tf';
import { NaiveSolver } from '../../core/solvers/naive';
import { Rng } from '../../core/random';
import { dispose } from '../../core/state';
import { configSections, type RbpConfig } from '../../config/load';
import { EXPERIMENTS } from '../catalog';
import { gradientOptionsOf, optimizerWithSchedule } from '../training';
import type { Experiment, ExperimentSession } from '../types';
import { HopfieldSystem, HOPFIELD_DEFAULTS } from './model';
import { hopfieldPatterns, corrupt } from './data';

export interface RetrievalReport {
  l1Clean: number;
  /** The authors' validation number: mean L1 between the binarised output and the corrupted input. */
  l1BinaryVsCorrupted: number;
  bitErr: number;
  nearestOk: number;
  exact: number;
  n: number;
}

/**
 * The authors' validation loss (runner/hopfield_runner.py, model/hopfield_net.py in eval mode): the
 * mean over images of mean_j |[out_j ≥ 0.5] − corrupted_j|, the output binarised and compared with
 * the corrupted image the network was given (not the clean one); they log its log10.
 * `out` holds one row of nIn outputs per image.
 */
export function l1BinaryVsCorrupted(out: Float32Array, corrupted: Float32Array[], nIn: number): number {
  let s = 0;
  corrupted.forEach((img, i) => {
    for (let j = 0; j < nIn; j++) s += Math.abs((out[i * nIn + j] >= 0.5 ? 1 : 0) - img[j]);
  });
  return s / (nIn * corrupted.length);
}

/** The evaluation inputs: every image corrupted with the same seed, as the authors (a fresh RandomState(seed) per image). */
export function corruptAll(images: Float32Array[], level: number, seed: number): Float32Array[] {
  return images.map((img) => corrupt(img, level, seed));
}

/**
 * Run each stored image (clean, then with `level` of its on-pixels off: the same numpy-seeded mask
 * rule for every image, as the authors) to the fixed point.
 */
export function evaluateRetrieval(sys: HopfieldSystem, images: Float32Array[], T: number, level: number, seed: number, cancelled?: () => boolean): RetrievalReport {
  const solver = new NaiveSolver();
  const nIn = sys.opts.nIn;
  const run = (inputs: Float32Array[]): Float32Array => {
    sys.setImages(inputs, images);
    const h0 = sys.initialState();
    const r = solver.solve(sys, h0, { maxSteps: T, cancelled });
    const out = tf.tidy(() => sys.output(r.h));
    const v = out.dataSync() as Float32Array;
    dispose(h0, r.h, [out]);
    return v;
  };
  const clean = run(images);
  let l1 = 0;
  clean.forEach((v, i) => (l1 += Math.abs(v - images[Math.floor(i / nIn)][i % nIn])));
  const corrupted = corruptAll(images, level, seed);
  const out = run(corrupted);
  let bitErr = 0;
  let nearestOk = 0;
  let exact = 0;
  images.forEach((_, i) => {
    const ham = images.map((img) => {
      let d = 0;
      for (let j = 0; j < nIn; j++) d += Math.abs((out[i * nIn + j] >= 0.5 ? 1 : 0) - img[j]);
      return d;
    });
    bitErr += ham[i] / nIn;
    if (ham.indexOf(Math.min(...ham)) === i) nearestOk++;
    if (ham[i] === 0) exact++;
  });
  return { l1Clean: l1 / clean.length, l1BinaryVsCorrupted: l1BinaryVsCorrupted(out, corrupted, nIn), bitErr: bitErr / images.length, nearestOk, exact, n: images.length };
}

export const hopfieldExperiment: Experiment<'HopfieldRunner'> = {
  ...EXPERIMENTS.HopfieldRunner,
  create(config: RbpConfig, _method, _K, ctx): ExperimentSession {
    const { dataset: ds, model: md, train: tr, seed } = configSections('HopfieldRunner', config);
    const images = hopfieldPatterns(ds.num_imgs);
    if (md.input_dim !== 784) ctx.log(`model.input_dim ${md.input_dim}: using the first ${md.input_dim} pixels of each digit`);
    const imgs = images.map((im) => im.slice(0, md.input_dim));
    const sys = new HopfieldSystem({ ...HOPFIELD_DEFAULTS, nIn: md.input_dim, nHid: md.hidden_dim, seed }, [imgs[0]]);
    const stepsPerEpoch = Math.ceil(imgs.length / tr.batch_size);
    const numSteps = tr.max_steps ?? tr.max_epoch * stepsPerEpoch;
    const { optimizer, atStep } = optimizerWithSchedule({ kind: tr.optimizer, lr: tr.lr, momentum: tr.momentum, wd: tr.wd, decay: tr.lr_decay, decaySteps: tr.lr_decay_steps });
    const rng = new Rng(seed);
    let order = Array.from(imgs.keys());
    const T = md.num_update;
    return {
      system: sys,
      T,
      numSteps,
      stepLabel: EXPERIMENTS.HopfieldRunner.stepLabel,
      optimizer,
      evalEvery: Math.max(1, tr.valid_epoch * stepsPerEpoch),
      snapshotEvery: Math.max(1, tr.snapshot_epoch * stepsPerEpoch),
      gradientOptions: gradientOptionsOf(md, seed, ctx.cancelled),
      beforeStep(i) {
        const pos = i % stepsPerEpoch;
        if (pos === 0 && tr.shuffle) order = Array.from(rng.permutation(imgs.length));
        const batch = order.slice(pos * tr.batch_size, (pos + 1) * tr.batch_size).map((k) => imgs[k]);
        sys.setImages(batch);
        atStep(i);
      },
      evaluate() {
        const r = evaluateRetrieval(sys, imgs, T, ds.corrupt_level, seed, ctx.cancelled);
        sys.setImages([imgs[0]]);
        // log10_l1_binary_vs_corrupted: the authors' logged validation number, to compare with their curves
        return { eval_l1: r.l1Clean, retrieval_bit_err: r.bitErr, retrieval_nearest_ok: r.nearestOk, retrieval_exact: r.exact, log10_l1_binary_vs_corrupted: Math.log10(r.l1BinaryVsCorrupted) };
      },
      summary: () => ({ images: imgs.length, n_units: sys.n }),
      // The shuffle generator and the epoch's order (a resumed run mid-epoch continues the same order).
      extraState: () => ({ rng: rng.getState(), order: order.slice() }),
      restoreExtraState(s) {
        const o = s.order;
        if (!Array.isArray(o) || o.length !== imgs.length || [...o].sort((a, b) => a - b).some((v, k) => v !== k)) throw new Error(`its shuffle order is not a permutation of the ${imgs.length} images`);
        rng.setState(Number(s.rng));
        order = o.slice() as number[];
      },
      dispose() {
        optimizer.dispose();
        sys.dispose();
      },
    };
  },
};
