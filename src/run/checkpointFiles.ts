/**
 * Where a run's checkpoints are (`<run>/checkpoints/step-<N>.rbpck`) and which steps it has: the
 * folder listing alone, without TensorFlow.js, so the extension host can offer "Compare at this
 * step" (the format itself is src/run/checkpoint.ts).
 */
import * as fs from 'fs';
import * as path from 'path';

export const CHECKPOINT_DIR = 'checkpoints';

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}.rbpck`;
}

/** The checkpoints of a run folder, by step (ascending). */
export function listCheckpoints(runDir: string): { step: number; file: string }[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(runDir, CHECKPOINT_DIR));
  } catch {
    return [];
  }
  return names
    .map((n) => /^step-(\d+)\.rbpck$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), file: path.join(runDir, CHECKPOINT_DIR, m[0]) }))
    .sort((a, b) => a.step - b.step);
}
