/**
 * The experiments as everything outside the numerics knows them: runner name, built-in configs,
 * title, how it counts steps, where T is set, the data it needs. No TensorFlow.js here (the
 * extension, `src/config` and `run/resolve.ts` read it); `./index.ts` loads the implementation of
 * an entry when a run needs it. A new experiment: its schema in `src/config/schema.ts`, its entry
 * here, its folder (an `Experiment`), its line in `./index.ts`, its built-in config in
 * `src/config/builtin.ts` (and `configs/<name>.yaml`).
 */
import type { RbpConfig } from '../config/load';
import { isRunnerName, type RunnerName, type SchemaTable } from '../config/schema';
import { BUILTIN_CONFIGS } from '../config/builtin';
import { methodInfo, type MethodName } from '../core/gradients/catalog';

export interface ExperimentInfo<R extends RunnerName> {
  readonly runner: R;
  /** Built-in configs that run it (`rbp run <name>`), the first one its defaults. */
  readonly names: readonly string[];
  title(config: RbpConfig): string;
  /** What one optimisation step is called. */
  readonly stepLabel: 'step' | 'epoch' | 'meta-iteration';
  /** The `train` field that caps the optimisation steps (what `--steps` and `rbpLab.steps` set). */
  readonly stepsField: keyof SchemaTable[R]['train'] & string;
  /** The `model` field that holds T, the forward steps. */
  readonly tField: keyof SchemaTable[R]['model'] & string;
  /** Files the config needs from a data folder (`--data`, `dataset.path`, …); undefined when its data ship with RBP Lab. */
  dataFiles?(config: RbpConfig): DataFiles | undefined;
  /**
   * A lower estimate of the tensor memory a run needs, from its config alone (before anything is
   * allocated, without TensorFlow.js), and what drives it (naming the config fields): a request
   * this machine cannot hold is refused up front with the estimate.
   */
  estimateBytes(config: RbpConfig, method: MethodName, K: number): MemoryEstimate;
}

export interface MemoryEstimate {
  bytes: number;
  /** What the bytes are, naming the config fields that set them. */
  what: string;
}

/** States back-propagation keeps, from the method's catalog entry: T when its memory grows with T (BPTT), K with K (TBPTT), else a few. */
export function keptStates(method: MethodName, T: number, K: number): number {
  const grows = methodInfo(method)?.memory;
  return grows === 'T' ? T : grows === 'K' ? Math.min(K, T) : 2;
}

export interface DataFiles {
  /** The data set, as files and messages name it. */
  dataset: string;
  files: string[];
  /** The files as one glob, for messages. */
  pattern: string;
  /** Where to download them. */
  source: string;
}

export type PlanetoidName = 'cora' | 'citeseer' | 'pubmed';
export const PLANETOID_NAMES: readonly PlanetoidName[] = ['cora', 'citeseer', 'pubmed'];

/** The files of a Planetoid data set: `ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}`. */
export function planetoidFiles(name: string): string[] {
  return ['x', 'y', 'tx', 'ty', 'allx', 'ally', 'graph', 'test.index'].map((s) => `ind.${name}.${s}`);
}

const section = (config: RbpConfig, s: 'dataset' | 'model'): Record<string, unknown> => (config[s] ?? {}) as Record<string, unknown>;

/** A section of the config with what it leaves out taken from the runner's built-in config (as loading a config does). */
function filled<T>(runner: RunnerName, config: RbpConfig, s: 'dataset' | 'model' | 'train'): T {
  return { ...(BUILTIN_CONFIGS[defaultsName(runner, config)][s] as object), ...((config[s] as object | undefined) ?? {}) } as T;
}

/** The Planetoid graphs' sizes, for memory estimates before the data are read. */
const PLANETOID_SIZES: Readonly<Record<PlanetoidName, { nodes: number; features: number; edges: number }>> = {
  cora: { nodes: 2708, features: 1433, edges: 10556 },
  citeseer: { nodes: 3327, features: 3703, edges: 9104 },
  pubmed: { nodes: 19717, features: 500, edges: 88648 },
};

/** The config's Planetoid dataset, or undefined where it names another (the schema's error, not a missing file). */
function planetoidOf(config: RbpConfig): PlanetoidName | undefined {
  const name = String(section(config, 'dataset').name ?? '').toLowerCase();
  return (PLANETOID_NAMES as readonly string[]).includes(name) ? (name as PlanetoidName) : undefined;
}

const hopfield: ExperimentInfo<'HopfieldRunner'> = {
  runner: 'HopfieldRunner',
  names: ['hopfield'],
  title: () => 'Hopfield associative memory',
  stepLabel: 'step',
  stepsField: 'max_steps',
  tField: 'num_update',
  estimateBytes(config, method, K) {
    const md = filled<{ input_dim: number; hidden_dim: number; num_update: number }>('HopfieldRunner', config, 'model');
    const ds = filled<{ num_imgs: number }>('HopfieldRunner', config, 'dataset');
    const batch = Math.min(filled<{ batch_size: number }>('HopfieldRunner', config, 'train').batch_size, ds.num_imgs);
    const n = 2 * md.input_dim + md.hidden_dim;
    const keep = keptStates(method, md.num_update, K);
    // W, Wᵀ-symmetrised, 1 − I, the gradient and Adam's two moments, plus temporaries: 8 n×n; the
    // kept states: batch × n each; evaluation: a few states of every image.
    return { bytes: 4 * (8 * n * n + keep * batch * n + 4 * ds.num_imgs * n), what: `8 matrices of n × n floats, n = 2·model.input_dim + model.hidden_dim = ${n}, and ${keep} states of model.num_update for ${method}` };
  },
};

const citation: ExperimentInfo<'CitationRunner'> = {
  runner: 'CitationRunner',
  names: ['cora', 'pubmed', 'citeseer'],
  title: (config) => `GRU-GNN document classification on ${String(section(config, 'dataset').name ?? 'a citation graph')} (T = ${String(section(config, 'model').num_prop ?? 100)})`,
  stepLabel: 'epoch',
  stepsField: 'max_steps',
  tField: 'num_prop',
  dataFiles(config) {
    const name = planetoidOf(config);
    if (!name) return undefined;
    return { dataset: name, files: planetoidFiles(name), pattern: `ind.${name}.*`, source: 'github.com/kimiyoung/planetoid, data/ folder' };
  },
  estimateBytes(config, method, K) {
    const size = PLANETOID_SIZES[planetoidOf(config) ?? 'pubmed'];
    const md = filled<{ hidden_dim?: number; feat_dim?: number; num_prop: number }>('CitationRunner', config, 'model');
    const h = md.hidden_dim ?? md.feat_dim ?? 64;
    const T = md.num_prop;
    const keep = keptStates(method, T, K);
    // Dense features (and their PCA), per kept step a GRU state with its gates, messages per edge.
    const floats = 2 * size.nodes * size.features + (keep + 4) * 8 * size.nodes * h + 4 * size.edges * h + 8 * h * h;
    return { bytes: 4 * floats, what: `${size.nodes} nodes with states of model.hidden_dim = ${h}, and ${keep} states of model.num_prop for ${method}` };
  },
};

const hypergrad: ExperimentInfo<'HypergradRunner'> = {
  runner: 'HypergradRunner',
  names: ['hypergrad'],
  title: () => 'Hyperparameter optimisation (learning rates and momenta of an MLP on MNIST)',
  stepLabel: 'meta-iteration',
  stepsField: 'max_meta_iter',
  tField: 'num_sgd_step',
  estimateBytes(config, method, K) {
    const md = filled<{ mlp_hidden: number[]; num_sgd_step: number; batch_size: number }>('HypergradRunner', config, 'model');
    const sizes = md.mlp_hidden;
    const T = md.num_sgd_step;
    const batch = md.batch_size;
    const n = 10000; // the training images
    const P = sizes.slice(1).reduce((s, d, i) => s + (sizes[i] + 1) * d, 0);
    const units = sizes.reduce((s, d) => s + d, 0);
    const keep = keptStates(method, T, K);
    // The full set and its activations, T cached minibatches, and per kept step the state (θ, momentum) and a batch's activations.
    const floats = n * (sizes[0] + 1) * 2 + n * units * 3 + T * batch * (sizes[0] + 1) + (keep + 4) * (2 * P + 2 * batch * units);
    return { bytes: 4 * floats, what: `an MLP of ${P} weights (model.mlp_hidden), model.num_sgd_step = ${T} minibatches of model.batch_size = ${batch}, and ${keep} states for ${method}` };
  },
};

const moduleRunner: ExperimentInfo<'ModuleRunner'> = {
  runner: 'ModuleRunner',
  // No built-in config: the model is the workspace's own module (`model.module`).
  names: [],
  title: (config) => `${String(section(config, 'model').name ?? 'model')} (${String(section(config, 'model').module ?? 'model module')})`,
  stepLabel: 'step',
  stepsField: 'max_steps',
  tField: 'num_update',
  // The model is the user's: its sizes are unknown until its module runs (an allocation failure is still reported as out-of-memory).
  estimateBytes: () => ({ bytes: 0, what: 'your model (its sizes are not known before its module runs)' }),
};

/** Every experiment, by runner (tsc fails when a runner of the schema has none). */
export const EXPERIMENTS: { readonly [R in RunnerName]: ExperimentInfo<R> } = {
  HopfieldRunner: hopfield,
  CitationRunner: citation,
  HypergradRunner: hypergrad,
  ModuleRunner: moduleRunner,
};

/** Any experiment's entry. */
export type AnyExperimentInfo = { [R in RunnerName]: ExperimentInfo<R> }[RunnerName];

/** The entry of a runner name, or undefined. */
export function experimentInfo(runner: unknown): AnyExperimentInfo | undefined {
  return isRunnerName(runner) ? EXPERIMENTS[runner] : undefined;
}

/** The built-in config whose values fill what a config of this runner leaves out: the one named like its dataset, else the first. */
export function defaultsName(runner: RunnerName, config: { dataset?: unknown }): string {
  const names = EXPERIMENTS[runner].names;
  const ds = String((config.dataset as { name?: unknown } | undefined)?.name ?? '').toLowerCase();
  return names.find((n) => n === ds) ?? names[0];
}
