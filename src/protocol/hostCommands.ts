/** Host → worker: start a run, cancel it. The CLI builds the same `RunSpec` from its arguments. */
import { arr, bool, message, messages, num, obj, optional, record, str, anything, type Infer } from './schema';

const runSpec = obj({
  /** Built-in name (hopfield, cora, pubmed, citeseer, hypergrad) or a config file path. */
  experiment: str,
  /** The resolved config (authors' schema), when the caller has one. */
  config: optional(record(anything)),
  /** The folder of the config file `config` came from: its relative paths (model.module, dataset.path) resolve there. */
  configDir: optional(str),
  method: optional(str),
  K: optional(num),
  steps: optional(num),
  seed: optional(num),
  backend: optional(str),
  /** Threads of the wasm kernels (1: the single-threaded build; none: RBP_THREADS, else 1). */
  threads: optional(num),
  /** Record the run here (a folder that will hold run.json and events.jsonl). */
  outDir: optional(str),
  dataDir: optional(str),
  /** Extra folders to look for native tfjs packages in (the extension's global storage). */
  nativeSearchPaths: optional(arr(str)),
  overrides: optional(arr(str)),
  /**
   * Run a gradient check (every method at every K on one batch and one set of weights) instead of
   * training; `from` (RUN_DIR, RUN_DIR@STEP or a .rbpck file): at that checkpoint's weights.
   */
  gradcheck: optional(obj({ Ks: arr(num), methods: optional(arr(str)), from: optional(str) })),
  /** The run's folder, where checkpoints go (the CLI's recorder folder; the extension's run folder). None: no checkpoints. */
  checkpointDir: optional(str),
  /** Continue training from a checkpoint: RUN_DIR, RUN_DIR@STEP or a .rbpck file (into this new run). */
  resume: optional(str),
  /** A gradient probe every this many steps (0: none); overrides train.grad_probe_every. */
  probeEvery: optional(num),
  /** After training, check the trained-with method's gradient against `exact` at the final weights (summary `check_*`). */
  finalCheck: optional(bool),
});
export type RunSpec = Infer<typeof runSpec>;

const runStart = message('run/start', { runId: str, spec: runSpec });
const runCancel = message('run/cancel', { runId: str });

export const parseHostCommand = messages('command', [runStart, runCancel]);
export type HostCommand = ReturnType<typeof parseHostCommand>;
