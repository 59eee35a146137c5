/** Inline config notes from a gradient check and from a recorded run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notesFromGradcheck, notesFromRun } from '../../src/config/inline';
import type { GradcheckReport, GradcheckRow } from '../../src/run/gradcheck';
import type { Envelope } from '../../src/protocol/messages';

const row = (method: GradcheckRow['method'], K: number | null, relErr: number, peakMB: number): GradcheckRow => ({
  method, K, relErrExact: relErr, cosExact: 1 - relErr, relErrBptt: relErr, cosBptt: 1 - relErr, timeMs: 10, peakBytes: peakMB * 2 ** 20, loss: 1, residual: relErr, residualTrace: [relErr], vjps: 1, jvps: 0,
});

const report: GradcheckReport = {
  experiment: 'hopfield', T: 50, Ks: [20], methods: ['TBPTT', 'Neumann_RBP'],
  rows: [row('exact', null, 0, 30), row('BPTT', null, 0, 60), row('TBPTT', 20, 1e-6, 50), row('Neumann_RBP', 20, 6e-8, 26)],
  forward: { stepsToTol: 23, tol: 1e-4, finalRel: 3e-8, steps: 50 }, rho: 0.68,
  verdict: { level: 'ok', trustRbp: true, rho: 0.68, forwardConverged: true, finalRelResidual: 3e-8, message: 'Neumann series converges, ρ(J) = 0.68' },
  exactConverged: true, backend: 'wasm',
};

test('gradient-check notes land on the T field, truncate_iter and grad_method', () => {
  const notes = notesFromGradcheck('HopfieldRunner', 'Neumann_RBP', 20, report);
  const by = Object.fromEntries(notes.map((n) => [n.path, n]));
  assert.match(by['model.num_update'].text, /✓ 23 steps to 0.0001 · residual 3.0e-8 · ρ\(J\) = 0.68/);
  assert.match(by['model.truncate_iter'].text, /K=20 Neumann-RBP: rel err 6.0e-8, cos 1.0000 vs exact · peak 26 MiB vs TBPTT 50 MiB/);
  assert.equal(by['model.grad_method'].text, 'Neumann series converges, ρ(J) = 0.68');
  const gnn = notesFromGradcheck('CitationRunner', 'TBPTT', 20, { ...report, verdict: { ...report.verdict, level: 'bad', message: 'ρ(J) = 1.7 > 1: truncated gradients unreliable here' } });
  assert.ok(gnn.some((n) => n.path === 'model.num_prop'));
  assert.equal(gnn.find((n) => n.path === 'model.grad_method')!.level, 'bad');
});

test('run notes use the last forward trace, backward trace and diagnostics', () => {
  const base = { runId: 'r', seq: 0, t: 0 };
  const events = [
    { ...base, type: 'trace/forward', step: 0, abs: [1, 0.1], rel: [1, 0.5], converged: false, diverged: false },
    { ...base, type: 'trace/forward', step: 1, abs: [1, 1e-6], rel: [1, 1e-6], converged: true, diverged: false },
    { ...base, type: 'trace/backward', step: 1, method: 'Neumann_RBP', residual: [0.5, 1e-5], termNorm: [null, null] },
    { ...base, type: 'diagnostics', step: 1, rho: 0.5, verdict: report.verdict },
  ] as Envelope[];
  const notes = notesFromRun('HopfieldRunner', events);
  assert.match(notes[0].text, /✓ 2 steps to 0.0001 · residual 1.0e-6 · ρ\(J\) = 0.50 \(last run, step 1\)/);
  // Steps count from 0 in every note, as the recorded events do: the T line's step is the verdict's
  // when both come from the same step (it said 'step 2' beside 'As of step 1' before).
  assert.equal(/\(last run, step (\d+)\)/.exec(notes[0].text)?.[1], /^As of step (\d+):/.exec(notes[2].text)?.[1]);
  assert.match(notes[1].text, /Neumann-RBP: adjoint residual 1.0e-5 after 2 iterations/);
  assert.equal(notes[2].path, 'model.grad_method');
});

test('gradient-check hovers state the report’s numbers (each field its own value)', () => {
  // Every number distinct, so that a hover quoting the wrong field (e.g. the error against BPTT as
  // the one against exact: a mutant the e2e also catches) or the wrong row fails.
  const n20: GradcheckRow = { ...row('Neumann_RBP', 20, 6e-8, 26), cosExact: 0.999, relErrBptt: 2e-7, cosBptt: 0.998, timeMs: 11 };
  const t20: GradcheckRow = { ...row('TBPTT', 20, 1e-6, 50), timeMs: 12 };
  const r: GradcheckReport = { ...report, rows: [row('exact', null, 0, 30), row('BPTT', null, 0, 60), t20, n20, { ...n20, K: 5, relErrExact: 0.5 }] };
  const by = Object.fromEntries(notesFromGradcheck('HopfieldRunner', 'Neumann_RBP', 20, r).map((n) => [n.path, n]));
  assert.equal(by['model.num_update'].hover, '**Forward convergence** (T = 50): relative residual 3.0e-8 after 50 steps; below 0.0001 after 23 steps. Spectral radius of J at the fixed point: 0.680.');
  assert.equal(by['model.truncate_iter'].hover, '**Gradient at K = 20** (Neumann-RBP): relative error 6.00e-8 and cosine 0.999000 against the exact implicit gradient; against BPTT 2.00e-7 / 0.998000. Time 11 ms, peak tensor memory 26.0 MiB (TBPTT at this K: 50.0 MiB, 12 ms).');
  assert.equal(by['model.grad_method'].hover, `**Verdict**: ${report.verdict.message}`);
});

test('the last gradient probe of a run: its error vs exact and BPTT and its step, at grad_method', () => {
  const base = { runId: 'r', seq: 0, t: 0 };
  const probe = (step: number, relErrExact: number, relErrBptt: number | null) => ({ ...base, type: 'probe', step, method: 'TBPTT', K: 5, relErrExact, cosExact: 1 - relErrExact, relErrBptt, cosBptt: relErrBptt === null ? null : 0.99, rho: 0.72, exactResidual: 1e-9, exactConverged: true, ms: 812 }) as Envelope;
  // Every number distinct: a note quoting the first probe, or BPTT's error as exact's, fails.
  const events = [probe(0, 3e-7, 4e-7), { ...base, type: 'diagnostics', step: 250, rho: 0.72, verdict: report.verdict } as Envelope, probe(250, 2e-3, 5e-4)];
  const notes = notesFromRun('HopfieldRunner', events).filter((n) => n.path === 'model.grad_method');
  assert.equal(notes.length, 2, 'the probe, then the verdict');
  assert.equal(notes[0].text, 'TBPTT(5) gradient: rel err 2.0e-3 vs exact, 5.0e-4 vs BPTT (last run, step 250)');
  assert.equal(notes[0].level, 'ok');
  assert.equal(notes[0].hover, '**Gradient probe at step 250** (the last of the run): the TBPTT(5) gradient the run trains with has relative error 2.00e-3 and cosine 0.998000 against the exact implicit gradient; against BPTT 5.00e-4 / 0.990000. ρ(J) = 0.720; the probe took 812 ms.');
  // The verdict says the step it was measured at (mutant caught: the note without it).
  assert.equal(notes[1].text, `As of step 250: ${report.verdict.message}`);
  assert.equal(notes[1].hover, `**Verdict (as of step 250)**: ${report.verdict.message}`);
  // Not probed against BPTT; a gradient far from exact is flagged.
  const [far] = notesFromRun('HopfieldRunner', [probe(40, 0.4, null)]);
  assert.equal(far.text, 'TBPTT(5) gradient: rel err 0.40 vs exact (last run, step 40)');
  assert.equal(far.level, 'bad', 'cosine 0.6 vs exact');
  assert.equal(notesFromRun('HopfieldRunner', []).length, 0, 'no probe, no note');
});
