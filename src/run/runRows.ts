/**
 * A recorded run as a row of the runs table (`rbp runs`, the dashboard): its description, progress
 * (runSummary.ts, kept in run.json by the recorder) and checkpoints. No tfjs, no vscode.
 */
import * as path from 'path';
import { listRuns, runProgress, type RunDescription } from './recorder';
import { listCheckpoints } from './checkpointFiles';
import { flattenConfig, type RunRow } from '../shared/runsTable';

const numAt = (config: Record<string, unknown>, section: string, key: string): number | null => {
  const s = config[section];
  const v = typeof s === 'object' && s !== null ? (s as Record<string, unknown>)[key] : undefined;
  return typeof v === 'number' ? v : null;
};

/**
 * One row of the runs table from a run's description (liveness applied by the caller) and its
 * folder: the progress from run.json (or the log's tail), the checkpoints' steps, the config
 * flattened. The learning rate is `train.lr` (hypergrad's optimiser: `train.meta_lr`).
 */
export function runRow(dir: string, d: RunDescription): RunRow {
  const status = d.status === 'cancelled' ? 'stopped' : d.status;
  if (d.unreadable !== undefined) {
    return { runId: d.runId, name: d.runId, experiment: d.experiment, status, unreadable: d.unreadable, reason: d.reason, method: '?', K: null, T: null, lr: null, seed: null, stepsDone: null, stepsPlanned: null, durationMs: null, startedAt: d.startedAt, finalLoss: null, finalEval: null, lastRho: null, lastProbe: null, checkpoints: [], config: {} };
  }
  const p = runProgress(dir, d);
  const seed = d.config.seed;
  return {
    runId: d.runId,
    name: d.label ?? d.runId,
    experiment: d.experiment,
    status,
    ...(d.reason !== undefined ? { reason: d.reason } : {}),
    method: d.method,
    K: d.K,
    T: d.T || null,
    lr: numAt(d.config, 'train', 'meta_lr') ?? numAt(d.config, 'train', 'lr'),
    seed: typeof seed === 'number' ? seed : null,
    stepsDone: p.stepsDone,
    stepsPlanned: p.stepsPlanned ?? (d.steps || null),
    durationMs: p.durationMs || (d.finishedAt ? Date.parse(d.finishedAt) - Date.parse(d.startedAt) : null),
    startedAt: d.startedAt,
    finalLoss: p.finalLoss,
    finalEval: p.finalEval,
    lastRho: p.lastRho,
    lastProbe: p.lastProbe,
    checkpoints: d.method === 'gradcheck' ? [] : listCheckpoints(dir).map((c) => c.step),
    config: flattenConfig(d.config),
  };
}

/** The rows of every run under a runs root, newest first (an unreadable record is a row too). */
export function listRunRows(root: string): RunRow[] {
  return listRuns(root).map((d) => runRow(path.join(root, d.runId), d));
}
