/**
 * The built-in experiment configs: the authors' config/*.yaml values. The same configs ship as
 * files in `configs/` (a test keeps the two identical) so users can open and edit them.
 */
import type { RbpConfig } from './load';
import type { RunnerName } from './schema';

const citationTrain = {
  optimizer: 'SGD',
  lr_decay: 0.1,
  lr_decay_steps: [10000],
  num_workers: 0,
  max_epoch: 2000,
  batch_size: 1,
  display_iter: 10,
  snapshot_epoch: 1000,
  valid_epoch: 20,
  lr: 1.0e-3,
  wd: 5.0e-4,
  momentum: 0.9,
  shuffle: true,
  is_resume: false,
  resume_model: 'None',
};

function citation(name: string, file: string, featDim: number, labels: number) {
  return {
    exp_name: file,
    exp_dir: `exp/${file}`,
    runner: 'CitationRunner',
    use_gpu: true,
    gpus: [0],
    seed: 1234,
    dataset: { name, path: 'data/citation', rand_split: true, train_ratio: 0.01, label_size: labels },
    model: {
      name: 'GNN',
      feat_dim: featDim,
      hidden_dim: featDim,
      output_dim: labels,
      num_layer: 1,
      num_prop: 100,
      num_edge_type: 1,
      aggregate_type: 'sum',
      update_func: 'GRU',
      output_func: 'MLP',
      grad_method: 'BPTT',
      truncate_iter: 5,
    },
    train: { ...citationTrain },
  } satisfies RbpConfig;
}

const hopfield = {
  exp_name: 'Hopfield',
  exp_dir: 'exp/hopfield',
  runner: 'HopfieldRunner',
  use_gpu: true,
  gpus: [0],
  seed: 1234,
  dataset: { name: 'MNIST', path: 'data/mnist', num_imgs: 10, corrupt_level: 0.5 },
  model: { name: 'HopfieldNet', input_dim: 784, hidden_dim: 1024, num_update: 50, grad_method: 'BPTT', truncate_iter: 20 },
  train: {
    optimizer: 'Adam',
    lr_decay: 0.1,
    lr_decay_steps: [10000],
    num_workers: 0,
    max_epoch: 1000,
    batch_size: 1,
    display_iter: 10,
    snapshot_epoch: 1000,
    valid_epoch: 10,
    lr: 1.0e-3,
    wd: 0.0,
    momentum: 0.9,
    shuffle: true,
    is_resume: false,
    resume_model: 'None',
  },
} satisfies RbpConfig;

const hypergrad = {
  exp_name: 'Hypergrad',
  exp_dir: 'exp/hypergrad',
  runner: 'HypergradRunner',
  use_gpu: true,
  gpus: [0],
  seed: 1234,
  dataset: { name: 'MNIST', path: 'data/mnist' },
  model: {
    name: 'HypergradNet',
    grad_method: 'Neumann_RBP',
    truncate_iter: 50,
    lr: -1.0,
    momentum: 0.0,
    num_sgd_step: 100,
    batch_size: 200,
    mlp_hidden: [784, 50, 50, 50, 10],
  },
  train: { meta_optimizer: 'Adam', meta_lr: 0.05, max_meta_iter: 100, snapshot_epoch: 1000, is_resume: false, resume_model: 'None' },
} satisfies RbpConfig;

/**
 * What a ModuleRunner config leaves out (there is no built-in model of that runner: the model is
 * the user's module, `model.module`, which has no default).
 */
const moduleBase = {
  exp_name: 'my_model',
  runner: 'ModuleRunner',
  seed: 1234,
  dataset: { name: 'data' },
  model: { name: 'model', num_update: 50, grad_method: 'Neumann_RBP', truncate_iter: 20 },
  train: { optimizer: 'Adam', lr: 1.0e-3, lr_decay: 0.1, lr_decay_steps: [10000], wd: 0.0, momentum: 0.9, max_epoch: 100, batch_size: 1, display_iter: 10, valid_epoch: 10, shuffle: true },
} satisfies RbpConfig;

/** The defaults of a runner that has no built-in config of its own. */
export const RUNNER_BASES: Partial<Record<RunnerName, RbpConfig>> = { ModuleRunner: moduleBase };

export const BUILTIN_CONFIGS: Record<string, RbpConfig> = {
  hopfield,
  cora: citation('Cora', 'cora', 64, 7),
  pubmed: citation('Pubmed', 'pubmed', 16, 3),
  citeseer: citation('CiteSeer', 'citeseer', 64, 6),
  hypergrad,
};

/** Each runner's built-in config, as a type: the fields every config of that runner has once its defaults are filled in. */
export interface RunnerDefaults {
  HopfieldRunner: typeof hopfield;
  CitationRunner: ReturnType<typeof citation>;
  HypergradRunner: typeof hypergrad;
  ModuleRunner: typeof moduleBase;
}

export const BUILTIN_NAMES = Object.keys(BUILTIN_CONFIGS);
