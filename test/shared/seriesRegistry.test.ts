/**
 * The series registry (src/shared/seriesRegistry.ts) against what runs really record: each
 * experiment is run for 2 steps through `rbp run` with a gradient probe every step, an evaluation
 * and a checkpoint, and every numeric field or metric name of every recorded event must have an
 * entry (label, unit, scale, group). Cora is skipped (coraSkip) when ../shared lacks its files.
 * Mutant: deleting the `train:grad_norm` entry (or any other) fails this test naming the key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readRun } from '../../src/run/recorder';
import { seriesInfo, seriesOfEvent } from '../../src/shared/seriesRegistry';
import type { Envelope } from '../../src/protocol/messages';
import { repoRoot, coraSkip, planetoidDir } from '../helpers/setup';

const cli = path.join(repoRoot, 'dist', 'cli.js');
/**
 * Events whose numbers are settings or one-off reports, not series over training; `checkpoint/writing`
 * announces a write whose numbers its `checkpoint` event repeats once the file is in place.
 */
const NOT_SERIES_EVENTS = new Set(['run/started', 'run/finished', 'run/failed', 'log', 'trace/forward', 'trace/backward', 'gradcheck/row', 'gradcheck/result', 'checkpoint/writing']);
const STAMP = new Set(['type', 'runId', 'seq', 't', 'step', 'K', 'pid', 'elapsedMs']);

/** Every numeric field or metric name of the events, as a registry key. */
function recordedKeys(events: Envelope[]): Set<string> {
  const keys = new Set<string>();
  for (const e of events) {
    if (e.type === 'metrics') for (const k of Object.keys(e.values)) keys.add(`${e.kind}:${k}`);
    else if (!NOT_SERIES_EVENTS.has(e.type)) for (const [k, v] of Object.entries(e)) if (!STAMP.has(k) && (typeof v === 'number' || v === null)) keys.add(`${e.type}:${k}`);
    for (const [k] of seriesOfEvent(e)) keys.add(k);
  }
  return keys;
}

function record(experiment: string, args: string[]): Envelope[] {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-series-')), 'run');
  const r = spawnSync(process.execPath, [cli, 'run', experiment, '--steps', '2', '--probe-every', '1', '--backend', 'wasm', '--out', out, ...args], { encoding: 'utf8', timeout: 300000 });
  assert.equal(r.status, 0, r.stderr);
  return readRun(out).events;
}

const RUNS: [string, string[], false | string][] = [
  ['hopfield', ['--method', 'Neumann_RBP', '--truncate', '3', '--set', 'model.num_update=10', '--set', 'dataset.num_imgs=2', '--set', 'train.valid_epoch=1'], false],
  ['hypergrad', ['--method', 'Neumann_RBP', '--truncate', '3', '--set', 'model.num_sgd_step=4', '--set', 'model.batch_size=20', '--set', 'model.mlp_hidden=[784, 10]', '--set', 'model.last_step=minibatch'], false],
  ['cora', ['--method', 'CG_RBP', '--truncate', '3', '--data', planetoidDir, '--set', 'model.num_prop=5', '--set', 'train.valid_epoch=1'], coraSkip()],
];

for (const [experiment, args, skip] of RUNS) {
  test(`every series a ${experiment} run records has a registry entry`, { skip, timeout: 300_000 }, () => {
    const events = record(experiment, args);
    for (const t of ['metrics', 'probe', 'memory', 'diagnostics', 'checkpoint', 'trace/forward']) assert.ok(events.some((e) => e.type === t), `the run recorded ${t} events`);
    const keys = recordedKeys(events);
    const missing = [...keys].filter((k) => !seriesInfo(k));
    assert.deepEqual(missing, [], `recorded series without a registry entry: ${missing.join(', ')}`);
    for (const k of ['train:loss', 'train:grad_norm', 'train:step_ms', 'probe:relErrExact', 'diagnostics:rho', 'memory:peakBytes', 'forward:finalRel']) assert.ok(keys.has(k), `${experiment} records ${k}`);
    // Bytes are given in MiB; the series carries the recorded values.
    const mem = events.find((e) => e.type === 'memory')!;
    assert.ok(mem.type === 'memory');
    assert.deepEqual(seriesOfEvent(mem).find(([k]) => k === 'memory:peakBytes'), ['memory:peakBytes', mem.step, mem.peakBytes / 2 ** 20]);
  });
}

test('registry entries say what they draw: a label, a unit where the value has one, a scale and a group', () => {
  assert.deepEqual(seriesInfo('train:grad_norm'), { key: 'train:grad_norm', label: 'gradient norm ‖∇L‖', unit: '', scale: 'log', group: 'gradient' });
  assert.equal(seriesInfo('train:alpha_3')?.group, 'hyperparameters', 'hypergrad’s per-layer keys through a pattern');
  assert.equal(seriesInfo('train:nonsense'), undefined);
  assert.equal(seriesInfo('memory:rssBytes')?.unit, 'MiB');
});
