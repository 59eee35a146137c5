/**
 * Every scalar series a run records, once (issue 19): its label, unit, default y scale and the
 * panel group it is drawn in. A series is named by where it comes from:
 *   `train:<metric>` / `eval:<metric>`  a value of a `metrics` event (per step / per evaluation),
 *   `<event>:<field>`                   a numeric field of another event (`memory:peakBytes`,
 *                                       `probe:relErrExact`, `diagnostics:rho`, `checkpoint:bytes`),
 *   `forward:*` / `backward:*`          derived from a step's trace (steps to tolerance, final residual).
 * tfjs-free and DOM-free (the host, the webview and the CLI read it). A recorded series without an
 * entry fails test/shared/seriesRegistry.test.ts, which runs every experiment with probes on.
 */
import type { Envelope } from '../protocol/messages';

export type SeriesGroup = 'loss' | 'evaluation' | 'gradient' | 'solver' | 'spectral' | 'probe' | 'time' | 'memory' | 'hyperparameters' | 'checkpoint';

export interface SeriesInfo {
  /** The series' key (a pattern entry: its pattern's first match, e.g. `train:alpha_0`). */
  key: string;
  label: string;
  /** '' for a plain number. */
  unit: string;
  scale: 'linear' | 'log';
  group: SeriesGroup;
}

interface Entry extends Omit<SeriesInfo, 'key'> {
  key: string | RegExp;
}

const E = (key: string | RegExp, label: string, unit: string, scale: 'linear' | 'log', group: SeriesGroup): Entry => ({ key, label, unit, scale, group });

const ENTRIES: readonly Entry[] = [
  // metrics, per training step (run/runner.ts and each experiment's stepMetrics)
  E('train:loss', 'training loss', '', 'log', 'loss'),
  E('train:grad_norm', 'gradient norm ‖∇L‖', '', 'log', 'gradient'),
  E('train:step_ms', 'step time', 'ms', 'linear', 'time'),
  E('train:forward_rel_residual', 'forward relative residual at the step’s end', '', 'log', 'solver'),
  E('train:train_acc', 'training accuracy (batch)', '', 'linear', 'evaluation'),
  E(/^train:alpha_\d+$/, 'learning rate α of a layer (hypergrad)', '', 'log', 'hyperparameters'),
  E(/^train:beta_\d+$/, 'momentum β of a layer (hypergrad)', '', 'linear', 'hyperparameters'),
  // metrics, per evaluation
  E('eval:eval_l1', 'clean-image L1 (Hopfield)', '', 'linear', 'evaluation'),
  E('eval:retrieval_bit_err', 'retrieval bit error (Hopfield)', '', 'linear', 'evaluation'),
  E('eval:retrieval_nearest_ok', 'nearest stored pattern right (Hopfield)', '', 'linear', 'evaluation'),
  E('eval:retrieval_exact', 'exact retrievals (Hopfield)', '', 'linear', 'evaluation'),
  E('eval:log10_l1_binary_vs_corrupted', 'log10 L1, binarised output vs corrupted input (the authors’)', '', 'linear', 'evaluation'),
  E('eval:train_acc', 'training accuracy', '', 'linear', 'evaluation'),
  E('eval:val_acc', 'validation accuracy', '', 'linear', 'evaluation'),
  E('eval:test_acc', 'test accuracy', '', 'linear', 'evaluation'),
  E('eval:eval_meta_loss', 'meta-loss (hypergrad)', '', 'log', 'loss'),
  E('eval:grad_relerr_bptt', 'meta-gradient relative error vs BPTT', '', 'log', 'gradient'),
  E('eval:grad_cos_bptt', 'meta-gradient cosine with BPTT', '', 'linear', 'gradient'),
  // derived from the traces of each step
  E('forward:steps', 'forward steps taken', 'steps', 'linear', 'solver'),
  E('forward:stepsToTol', 'forward steps to tolerance', 'steps', 'linear', 'solver'),
  E('forward:finalRel', 'forward relative residual (final)', '', 'log', 'solver'),
  E('backward:finalResidual', 'adjoint residual (final)', '', 'log', 'solver'),
  E('backward:iterations', 'backward iterations', '', 'linear', 'solver'),
  // diagnostics (ρ(J) and the verdict's numbers)
  E('diagnostics:rho', 'spectral radius ρ(J)', '', 'linear', 'spectral'),
  // gradient probes
  E('probe:relErrExact', 'gradient relative error vs exact', '', 'log', 'probe'),
  E('probe:cosExact', 'gradient cosine with exact', '', 'linear', 'probe'),
  E('probe:relErrBptt', 'gradient relative error vs BPTT', '', 'log', 'probe'),
  E('probe:cosBptt', 'gradient cosine with BPTT', '', 'linear', 'probe'),
  E('probe:rho', 'ρ(J) at the probe', '', 'linear', 'spectral'),
  E('probe:exactResidual', 'exact’s final adjoint residual', '', 'log', 'probe'),
  E('probe:ms', 'probe time', 'ms', 'linear', 'time'),
  // memory
  E('memory:peakBytes', 'peak tensor memory of the step', 'MiB', 'linear', 'memory'),
  E('memory:liveBytes', 'live tensor memory', 'MiB', 'linear', 'memory'),
  E('memory:rssBytes', 'process memory (RSS)', 'MiB', 'linear', 'memory'),
  E('memory:numTensors', 'live tensors', '', 'linear', 'memory'),
  // checkpoints
  E('checkpoint:bytes', 'checkpoint size', 'MiB', 'linear', 'checkpoint'),
];

/** The registry's entry for a series key, or undefined where there is none. */
export function seriesInfo(key: string): SeriesInfo | undefined {
  for (const e of ENTRIES) {
    if (typeof e.key === 'string' ? e.key === key : e.key.test(key)) return { ...e, key };
  }
  return undefined;
}

/** Every fixed key of the registry (pattern entries not included). */
export function registeredKeys(): string[] {
  return ENTRIES.flatMap((e) => (typeof e.key === 'string' ? [e.key] : []));
}

/** Bytes are drawn in MiB (one unit system). */
const toUnit = (key: string, v: number): number => (seriesInfo(key)?.unit === 'MiB' ? v / 2 ** 20 : v);

/** The relative residual a forward pass counts as converged at (the verdict's, run/runner.ts CONVERGED_REL). */
export const FORWARD_TOL = 1e-4;

/** Fields of an event that are not series: its stamp, its step, ids and settings. */
const NOT_SERIES = new Set(['type', 'runId', 'seq', 't', 'step', 'K', 'pid', 'elapsedMs']);

/**
 * The scalar series values one event carries, as [key, step, value] (bytes in MiB; NaN and null
 * left out). This is what the small multiples draw and what the registry test checks.
 */
export function seriesOfEvent(e: Envelope): [string, number, number][] {
  const out: [string, number, number][] = [];
  const add = (key: string, step: number, v: unknown) => {
    if (typeof v === 'number' && Number.isFinite(v)) out.push([key, step, toUnit(key, v)]);
  };
  switch (e.type) {
    case 'metrics':
      for (const [k, v] of Object.entries(e.values)) add(`${e.kind}:${k}`, e.step, v);
      break;
    case 'trace/forward': {
      add('forward:steps', e.step, e.rel.length);
      const tolAt = e.rel.findIndex((r) => r !== null && r <= FORWARD_TOL);
      if (tolAt >= 0) add('forward:stepsToTol', e.step, tolAt + 1);
      add('forward:finalRel', e.step, e.rel.at(-1));
      break;
    }
    case 'trace/backward': {
      const last = [...e.residual].reverse().find((r) => r !== null);
      add('backward:finalResidual', e.step, last);
      add('backward:iterations', e.step, Math.max(e.residual.length, e.termNorm.length));
      break;
    }
    case 'diagnostics':
    case 'probe':
    case 'memory':
    case 'checkpoint':
      for (const [k, v] of Object.entries(e)) if (!NOT_SERIES.has(k)) add(`${e.type}:${k}`, e.step, v);
      break;
  }
  return out;
}
