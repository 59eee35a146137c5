/**
 * Compare TBPTT vs Neumann-RBP: the gradient check the extension runs in a worker (RunSpec.gradcheck,
 * the spec the command builds) gives the same numbers as `rbp gradcheck --json` for the same
 * experiment and overrides (every K on identical weights and batch); the headline states the
 * report's numbers, ✓ when the claim holds and ✗ when it does not (ρ(J) ≥ 1).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { startWorkerRun, chooseNode } from '../../src/extension/workerHost';
import { readRun } from '../../src/run/recorder';
import { compareHeadline, compareRunOptions, parseKs, sci, mib, headlineK, memoryTrend, type Report } from '../../src/shared/compareSummary';
import { repoRoot } from '../helpers/setup';

const root = repoRoot;
const cli = path.join(root, 'dist', 'cli.js');
const worker = path.join(root, 'dist', 'worker.js');
const Ks = [5, 10, 20, 40];
const OVERRIDES = ['model.num_update=30'];

let cliReport: Report | undefined;
function cliGradcheck(): Report {
  cliReport ??= JSON.parse(execFileSync(process.execPath, [cli, 'gradcheck', 'hopfield', '--truncate', Ks.join(','), '--method', 'TBPTT,Neumann_RBP', '--json', ...OVERRIDES.flatMap((o) => ['--set', o])], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Report;
  return cliReport;
}

test('parseKs and the run options the command gives the worker', () => {
  assert.deepEqual(parseKs('5, 10, 20, 40'), [5, 10, 20, 40]);
  assert.deepEqual(parseKs('40 5;10,10'), [5, 10, 40]);
  assert.match(String(parseKs('5, x')), /'x' is not an integer/);
  assert.match(String(parseKs('0')), /integer ≥ 1/);
  assert.match(String(parseKs('  ')), /at least one/);
  assert.deepEqual(compareRunOptions(Ks), { method: 'Neumann_RBP', K: 20, gradcheck: { Ks, methods: ['TBPTT', 'Neumann_RBP'] } });
  assert.equal(headlineK([5, 10]), 10);
});

test('the worker’s gradient check (as Compare runs it) equals `rbp gradcheck --json` row by row', { timeout: 240_000 }, async () => {
  const runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-compare-'));
  const rows: unknown[] = [];
  const run = startWorkerRun({ experiment: 'hopfield', ...compareRunOptions(Ks), backend: 'auto', overrides: OVERRIDES }, { workerScript: worker, runsRoot, node: chooseNode(undefined) }, { onEvent: (e) => e.type === 'gradcheck/row' && rows.push(e.row) });
  const o = await run.done;
  assert.equal(o.status, 'completed', o.reason);
  const { description, events } = readRun(o.dir);
  assert.equal(description?.method, 'gradcheck', 'recorded as a gradcheck run');
  const result = events.find((e) => e.type === 'gradcheck/result');
  assert.ok(result && result.type === 'gradcheck/result');
  const ours = result.report;
  const theirs = cliGradcheck();
  // Rows streamed one by one, the same as the final report's.
  assert.equal(rows.length, ours.rows.length);
  assert.equal(ours.rows.length, 2 + Ks.length * 2, 'exact, BPTT, then TBPTT and Neumann-RBP at every K');
  assert.deepEqual(ours.Ks, Ks);
  assert.equal(ours.backend, theirs.backend);
  assert.equal(ours.rho, theirs.rho);
  assert.deepEqual(ours.forward, theirs.forward);
  assert.equal(ours.rows.length, theirs.rows.length);
  ours.rows.forEach((r, i) => {
    const t = theirs.rows[i];
    const at = `${r.method} K=${r.K}`;
    assert.equal(r.method, t.method, at);
    assert.equal(r.K, t.K, at);
    assert.equal(r.relErrExact, t.relErrExact, `${at}: relErrExact`);
    assert.equal(r.cosExact, t.cosExact, `${at}: cosExact`);
    assert.equal(r.relErrBptt, t.relErrBptt, `${at}: relErrBptt`);
    assert.equal(r.cosBptt, t.cosBptt, `${at}: cosBptt`);
    assert.equal(r.peakBytes, t.peakBytes, `${at}: peakBytes`);
    assert.equal(r.loss, t.loss, `${at}: loss`);
    assert.deepEqual(r.residualTrace, t.residualTrace, `${at}: residual trace`);
  });
  // Identical weights and batch: every row's loss is the same forward pass.
  assert.equal(new Set(ours.rows.map((r) => r.loss)).size, 1, 'one batch, one set of weights');
});

test('the headline states the report’s numbers: ✓ on Hopfield (contractive)', { timeout: 120_000 }, () => {
  const r = cliGradcheck();
  const h = compareHeadline(r);
  const n = r.rows.find((x) => x.method === 'Neumann_RBP' && x.K === 20)!;
  const t = r.rows.find((x) => x.method === 'TBPTT' && x.K === 20)!;
  assert.equal(h.K, 20);
  assert.equal(h.neumann, n);
  assert.ok(r.rho < 1);
  assert.equal(h.level, 'ok', h.text);
  assert.ok(h.text.startsWith('✓ Neumann-RBP at K=20: error '), h.text);
  assert.ok(h.text.includes(`error ${sci(n.relErrExact)} vs exact`), h.text);
  assert.ok(h.text.includes(`${mib(n.peakBytes)} flat in K`), h.text);
  assert.ok(h.text.includes(`TBPTT: ${mib(t.peakBytes)}`), h.text);
  assert.ok(memoryTrend(r.rows.filter((x) => x.method === 'Neumann_RBP'))!.flat);
});

test('the headline says plainly when the claim fails (ρ(J) ≥ 1: errors ~1, cosines ~0)', () => {
  const bad: Report = {
    experiment: 'cora',
    T: 20,
    Ks: [5, 10, 20, 40],
    methods: ['TBPTT', 'Neumann_RBP'],
    rows: [5, 10, 20, 40].flatMap((K) => [
      { method: 'TBPTT', K, relErrExact: 0.97, cosExact: 0.05, relErrBptt: 0.2, cosBptt: 0.98, timeMs: K * 3, peakBytes: K * 2 ** 20, loss: 1.9, residual: null, residualTrace: [], vjps: K, jvps: 0 },
      { method: 'Neumann_RBP', K, relErrExact: 1.3 * K, cosExact: 0.02, relErrBptt: 1.2 * K, cosBptt: 0.01, timeMs: K, peakBytes: 5 * 2 ** 20, loss: 1.9, residual: 10 * K, residualTrace: [1, 2, 4], vjps: K, jvps: 0 },
    ]),
    forward: { stepsToTol: null, tol: 1e-4, finalRel: 0.3, steps: 20 },
    rho: 1.6,
    verdict: { level: 'bad', trustRbp: false, rho: 1.6, forwardConverged: false, finalRelResidual: 0.3, message: 'ρ(J) = 1.6 ≥ 1: the Neumann series diverges' },
    exactConverged: false,
    backend: 'cpu',
  };
  const h = compareHeadline(bad);
  assert.equal(h.level, 'bad');
  assert.ok(h.text.startsWith('✗ Neumann-RBP fails here: ρ(J) = 1.6 ≥ 1'), h.text);
  assert.ok(h.text.includes('error 26 vs exact, cosine 0.02'), h.text);
  assert.ok(h.details.some((d) => /exact reference did not converge/.test(d)));
});

test('protocol: the overlay settings in the webview state and wall times in overlay series are validated', async () => {
  const { parseWebviewMessage, parseHostToWebview } = await import('../../src/protocol/messages');
  const ok = parseWebviewMessage({ type: 'ready', state: { runId: 'a', overlay: { smoothing: 0.6, yScale: 'log', xAxis: 'wall', ignoreOutliers: true, hidden: ['b'], metric: 'loss' } } });
  assert.equal(ok.type, 'ready');
  assert.throws(() => parseWebviewMessage({ type: 'ready', state: { overlay: { xAxis: 'time' } } }), /xAxis/);
  assert.throws(() => parseWebviewMessage({ type: 'ready', state: { overlay: { hidden: [1] } } }), /hidden/);
  // issue 19: the panels (small multiples), in the state, in overlaySettings (kept by the host) and sent back with the series.
  const panels = [{ metric: 'train:grad_norm', yScale: 'linear' }, { metric: 'diagnostics:rho' }];
  assert.deepEqual(parseWebviewMessage({ type: 'overlaySettings', settings: { panels, xAxis: 'wall' } }), { type: 'overlaySettings', settings: { panels, xAxis: 'wall' } });
  assert.throws(() => parseWebviewMessage({ type: 'overlaySettings', settings: { panels: [{ metric: 'loss', yScale: 'sqrt' }] } }), /yScale/);
  assert.throws(() => parseWebviewMessage({ type: 'ready', state: { overlay: { panels: [{ yScale: 'log' }] } } }), /metric/);
  assert.equal(parseHostToWebview({ type: 'overlay', series: [], settings: { panels } }).type, 'overlay');
  assert.equal(parseHostToWebview({ type: 'overlay', series: [{ runId: 'a', label: 'a', metric: 'loss', points: [[0, 1]], wallMs: [5] }] }).type, 'overlay');
  assert.throws(() => parseHostToWebview({ type: 'overlay', series: [{ runId: 'a', label: 'a', metric: 'loss', points: [[0, 1]], wallMs: ['x'] }] }), /wallMs/);
  const { overlaySeries } = await import('../../src/extension/replay');
  const d = { protocol: 1, runId: 'r1', experiment: 'hopfield', title: '', runner: '', method: 'RBP', K: 5, T: 3, steps: 2, status: 'completed' as const, startedAt: '', config: {}, finalMetrics: {}, label: 'mine' };
  // Wall time: each event's recorded time (t) since run/started's, one clock for every series (not the runner's elapsedMs).
  const ev = (step: number, t: number) => ({ type: 'metrics' as const, step, elapsedMs: 999, kind: 'train' as const, values: { loss: 1 / (step + 1) }, runId: 'r1', seq: step + 1, t });
  const started = { type: 'run/started', runId: 'r1', seq: 0, t: 5000 } as unknown as Parameters<typeof overlaySeries>[1][number];
  const [s] = overlaySeries(d, [started, ev(0, 5010), ev(1, 5030)]);
  assert.deepEqual(s.points, [[0, 1], [1, 0.5]]);
  assert.deepEqual(s.wallMs, [10, 30]);
  assert.match(s.label, /^mine/, 'a renamed run shows its label');
});
