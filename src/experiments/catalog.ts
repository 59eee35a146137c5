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

const hopfield: ExperimentInfo<'HopfieldRunner'> = {
  runner: 'HopfieldRunner',
  names: ['hopfield'],
  title: () => 'Hopfield associative memory',
  stepLabel: 'step',
  stepsField: 'max_steps',
  tField: 'num_update',
};

const citation: ExperimentInfo<'CitationRunner'> = {
  runner: 'CitationRunner',
  names: ['cora', 'pubmed', 'citeseer'],
  title: (config) => `GRU-GNN document classification on ${String(section(config, 'dataset').name ?? 'a citation graph')} (T = ${String(section(config, 'model').num_prop ?? 100)})`,
  stepLabel: 'epoch',
  stepsField: 'max_steps',
  tField: 'num_prop',
  dataFiles(config) {
    const name = String(section(config, 'dataset').name ?? '').toLowerCase();
    // Another name is the schema's error, not a missing file.
    if (!(PLANETOID_NAMES as readonly string[]).includes(name)) return undefined;
    return { dataset: name, files: planetoidFiles(name), pattern: `ind.${name}.*`, source: 'github.com/kimiyoung/planetoid, data/ folder' };
  },
};

const hypergrad: ExperimentInfo<'HypergradRunner'> = {
  runner: 'HypergradRunner',
  names: ['hypergrad'],
  title: () => 'Hyperparameter optimisation (learning rates and momenta of an MLP on MNIST)',
  stepLabel: 'meta-iteration',
  stepsField: 'max_meta_iter',
  tField: 'num_sgd_step',
};

const moduleRunner: ExperimentInfo<'ModuleRunner'> = {
  runner: 'ModuleRunner',
  // No built-in config: the model is the workspace's own module (`model.module`).
  names: [],
  title: (config) => `${String(section(config, 'model').name ?? 'model')} (${String(section(config, 'model').module ?? 'model module')})`,
  stepLabel: 'step',
  stepsField: 'max_steps',
  tField: 'num_update',
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
