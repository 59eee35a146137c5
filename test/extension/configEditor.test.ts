/** The vscode-free half of the config editor (src/extension/configEditor/: model, lines, dataFolder, digest, sparkline, hover). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseConfigText } from '../../src/config/load';
import type { GradcheckReport, GradcheckRow } from '../../src/run/gradcheck';
import type { Envelope } from '../../src/protocol/messages';
import { configDiagnostics, detectRunner, lensLine, lineDecorations, placeNotes } from '../../src/extension/configEditor/model';
import { issueSpan, LineIndex } from '../../src/extension/configEditor/lines';
import { dataFolderProblem } from '../../src/extension/configEditor/dataFolder';
import { configModel, digestEvents, foldEvent, nearestK, notesForRun, runVerdict } from '../../src/extension/configEditor/digest';
import { sparklineSvg, svgDataUri } from '../../src/extension/configEditor/sparkline';
import { hoverMarkdown } from '../../src/extension/configEditor/hover';
import { repoRoot } from '../helpers/setup';

const repo = repoRoot;
const read = (f: string) => fs.readFileSync(path.join(repo, 'configs', f), 'utf8');
const hopfield = read('hopfield.yaml');
const lineOf = (text: string, re: RegExp) => text.split('\n').findIndex((l) => re.test(l));

test('configs are detected by their top-level runner', () => {
  assert.equal(detectRunner(hopfield), 'HopfieldRunner');
  assert.equal(detectRunner(read('cora.yaml')), 'CitationRunner');
  assert.equal(detectRunner(read('hypergrad.yaml')), 'HypergradRunner');
  assert.equal(detectRunner("runner: 'HypergradRunner'  # quoted\n"), 'HypergradRunner');
  assert.equal(detectRunner('name: ci\non:\n  push: {}\n'), undefined);
  assert.equal(detectRunner('model:\n  runner: HopfieldRunner\n'), undefined, 'only the top level counts');
  assert.equal(detectRunner('runner: Runner\n'), undefined);
});

test('the built-in configs have no problems beyond hints', () => {
  for (const f of ['hopfield.yaml', 'hypergrad.yaml']) {
    const { diagnostics } = configDiagnostics(read(f));
    assert.deepEqual(diagnostics.filter((d) => d.severity !== 'hint'), [], f);
    assert.ok(diagnostics.some((d) => d.severity === 'hint' && /use_gpu is accepted and ignored/.test(d.message)));
  }
});

test('a misspelt field is an error on its key, with the CLI message', () => {
  const text = hopfield.replace('  truncate_iter: 20', '  truncat_iter: 20');
  const { diagnostics } = configDiagnostics(text);
  const errs = diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errs.length, 1);
  assert.equal(errs[0].message, "unknown field 'model.truncat_iter' (did you mean 'truncate_iter'?)");
  const line = lineOf(text, /truncat_iter/);
  assert.deepEqual(errs[0].span, { start: { line, character: 2 }, end: { line, character: 2 + 'truncat_iter'.length } });
  // The same message the CLI prints: the parser's.
  assert.equal(parseConfigText(text).issues.find((i) => i.severity === 'error')!.message, errs[0].message);
});

test('wrong types and out-of-range K are errors on the value', () => {
  const text = hopfield.replace('truncate_iter: 20', 'truncate_iter: 0').replace('num_update: 50', 'num_update: fifty');
  const errs = configDiagnostics(text).diagnostics.filter((d) => d.severity === 'error');
  const k = errs.find((d) => d.path === 'model.truncate_iter')!;
  assert.match(k.message, /model.truncate_iter must be ≥ 1, got 0/);
  const kl = lineOf(text, /truncate_iter/);
  assert.deepEqual(k.span, { start: { line: kl, character: 17 }, end: { line: kl, character: 18 } });
  const t = errs.find((d) => d.path === 'model.num_update')!;
  assert.match(t.message, /must be a number/);
  assert.equal(t.span.start.line, lineOf(text, /num_update/));
  assert.equal(t.span.end.line, t.span.start.line, 'a value range never runs onto the next line');
});

test('YAML syntax errors land on their line', () => {
  const text = 'runner: HopfieldRunner\nmodel:\n  num_update: [1, 2\n';
  const d = configDiagnostics(text).diagnostics;
  assert.ok(d.length >= 1 && d[0].severity === 'error' && /YAML syntax/.test(d[0].message));
  assert.ok(d[0].span.start.line <= 3);
});

test('issueSpan widens an empty range to the word, or the line', () => {
  const idx = new LineIndex('a: 1\n  foo: bar\n');
  assert.deepEqual(issueSpan(idx, { offset: [7, 7], line: 2, column: 3 }), { start: { line: 1, character: 2 }, end: { line: 1, character: 5 } });
  assert.deepEqual(issueSpan(idx, { offset: [5, 5], line: 2, column: 1 }), { start: { line: 1, character: 2 }, end: { line: 1, character: 10 } });
  assert.deepEqual(idx.positionAt(1000), { line: 2, character: 0 });
});

test('missing Planetoid data folder: a warning at dataset.path unless a folder holds every ind.<name>.* file', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-cfg-'));
  try {
    const cora = read('cora.yaml');
    const parsed = parseConfigText(cora);
    const p = dataFolderProblem(parsed, { baseDirs: [tmp] });
    assert.ok(p);
    assert.equal(p.path, 'dataset.path');
    assert.match(p.message, /the cora data files were not found\. Looked in: .*data\/citation \(dataset.path\): folder does not exist/);
    const { diagnostics } = configDiagnostics(cora, { baseDirs: [tmp] });
    const w = diagnostics.find((d) => d.severity === 'warning')!;
    assert.equal(w.span.start.line, lineOf(cora, /^  path: data\/citation/));
    // An empty folder: named, with the files missing.
    const dir = path.join(tmp, 'data', 'citation');
    fs.mkdirSync(dir, { recursive: true });
    assert.match(dataFolderProblem(parsed, { baseDirs: [tmp] })!.message, /no ind\.cora\.\* files/);
    for (const s of ['x', 'y', 'tx', 'ty', 'allx', 'ally', 'graph']) fs.writeFileSync(path.join(dir, `ind.cora.${s}`), '');
    assert.match(dataFolderProblem(parsed, { baseDirs: [tmp] })!.message, /ind\.cora\.test\.index not found/);
    fs.writeFileSync(path.join(dir, 'ind.cora.test.index'), '1\n');
    assert.equal(dataFolderProblem(parsed, { baseDirs: [tmp] }), undefined);
    // The rbpLab.dataDir setting is enough on its own; a relative path is looked up in every base folder.
    assert.equal(dataFolderProblem(parsed, { baseDirs: [os.tmpdir()], dataDir: dir }), undefined);
    assert.equal(dataFolderProblem(parsed, { baseDirs: [os.tmpdir(), tmp] }), undefined);
    // Other runners are not checked.
    assert.equal(dataFolderProblem(parseConfigText(hopfield), { baseDirs: [] }), undefined);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

const row = (method: GradcheckRow['method'], K: number | null, relErr: number, peakMB: number, trace: (number | null)[] = [relErr]): GradcheckRow => ({
  method, K, relErrExact: relErr, cosExact: 1 - relErr, relErrBptt: relErr, cosBptt: 1 - relErr, timeMs: 10, peakBytes: peakMB * 2 ** 20, loss: 1, residual: relErr, residualTrace: trace, vjps: 1, jvps: 0,
});
const report: GradcheckReport = {
  experiment: 'hopfield', T: 50, Ks: [2, 5], methods: ['TBPTT', 'Neumann_RBP'],
  rows: [row('exact', null, 0, 30), row('BPTT', null, 0, 60), row('TBPTT', 2, 0.3, 40, [null, null]), row('Neumann_RBP', 2, 0.2, 20, [0.5, 0.2]), row('TBPTT', 5, 0.01, 50, [null]), row('Neumann_RBP', 5, 4e-4, 26, [0.5, 0.1, 0.03, 0.01, 4e-4])],
  forward: { stepsToTol: 23, tol: 1e-4, finalRel: 3e-8, steps: 50 }, rho: 0.68,
  verdict: { level: 'ok', trustRbp: true, rho: 0.68, forwardConverged: true, finalRelResidual: 3e-8, message: 'Neumann series converges, ρ(J) = 0.68' },
  exactConverged: true, backend: 'wasm',
};
const env = (e: object, seq: number) => ({ runId: 'r1', seq, t: seq, ...e }) as Envelope;
const started = (method: string) => env({ type: 'run/started', experiment: 'hopfield', title: 't', runner: 'HopfieldRunner', method, K: null, T: 50, steps: 6, stepLabel: 'row', backend: {}, config: {}, startedAt: '', notes: [] }, 0);

test('a gradient check puts its notes on the T, truncate_iter and grad_method lines, at the nearest K', () => {
  const parsed = parseConfigText(hopfield.replace('grad_method: BPTT', 'grad_method: Neumann_RBP'));
  const cfg = configModel(parsed)!;
  assert.deepEqual(cfg, { runner: 'HopfieldRunner', method: 'Neumann_RBP', K: 20 });
  assert.equal(nearestK([2, 5], 20), 5);
  assert.equal(nearestK([5, 10, 20], 20), 20);
  const digest = digestEvents([started('gradcheck'), env({ type: 'gradcheck/row', row: report.rows[0] }, 1), env({ type: 'gradcheck/result', report }, 2), env({ type: 'run/finished', status: 'completed', elapsedMs: 1, summary: {} }, 3)]);
  assert.equal(digest.rows, 1);
  const run = notesForRun(cfg, digest);
  assert.equal(run.kind, 'gradcheck');
  assert.equal(run.status, 'completed');
  const lines = placeNotes(parsed, run.notes);
  const at = (re: RegExp) => lines.find((l) => l.line === lineOf(hopfield, re));
  assert.match(at(/^  num_update:/)!.text, /✓ 23 steps to 0.0001 · residual 3.0e-8 · ρ\(J\) = 0.68/);
  assert.match(at(/^  truncate_iter:/)!.text, /^K=5 Neumann-RBP: rel err 4.0e-4, cos 0.9996 vs exact · peak 26 MiB vs TBPTT 50 MiB$/);
  assert.equal(at(/^  grad_method: BPTT/)!.text, 'Neumann series converges, ρ(J) = 0.68');
  assert.deepEqual(run.backward?.values, [0.5, 0.1, 0.03, 0.01, 4e-4]);
  const deco = lineDecorations(lines);
  assert.deepEqual(deco.map((d) => d.level), ['ok', 'ok', 'ok']);
});

test('a running gradient check says so; a failed run says why', () => {
  const cfg = configModel(parseConfigText(hopfield))!;
  const d = digestEvents([started('gradcheck')]);
  foldEvent(d, env({ type: 'gradcheck/row', row: report.rows[0] }, 1));
  foldEvent(d, env({ type: 'gradcheck/row', row: report.rows[1] }, 2));
  const live = notesForRun(cfg, d);
  assert.equal(live.status, 'running');
  assert.equal(live.notes[0].text, '⋯ gradient check running (2/6 rows)');
  foldEvent(d, env({ type: 'run/failed', kind: 'bad-data', reason: 'no data', elapsedMs: 1 }, 3));
  const failed = notesForRun(cfg, d);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.notes.at(-1)!.level, 'bad');
  assert.match(failed.notes.at(-1)!.text, /last gradient check failed \(bad-data\): no data/);
});

test('a training run gives live notes, the forward residual and the adjoint residual', () => {
  const parsed = parseConfigText(hopfield);
  const cfg = configModel(parsed)!;
  const d = digestEvents([
    started('Neumann_RBP'),
    env({ type: 'trace/forward', step: 0, abs: [1, 0.1], rel: [1, 0.5], converged: false, diverged: false }, 1),
    env({ type: 'metrics', step: 0, elapsedMs: 1, values: { loss: 1 }, kind: 'train' }, 2),
    env({ type: 'trace/forward', step: 1, abs: [1, 1e-6], rel: [1, 0.01, 1e-6], converged: true, diverged: false }, 3),
    env({ type: 'trace/backward', step: 1, method: 'Neumann_RBP', residual: [0.5, 1e-5], termNorm: [null, null] }, 4),
    env({ type: 'diagnostics', step: 1, rho: 0.5, verdict: report.verdict }, 5),
  ]);
  assert.equal(d.events.length, 4, 'one event of each kind kept');
  const live = notesForRun(cfg, d);
  assert.equal(live.status, 'running');
  assert.match(live.notes[0].text, /✓ 3 steps to 0.0001 .*\(running, step 1\)/);
  assert.deepEqual(live.forward, [1, 0.01, 1e-6]);
  assert.deepEqual(live.backward?.values, [0.5, 1e-5]);
  foldEvent(d, env({ type: 'run/finished', status: 'completed', elapsedMs: 1, summary: {} }, 6));
  const done = notesForRun(cfg, d);
  assert.match(done.notes[0].text, /\(last run, step 1\)/, 'the recorded step (from 0), as the verdict counts');
  const lines = placeNotes(parsed, done.notes);
  assert.deepEqual(lines.map((l) => l.path), ['model.num_update', 'model.truncate_iter', 'model.grad_method']);
  // The hover: notes, a data-URI SVG chart and a dashboard link trusted for that command only.
  const md = hoverMarkdown(lines.filter((l) => l.path === 'model.num_update'), { runId: 'run 1', notes: done }, 'forward');
  assert.match(md, /Forward convergence in the last run/);
  assert.match(md, /!\[Forward relative residual per step \(last run\)\]\(data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+\)/);
  assert.ok(md.includes(`(command:rbpLab.openDashboard?${encodeURIComponent('["run 1"]')})`));
  const bmd = hoverMarkdown(lines.filter((l) => l.path === 'model.truncate_iter'), { runId: 'r', notes: done }, 'backward');
  assert.match(bmd, /Neumann-RBP adjoint residual per iteration/);
  // Each hover charts its own quantity: without a forward trace (a gradient check) the T line's hover
  // draws nothing rather than the adjoint residual under 'Forward convergence'.
  const noFwd = hoverMarkdown(lines.filter((l) => l.path === 'model.num_update'), { runId: 'r', notes: { ...done, forward: undefined } }, 'forward');
  assert.doesNotMatch(noFwd, /adjoint|!\[/);
});

test('notes for a field the file does not set go to the model: line; CodeLens sits there too', () => {
  const text = hopfield.replace('  truncate_iter: 20\n', '');
  const parsed = parseConfigText(text);
  assert.equal(lensLine(parsed), lineOf(text, /^model:/));
  const lines = placeNotes(parsed, [{ path: 'model.truncate_iter', text: 'x', level: 'ok', hover: '' }]);
  assert.equal(lines[0].line, lineOf(text, /^model:/));
});

test('sparkline: log scale, gaps for null/zero, nothing when nothing is drawable', () => {
  const svg = sparklineSvg([1, 0.1, 0.01, null, 1e-4, 1e-6], { tol: 1e-4, width: 200, height: 60 })!;
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="200" height="60"/);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 2, 'a gap splits the line');
  assert.equal((svg.match(/<circle/g) ?? []).length, 0);
  assert.match(svg, />1e0</);
  assert.match(svg, />1e-6</);
  assert.match(svg, /stroke-dasharray/);
  // Points go down as the residual falls (SVG y grows downwards).
  const ys = /points="([^"]+)"/.exec(svg)![1].split(' ').map((p) => Number(p.split(',')[1]));
  assert.ok(ys[0] < ys[1] && ys[1] < ys[2]);
  assert.equal(sparklineSvg([null, 0, NaN]), undefined);
  const one = sparklineSvg([0.5])!;
  assert.match(one, /<circle/);
  const uri = svgDataUri(svg);
  assert.ok(uri.startsWith('data:image/svg+xml;base64,'));
  assert.equal(Buffer.from(uri.split(',')[1], 'base64').toString('utf8'), svg);
});

test('notes on one line merge into one decoration at the worst level', () => {
  const d = lineDecorations([
    { line: 3, path: 'a', text: 'one', level: 'ok', hover: '' },
    { line: 1, path: 'b', text: 'first', level: 'info', hover: '' },
    { line: 3, path: 'c', text: 'two', level: 'bad', hover: '' },
  ]);
  assert.deepEqual(d.map(({ line, text, level }) => ({ line, text, level })), [
    { line: 1, text: 'first', level: 'info' },
    { line: 3, text: 'one  ·  two', level: 'bad' },
  ]);
});

test('the grad_method line shows the last probe’s error and step (live, then after the run), beside the verdict', () => {
  const parsed = parseConfigText(hopfield);
  const cfg = configModel(parsed)!;
  const probe = (step: number, relErrExact: number, seq: number) => env({ type: 'probe', step, method: 'Neumann_RBP', K: 20, relErrExact, cosExact: 0.999, relErrBptt: null, cosBptt: null, rho: 0.7, exactResidual: 1e-9, exactConverged: true, ms: 900 }, seq);
  const d = digestEvents([started('Neumann_RBP'), probe(0, 4e-7, 1), env({ type: 'diagnostics', step: 10, rho: 0.7, verdict: report.verdict }, 2), probe(25, 3.5e-4, 3)]);
  const gradLine = (notes: ReturnType<typeof notesForRun>) => lineDecorations(placeNotes(parsed, notes.notes)).find((l) => l.line === lineOf(hopfield, /^\s*grad_method:/));
  // Mutant caught: the digest skipping probe events (as it skips metrics) — no note at all.
  assert.equal(gradLine(notesForRun(cfg, d))?.text, `Neumann-RBP(20) gradient: rel err 3.5e-4 vs exact (running, step 25)  ·  As of row 10: ${report.verdict.message}`);
  foldEvent(d, env({ type: 'run/finished', status: 'completed', elapsedMs: 1, summary: {} }, 4));
  const done = gradLine(notesForRun(cfg, d));
  assert.equal(done?.text, `Neumann-RBP(20) gradient: rel err 3.5e-4 vs exact (last run, step 25)  ·  As of row 10: ${report.verdict.message}`);
  assert.equal(done?.level, 'ok');
});

test('the verdict a config’s Problems entry and quick fixes use: the run’s last diagnosis, the step it was measured at, its advice', () => {
  const cfg = parseConfigText(hopfield).config as unknown as Record<string, unknown>;
  const base = { runId: 'r1', seq: 0, t: 0 };
  const started = { ...base, type: 'run/started', experiment: 'hopfield', title: 'Hopfield', runner: 'HopfieldRunner', method: 'Neumann_RBP', K: 20, T: 50, steps: 40, stepLabel: 'step', backend: { name: 'wasm', description: 'wasm', skipped: [], nodeVersion: 'v20', execPath: 'node' }, config: { ...cfg, model: { ...(cfg.model as object), grad_method: 'Neumann_RBP' } }, startedAt: '', notes: [] } as unknown as Envelope;
  const ok = { level: 'ok', trustRbp: true, rho: 0.3, forwardConverged: true, finalRelResidual: 1e-9, message: 'fine' } as const;
  const warn = { level: 'warn', trustRbp: false, rho: 0.59, forwardConverged: false, finalRelResidual: 0.15, message: 'not converged' } as const;
  const d = digestEvents([started, { ...base, type: 'diagnostics', step: 0, rho: 0.3, verdict: ok }, { ...base, type: 'diagnostics', step: 9, rho: 0.59, verdict: warn }] as Envelope[]);
  const v = runVerdict(d)!;
  assert.equal(v.asOf, 'step 9');
  assert.equal(v.verdict.message, 'not converged');
  // T 50, residual 0.15 at ρ 0.59: the rate predicts 71 steps, so at least 2T.
  assert.deepEqual(v.advice.map((a) => [a.key, a.value]), [['model.num_update', 100], ['model.forward_solver', 'anderson']]);
  // A gradient check at a checkpoint: the verdict is of that step's weights.
  const gc = digestEvents([{ ...started, method: 'gradcheck', stepLabel: 'row', from: { runId: 'r0', step: 30 } } as Envelope, { ...base, type: 'gradcheck/result', report: { verdict: warn } } as unknown as Envelope]);
  assert.equal(runVerdict(gc)!.asOf, 'step 30 of run r0');
  assert.equal(runVerdict(digestEvents([started]))?.asOf, undefined, 'no diagnosis yet: no verdict');
});
