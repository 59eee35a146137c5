/**
 * The runs table at scale (issue 19): `npm run bench:runs` generates N recorded runs (default
 * 1,000) whose events.jsonl hold ~2 MB each (about 900 steps: a forward trace of 30 residuals,
 * a backward trace of 10, metrics and memory per step, an evaluation and ρ(J) every 20 steps, a probe
 * every 25) in a folder under the temp dir, once (a later run reuses it), then times:
 *   - `rbp runs --runs-dir ROOT` and `--json` (the CLI, a fresh process, wall time),
 *   - the runs store's listing (RunsStore.rows(): what the dashboard sends on open), and what it
 *     sends when one run's run.json changes (RunsStore.update of that run, merged by applyRunsUpdate),
 *   - the table model on those rows (columns, filter, sort, the rows in view),
 *   - the fallback for runs recorded before run.json kept a summary (the 512 KiB tail of each log),
 *   - and, for contrast, reading whole logs (20 of them, scaled to N).
 * A script that prints figures; nothing asserts a time.
 *
 *   npm run bench:runs [-- --runs 1000 --mb 2 --root /tmp/rbp-runs-scale]
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunsStore } from '../src/extension/runsStore';
import { listRuns, recordedEvents } from '../src/run/recorder';
import { emptyProgress, foldProgress, progressFromTail } from '../src/run/runSummary';
import { columnsFor, filterRows, rowsInView, sortRows } from '../src/shared/runsTable';
import { applyRunsUpdate } from '../src/shared/runsUpdate';
import { PROTOCOL_VERSION } from '../src/protocol/messages';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const N = Number(opt('runs', '1000'));
const MB = Number(opt('mb', '2'));
const root = opt('root', path.join(os.tmpdir(), `rbp-runs-scale-${N}x${MB}MB`));
const cli = path.join(__dirname, 'cli.js');
const METHODS = ['BPTT', 'TBPTT', 'RBP', 'CG_RBP', 'Neumann_RBP'];

/** One run's events.jsonl text, grown step by step to `bytes`; its steps count. */
function eventsText(runId: string, bytes: number): { text: string; steps: number } {
  const lines: string[] = [];
  let size = 0;
  let seq = 0;
  const t0 = Date.UTC(2026, 0, 1);
  const push = (e: Record<string, unknown>) => {
    const l = JSON.stringify({ ...e, runId, seq: seq++, t: t0 + seq * 50 });
    lines.push(l);
    size += l.length + 1;
  };
  let step = 0;
  for (; size < bytes; step++) {
    const rel = Array.from({ length: 30 }, (_, k) => Math.exp(-k / 4) * (1 + 0.01 * Math.sin(step + k)));
    push({ type: 'trace/forward', step, abs: rel.map((r) => r * 3.1), rel, converged: true, diverged: false });
    push({ type: 'trace/backward', step, method: 'Neumann_RBP', residual: rel.slice(0, 10), termNorm: rel.slice(0, 10) });
    push({ type: 'metrics', step, elapsedMs: step * 50, kind: 'train', values: { loss: 1 / (step + 1), grad_norm: 0.5 + Math.sin(step) / 10, step_ms: 48, forward_rel_residual: rel[29] } });
    push({ type: 'memory', step, peakBytes: 1e8, liveBytes: 5e7, rssBytes: 7e8, numTensors: 120 });
    if (step % 25 === 0) push({ type: 'probe', step, method: 'Neumann_RBP', K: 20, relErrExact: 1e-6, cosExact: 1, relErrBptt: 1e-6, cosBptt: 1, rho: 0.4, exactResidual: 1e-9, exactConverged: true, ms: 900 });
    if ((step + 1) % 20 === 0) {
      push({ type: 'metrics', step, elapsedMs: step * 50, kind: 'eval', values: { eval_l1: 0.2, retrieval_bit_err: 0.15 } });
      push({ type: 'diagnostics', step, rho: 0.4, verdict: { level: 'ok', trustRbp: true, rho: 0.4, forwardConverged: true, finalRelResidual: 1e-9, message: 'contractive' } });
    }
  }
  push({ type: 'run/finished', status: 'completed', elapsedMs: step * 50, summary: { images: 10 } });
  return { text: lines.join('\n') + '\n', steps: step };
}

function generate(): void {
  if (fs.existsSync(path.join(root, 'DONE'))) {
    console.log(`reusing ${N} runs in ${root}`);
    return;
  }
  fs.mkdirSync(root, { recursive: true });
  const t = Date.now();
  const { text, steps } = eventsText('template', MB * 1e6);
  // Every run has the same log (the listing never reads logs whole); its summary is folded once.
  const tmpl = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-runs-template-'));
  fs.writeFileSync(path.join(tmpl, 'events.jsonl'), text);
  const p = emptyProgress(steps);
  for (const e of recordedEvents(tmpl)) foldProgress(p, e, Date.UTC(2026, 0, 1));
  fs.rmSync(tmpl, { recursive: true });
  for (let i = 0; i < N; i++) {
    const method = METHODS[i % 5];
    const runId = `20260101-${String(i).padStart(5, '0')}-hopfield-${method}`;
    const dir = path.join(root, runId);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'events.jsonl'), text);
    // run.json as the recorder writes it, with the summary of those events.
    const startedAt = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
    const lr = [1e-3, 1e-4, 3e-4][i % 3];
    const config = { exp_name: 'Hopfield', runner: 'HopfieldRunner', seed: 1234 + (i % 4), dataset: { name: 'MNIST', num_imgs: 10, corrupt_level: 0.5 }, model: { name: 'HopfieldNet', num_update: 50, grad_method: method, truncate_iter: 20 }, train: { optimizer: 'Adam', lr, batch_size: 10, max_epoch: 100, valid_epoch: 2 } };
    const d = { protocol: PROTOCOL_VERSION, runId, experiment: 'hopfield', title: 'Hopfield', runner: 'HopfieldRunner', method, K: method === 'BPTT' ? null : 20, T: 50, steps, status: 'completed', startedAt, finishedAt: startedAt, backend: 'wasm', config, finalMetrics: { loss: p.finalLoss?.value ?? 0 }, summary: { images: 10, ...p } };
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(d, null, 2));
    if (i % 100 === 99) process.stdout.write(`  generated ${i + 1} runs (${((Date.now() - t) / 1000).toFixed(0)} s)\n`);
  }
  fs.writeFileSync(path.join(root, 'DONE'), '');
  console.log(`generated ${N} runs of ${(Buffer.byteLength(text) / 1e6).toFixed(2)} MB (${steps} steps) in ${((Date.now() - t) / 1000).toFixed(0)} s: ${root}`);
}

function time<T>(f: () => T): { ms: number; value: T } {
  const t = process.hrtime.bigint();
  const value = f();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, value };
}

generate();
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const flags of [[], ['--json']]) {
  const runs = [0, 1, 2].map(() => time(() => spawnSync(process.execPath, [cli, 'runs', '--runs-dir', root, ...flags], { encoding: 'utf8', maxBuffer: 1 << 30 })));
  const lines = runs[0].value.stdout.split('\n').length;
  console.log(`rbp runs ${flags.join(' ')}`.padEnd(22) + `${runs.map((r) => fmt(r.ms)).join(', ')} (3 runs, wall time of the process; exit ${runs[0].value.status}, ${lines} lines)`);
}
const store = new RunsStore(root);
const listing = [0, 1, 2].map(() => time(() => store.rows()));
const rows = listing[0].value;
console.log(`store listing          ${listing.map((r) => fmt(r.ms)).join(', ')} (RunsStore.rows(): ${rows.length} rows)`);
const one = rows[Math.floor(rows.length / 2)].runId;
const update = [0, 1, 2].map(() => time(() => applyRunsUpdate(rows, store.update([one]).rows, []).length));
console.log(`one run changed        ${update.map((r) => fmt(r.ms)).join(', ')} (RunsStore.update of 1 run, merged into the ${rows.length} rows)`);
const model = time(() => {
  const cols = columnsFor(rows);
  const f = filterRows(rows, 'neumann 1.00e-4', cols);
  const s = sortRows(rows, { column: 'loss', dir: 'asc' }, cols);
  const v = rowsInView(s.length, 26 * 500, 340, 26);
  return { cols: cols.length, filtered: f.length, inView: v.last - v.first + 1 };
});
console.log(`table model            ${fmt(model.ms)} (columns ${model.value.cols}, filter → ${model.value.filtered} rows, sort by loss, rows in view ${model.value.inView} of ${rows.length})`);
const tail = time(() => listRuns(root).map((d) => progressFromTail(path.join(root, d.runId), d.steps, Date.parse(d.startedAt))));
console.log(`old runs (no summary)  ${fmt(tail.ms)} (the 512 KiB tail of each of ${tail.value.length} logs)`);
const SAMPLE = Math.min(20, N);
const full = time(() => listRuns(root).slice(0, SAMPLE).reduce((n, d) => n + [...recordedEvents(path.join(root, d.runId))].length, 0));
console.log(`whole logs (contrast)  ${fmt(full.ms)} for ${SAMPLE} logs (${full.value} events) → ~${fmt((full.ms * N) / SAMPLE)} for ${N}`);
