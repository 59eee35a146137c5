/**
 * Document classification on citation graphs (CitationRunner: cora, pubmed, citeseer): a GRU-GNN
 * on the Planetoid graph with PCA-reduced bag-of-words features as the node states h_0.
 * One optimisation step per epoch over the full graph.
 */
import * as fs from 'fs';
import * as path from 'path';
import { dispose } from '../../core/state';
import { configSections, type RbpConfig } from '../../config/load';
import { EXPERIMENTS } from '../catalog';
import { gradientOptionsOf, optimizerWithSchedule } from '../training';
import { Experiment, ExperimentContext, ExperimentSession, RunError } from '../types';
import { GruGnnSystem, GNN_DEFAULTS, GnnGraph, accuracy } from './model';
import { classCounts, loadPlanetoid, missingPlanetoidFiles, randomSplit, PlanetoidData, PlanetoidError, PlanetoidName, PlanetoidSplit, PLANETOID_NAMES } from './planetoid';
import { pcaReduce } from './pca';
import { Cancelled } from '../../core/cancel';

export const DATA_ENV = 'RBP_DATA_DIR';

export function planetoidName(name: string | undefined): PlanetoidName {
  const n = String(name ?? '').toLowerCase();
  if (!(PLANETOID_NAMES as readonly string[]).includes(n)) throw new RunError('bad-config', `dataset.name '${String(name)}' is not a Planetoid data set (${PLANETOID_NAMES.join(', ')})`);
  return n as PlanetoidName;
}

/**
 * Where the Planetoid files are: the run's data folder (--data / rbpLab.dataDir), then the config's
 * dataset.path (relative to the config file's folder, then to the working directory), then $RBP_DATA_DIR; the first that holds every
 * ind.<name>.* file. None: a RunError('bad-data') naming the missing files and every folder tried.
 */
export function resolveDataDir(name: PlanetoidName, configPath: string | undefined, ctx: Pick<ExperimentContext, 'dataDir' | 'log' | 'configDir'>): string {
  const candidates: { dir: string; from: string }[] = [];
  if (ctx.dataDir) candidates.push({ dir: ctx.dataDir, from: 'the run\'s data folder (--data / rbpLab.dataDir)' });
  if (configPath && ctx.configDir && !path.isAbsolute(configPath)) candidates.push({ dir: path.join(ctx.configDir, configPath), from: 'dataset.path, relative to the config file' });
  if (configPath) candidates.push({ dir: configPath, from: 'dataset.path in the config' });
  const env = process.env[DATA_ENV];
  if (env) candidates.push({ dir: env, from: `$${DATA_ENV}` });
  const tried: string[] = [];
  for (const c of candidates) {
    const abs = path.resolve(c.dir);
    if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
      tried.push(`${abs} (${c.from}): folder does not exist`);
      continue;
    }
    const missing = missingPlanetoidFiles(abs, name);
    if (missing.length === 0) {
      if (tried.length) ctx.log(`${name}: using ${abs} (${c.from}); skipped: ${tried.join('; ')}`);
      return abs;
    }
    tried.push(`${abs} (${c.from}): ${missing.join(', ')} not found`);
  }
  const how = `download ind.${name}.{x,y,tx,ty,allx,ally,graph,test.index} (github.com/kimiyoung/planetoid, data/ folder) and point at that folder with --data DIR (CLI), the rbpLab.dataDir setting (extension), dataset.path in the config, or $${DATA_ENV}`;
  if (tried.length === 0) throw new RunError('bad-data', `no data folder for ${name}: ${how}`);
  throw new RunError('bad-data', `the ${name} data files were not found. Looked in: ${tried.join('; ')}. To fix: ${how}`);
}

export interface CitationData {
  data: PlanetoidData;
  split: PlanetoidSplit;
  /** Training nodes per class (Cora, the authors' split: 3, 1, 3, 12, 2, 3, 3). */
  trainClassCounts: number[];
  /** How the split was made, for the log (the authors' numpy random split, or the standard Planetoid one). */
  splitKind: string;
  graph: GnnGraph;
  explainedVariance: number;
  dir: string;
}

/** Load, reduce and split: everything the session needs, from the config. */
export function loadCitationData(config: RbpConfig, ctx: Pick<ExperimentContext, 'dataDir' | 'log'>): CitationData {
  const { dataset: ds, model: md } = configSections('CitationRunner', config);
  const name = planetoidName(ds.name);
  const dir = resolveDataDir(name, ds.path, ctx);
  let data: PlanetoidData;
  try {
    data = loadPlanetoid(dir, name, { mergeDuplicateEdges: ds.merge_dup_edges ?? false });
  } catch (err) {
    if (err instanceof PlanetoidError) throw new RunError('bad-data', err.message);
    throw err;
  }
  const featDim = md.feat_dim;
  const hidden = md.hidden_dim;
  if (hidden !== featDim) throw new RunError('bad-config', `model.hidden_dim (${hidden}) must equal model.feat_dim (${featDim}): the node state h_0 is the PCA feature vector`);
  if (!(featDim >= 1 && featDim <= Math.min(data.numNodes, data.numFeatures))) throw new RunError('bad-config', `model.feat_dim ${featDim} must be in [1, ${Math.min(data.numNodes, data.numFeatures)}]`);
  if (md.output_dim !== data.numClasses) ctx.log(`model.output_dim ${md.output_dim} differs from the ${data.numClasses} classes of ${name}: using ${data.numClasses}`);
  const pca = pcaReduce(data.features, data.numNodes, data.numFeatures, featDim, config.seed);
  let split: PlanetoidSplit;
  if (ds.rand_split) {
    try {
      split = randomSplit(data.labelled, ds.train_ratio, config.seed);
    } catch (err) {
      if (err instanceof PlanetoidError) throw new RunError('bad-config', err.message);
      throw err;
    }
  } else {
    split = data.split;
  }
  const graph: GnnGraph = {
    numNodes: data.numNodes,
    src: data.src,
    dst: data.dst,
    features: pca.projected,
    dim: featDim,
    labels: data.labels,
    numClasses: data.numClasses,
    lossNodes: split.train.filter((i) => data.labels[i] >= 0),
  };
  const explainedVariance = pca.explainedVarianceRatio.reduce((s, v) => s + v, 0);
  const trainClassCounts = classCounts(split.train, data.labels, data.numClasses);
  const splitKind = ds.rand_split ? `random, the authors' numpy RandomState(${config.seed}).permutation` : 'standard Planetoid';
  return { data, split, trainClassCounts, splitKind, graph, explainedVariance, dir };
}

export interface AccuracyReport {
  train_acc: number;
  val_acc: number;
  test_acc: number;
}

/** Accuracies after a plain T-step forward pass with the current weights. */
export function evaluateAccuracy(sys: GruGnnSystem, T: number, split: PlanetoidSplit, cancelled?: () => boolean): AccuracyReport {
  let h = sys.initialState();
  for (let t = 0; t < T; t++) {
    if (cancelled?.()) {
      dispose(h);
      throw new Cancelled();
    }
    const next = sys.step(h, sys.params, t, 'unroll');
    dispose(h);
    h = next;
  }
  const logits = sys.logits(h);
  const v = logits.dataSync() as Float32Array;
  dispose(h, [logits]);
  const labels = sys.graph.labels;
  return {
    train_acc: accuracy(v, sys.C, labels, split.train),
    val_acc: accuracy(v, sys.C, labels, split.val),
    test_acc: accuracy(v, sys.C, labels, split.test),
  };
}

export interface CitationSessionOptions {
  /** Already loaded data (tests reuse one load). */
  data?: CitationData;
  /** false: the generic autodiff linearisation instead of the analytic GRU one. */
  analytic?: boolean;
}

export function createCitationSession(config: RbpConfig, ctx: ExperimentContext, opts: CitationSessionOptions = {}): ExperimentSession {
  const { model: md, train: tr, seed } = configSections('CitationRunner', config);
  const cd = opts.data ?? loadCitationData(config, ctx);
  const { split, graph } = cd;
  if (graph.lossNodes.length === 0) throw new RunError('bad-config', 'the training split has no labelled node');
  const T = md.num_prop;
  const aggregate = md.aggregate_type;
  const sys = new GruGnnSystem(graph, { ...GNN_DEFAULTS, seed, analytic: opts.analytic ?? true, aggregate });
  const { optimizer, atStep } = optimizerWithSchedule({ kind: tr.optimizer, lr: tr.lr, momentum: tr.momentum, wd: tr.wd, decay: tr.lr_decay, decaySteps: tr.lr_decay_steps });
  const numSteps = tr.max_steps ?? tr.max_epoch;
  let best = { val: -1, test: NaN, epoch: -1 };
  const es = cd.data.edgeStats;
  ctx.log(
    `${cd.data.name}: ${graph.numNodes} nodes, ${es.messages} messages per propagation step (${es.merged ? `adjacency entries merged: ${es.duplicates} repeated dropped` : `one per adjacency entry, as the authors; ${es.duplicates} repeated`}; most into one node ${es.maxInDegree}), ` +
      `${aggregate} aggregation, ${cd.data.numFeatures} features → PCA ${graph.dim} (${(100 * cd.explainedVariance).toFixed(1)}% of the variance), ${graph.numClasses} classes; ` +
      `split ${split.train.length}/${split.val.length}/${split.test.length} (train/val/test; ${cd.splitKind}), training nodes per class ${cd.trainClassCounts.join(', ')}; data from ${cd.dir}`,
  );
  return {
    system: sys,
    T,
    numSteps,
    stepLabel: EXPERIMENTS.CitationRunner.stepLabel,
    optimizer,
    evalEvery: Math.max(1, tr.valid_epoch),
    snapshotEvery: Math.max(1, tr.snapshot_epoch),
    gradientOptions: gradientOptionsOf(md, seed, ctx.cancelled),
    beforeStep: atStep,
    stepMetrics: () => ({ train_acc: sys.lastLossAccuracy }),
    evaluate(i) {
      const r = evaluateAccuracy(sys, T, split, ctx.cancelled);
      // i < 0: the untrained baseline, not a candidate for the best-validation model.
      if (i >= 0 && r.val_acc > best.val) best = { val: r.val_acc, test: r.test_acc, epoch: i };
      return { ...r };
    },
    summary: () => ({
      dataset: cd.data.name,
      nodes: graph.numNodes,
      messages: es.messages,
      aggregate_type: aggregate,
      train_nodes: split.train.length,
      val_nodes: split.val.length,
      test_nodes: split.test.length,
      train_class_counts: cd.trainClassCounts.join(','),
      best_val_acc: best.val >= 0 ? best.val : NaN,
      test_acc_at_best_val: best.test,
      best_val_epoch: best.epoch,
    }),
    // The best validation so far (the summary's test accuracy at it); the split and PCA come from the seed.
    extraState: () => ({ best: { ...best } }),
    restoreExtraState(s) {
      const b = s.best as typeof best | undefined;
      if (b) best = { val: Number(b.val), test: b.test === null ? NaN : Number(b.test), epoch: Number(b.epoch) };
    },
    dispose() {
      optimizer.dispose();
      sys.dispose();
    },
  };
}

export const citationExperiment: Experiment<'CitationRunner'> = {
  ...EXPERIMENTS.CitationRunner,
  create: (config, _method, _K, ctx) => createCitationSession(config, ctx),
};
