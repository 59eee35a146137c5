/** The message protocol's validators at every boundary, and the dashboard replay selection. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseWorkerEvent, parseWorkerMessage, parseHostCommand, parseWebviewMessage, parseHostToWebview, ProtocolError, Envelope } from '../../src/protocol/messages';
import { replaySelection, downsample, overlaySeries } from '../../src/extension/replay';
import type { RunDescription } from '../../src/run/recorder';

const stamp = (seq: number) => ({ runId: 'r1', seq, t: 1000 + seq });
const fwd = (step: number, seq: number) => ({ type: 'trace/forward', step, abs: [1, 0.1, null], rel: [1, 0.1, 0.01], converged: true, diverged: false, ...stamp(seq) });

test('parseWorkerEvent accepts well-formed events and rejects the rest with a reason', () => {
  assert.equal(parseWorkerEvent(fwd(0, 0)).type, 'trace/forward');
  assert.equal(parseWorkerEvent({ type: 'metrics', step: 1, elapsedMs: 5, values: { loss: 1 }, kind: 'train', ...stamp(1) }).type, 'metrics');
  assert.equal(parseWorkerEvent({ type: 'run/failed', kind: 'diverged', reason: 'NaN', elapsedMs: 1, ...stamp(2) }).type, 'run/failed');
  assert.throws(() => parseWorkerEvent(null), ProtocolError);
  assert.throws(() => parseWorkerEvent({ type: 'nope', ...stamp(0) }), /unknown event type/);
  assert.throws(() => parseWorkerEvent({ ...fwd(0, 0), rel: ['x'] }), /'rel'/);
  assert.throws(() => parseWorkerEvent({ type: 'metrics', step: 1, elapsedMs: 5, values: {}, kind: 'test', ...stamp(1) }), /'kind'/);
  assert.throws(() => parseWorkerEvent({ type: 'run/failed', kind: 'exploded', reason: 'x', elapsedMs: 1, ...stamp(2) }), /'kind'/);
  const { runId: _r, ...noRunId } = fwd(0, 0);
  assert.throws(() => parseWorkerEvent(noRunId), /'runId'/);
});

test('parseWorkerMessage: worker/ready or an event envelope', () => {
  assert.deepEqual(parseWorkerMessage({ type: 'worker/ready', pid: 12 }), { type: 'worker/ready', pid: 12 });
  assert.throws(() => parseWorkerMessage({ type: 'worker/ready' }), /'pid'/);
  assert.deepEqual(parseWorkerMessage({ type: 'worker/stopping', pid: 12, saving: true }), { type: 'worker/stopping', pid: 12, saving: true });
  assert.throws(() => parseWorkerMessage({ type: 'worker/stopping', pid: 12 }), /'saving'/);
  assert.equal(parseWorkerMessage(fwd(1, 1)).type, 'trace/forward');
});

test('parseHostCommand checks run/start specs and run/cancel', () => {
  assert.equal(parseHostCommand({ type: 'run/start', runId: 'a', spec: { experiment: 'hopfield', K: 5, overrides: ['model.num_update=10'], nativeSearchPaths: ['/x'] } }).type, 'run/start');
  assert.equal(parseHostCommand({ type: 'run/cancel', runId: 'a' }).type, 'run/cancel');
  assert.throws(() => parseHostCommand({ type: 'run/start', runId: 'a', spec: { experiment: 'hopfield', K: '5' } }), /'K'/);
  assert.equal(parseHostCommand({ type: 'run/start', runId: 'a', spec: { experiment: 'hopfield', finalCheck: true } }).type, 'run/start');
  assert.throws(() => parseHostCommand({ type: 'run/start', runId: 'a', spec: { experiment: 'hopfield', finalCheck: 'yes' } }), /'finalCheck'/);
  assert.throws(() => parseHostCommand({ type: 'run/start', runId: 'a', spec: { experiment: 'h', overrides: [1] } }), /'overrides'/);
  assert.throws(() => parseHostCommand({ type: 'run/cancel' }), /'runId'/);
  assert.throws(() => parseHostCommand({ type: 'run/kill', runId: 'a' }), /unknown command/);
});

test('parseWebviewMessage: what the webview may ask of the host', () => {
  assert.equal(parseWebviewMessage({ type: 'ready' }).type, 'ready');
  assert.equal(parseWebviewMessage({ type: 'ready', state: { runId: 'r', overlayRunIds: ['a', 'b'] } }).type, 'ready');
  assert.throws(() => parseWebviewMessage({ type: 'ready', state: { runId: 3 } }), /'runId'/);
  assert.throws(() => parseWebviewMessage({ type: 'ready', state: 'x' }), /state/);
  assert.equal(parseWebviewMessage({ type: 'stop', runId: 'r' }).type, 'stop');
  assert.throws(() => parseWebviewMessage({ type: 'stop' }), /'runId'/);
  assert.throws(() => parseWebviewMessage({ type: 'export', format: 'exe', chart: 'c', data: '' }), /'format'/);
  assert.throws(() => parseWebviewMessage({ type: 'runCommand', command: 'rm -rf' }), /unknown webview message/);
  assert.throws(() => parseWebviewMessage('ready'), ProtocolError);
});

test('parseHostToWebview validates every event it carries', () => {
  assert.equal(parseHostToWebview({ type: 'events', events: [fwd(0, 0)] }).type, 'events');
  assert.throws(() => parseHostToWebview({ type: 'events', events: [{ ...fwd(0, 0), step: 'x' }] }), /'step'/);
  assert.equal(parseHostToWebview({ type: 'runs', runs: [{ runId: 'r', experiment: 'h', method: 'RBP', K: 5, status: 'running', startedAt: '', finalMetrics: {} }] }).type, 'runs');
  assert.throws(() => parseHostToWebview({ type: 'runs', runs: [{ runId: 'r', experiment: 'h', method: 'RBP', K: 5, status: 'weird', startedAt: '', finalMetrics: {} }] }), /'status'/);
  assert.equal(parseHostToWebview({ type: 'overlay', series: [{ runId: 'r', label: 'l', metric: 'loss', points: [[0, 1]] }] }).type, 'overlay');
  assert.throws(() => parseHostToWebview({ type: 'overlay', series: [{ runId: 'r', label: 'l', metric: 'loss', points: [[0, 'a']] }] }), /'points'/);
  assert.equal(parseHostToWebview({ type: 'trust', trusted: false, reason: 'untrusted' }).type, 'trust');
  assert.throws(() => parseHostToWebview({ type: 'eval', code: 'alert(1)' }), /unknown host message/);
});

test('downsample keeps the ends and at most max points', () => {
  const xs = Array.from({ length: 10001 }, (_, i) => i);
  const d = downsample(xs, 100);
  assert.equal(d.length, 100);
  assert.equal(d[0], 0);
  assert.equal(d.at(-1), 10000);
  assert.deepEqual(downsample([1, 2, 3], 10), [1, 2, 3]);
});

test('replaySelection sends what the charts draw, not the whole record', () => {
  const events: Envelope[] = [];
  let seq = 0;
  events.push({ type: 'run/started', experiment: 'hopfield', title: 'H', runner: 'HopfieldRunner', method: 'RBP', K: 5, T: 3, steps: 5000, stepLabel: 'step', backend: { name: 'cpu', description: 'cpu', skipped: [], nodeVersion: 'v20', execPath: '/n' }, config: {}, startedAt: 'x', notes: [], ...stamp(seq++) });
  for (let i = 0; i < 5000; i++) {
    events.push(parseWorkerEvent(fwd(i, seq++)));
    events.push({ type: 'trace/backward', step: i, method: 'RBP', residual: [1, 0.5], termNorm: [null, null], ...stamp(seq++) });
    events.push({ type: 'metrics', step: i, elapsedMs: i, values: { loss: 1 / (i + 1) }, kind: 'train', ...stamp(seq++) });
    events.push({ type: 'memory', step: i, peakBytes: 1, liveBytes: 1, rssBytes: 1, numTensors: 1, ...stamp(seq++) });
    if (i % 100 === 0) events.push({ type: 'log', level: 'info', text: `step ${i}`, ...stamp(seq++) });
  }
  events.push({ type: 'run/finished', status: 'completed', elapsedMs: 1, summary: {}, ...stamp(seq++) });
  const sel = replaySelection(events, { traceSteps: 5, maxPoints: 1000 });
  const count = (t: string) => sel.filter((e) => e.type === t).length;
  assert.equal(count('run/started'), 1);
  assert.equal(count('run/finished'), 1);
  assert.deepEqual(
    sel.filter((e) => e.type === 'trace/forward').map((e) => (e as { step: number }).step),
    [4995, 4996, 4997, 4998, 4999],
  );
  assert.equal(count('trace/backward'), 5);
  assert.equal(count('metrics'), 1000);
  assert.equal(count('memory'), 1000);
  assert.ok(sel.length < events.length / 8);
  // In recorded order.
  for (let i = 1; i < sel.length; i++) assert.ok(sel[i].seq > sel[i - 1].seq);
  // Last metric kept, so the final loss shows.
  const lastMetric = sel.filter((e) => e.type === 'metrics').at(-1) as { step: number };
  assert.equal(lastMetric.step, 4999);
  const desc = { runId: 'r1', experiment: 'hopfield', method: 'RBP', K: 5 } as RunDescription;
  const ov = overlaySeries(desc, events, 200);
  // issue 19: besides the loss, the registry's series of the traces and memory events, each downsampled.
  assert.deepEqual(ov.map((s) => s.metric).sort(), ['backward:finalResidual', 'backward:iterations', 'forward:finalRel', 'forward:steps', 'loss', 'memory:liveBytes', 'memory:numTensors', 'memory:peakBytes', 'memory:rssBytes']);
  for (const s of ov) assert.equal(s.points.length, 200, s.metric);
});

test('protocol validators reject malformed messages at each boundary', () => {
  assert.throws(() => parseWorkerEvent({ type: 'metrics', runId: 'x', seq: 1, t: 1, step: 'one' }), ProtocolError);
  assert.throws(() => parseWorkerEvent({ type: 'nope', runId: 'x', seq: 1, t: 1 }), /unknown event type/);
  assert.throws(() => parseWorkerEvent('hello'), ProtocolError);
  const ok = parseWorkerEvent({ type: 'trace/forward', runId: 'x', seq: 0, t: 1, step: 0, abs: [1, null], rel: [0.5, null], converged: false, diverged: true });
  assert.equal(ok.type, 'trace/forward');
  assert.throws(() => parseHostCommand({ type: 'run/start', runId: 'x', spec: { experiment: 3 } }), /experiment/);
  assert.equal(parseHostCommand({ type: 'run/cancel', runId: 'x' }).type, 'run/cancel');
  assert.throws(() => parseWebviewMessage({ type: 'export', format: 'exe', chart: 'c', data: '' }), /format/);
  assert.throws(() => parseWebviewMessage({ type: 'eval', code: 'alert(1)' }), /unknown webview message/);
});

test('gradient-check rows survive JSON: NaN and Inf come back as NaN, not null', () => {
  const row = { method: 'RBP', K: 5, relErrExact: Infinity, cosExact: NaN, relErrBptt: 1, cosBptt: 0.5, timeMs: 1, peakBytes: 2, loss: 3, residual: null, residualTrace: [], vjps: 1, jvps: 0 };
  const wire = JSON.parse(JSON.stringify({ type: 'gradcheck/row', runId: 'r', seq: 0, t: 0, row }));
  assert.equal(wire.row.cosExact, null);
  const e = parseWorkerEvent(wire);
  assert.ok(e.type === 'gradcheck/row' && Number.isNaN(e.row.cosExact) && Number.isNaN(e.row.relErrExact));
  assert.equal((e as { row: { cosExact: number } }).row.cosExact.toFixed(6), 'NaN');
  assert.throws(() => parseWorkerEvent({ ...wire, row: { ...wire.row, loss: 'x' } }), /loss/);
});

test('event types named like Object.prototype members are unknown event types', () => {
  // Mutant check: with messages() (protocol/schema.ts) looking `type` up in a plain object table
  // these were accepted (the prototype's function has no fields to check) and recorded or forwarded.
  for (const type of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf']) {
    assert.throws(() => parseWorkerEvent({ type, runId: 'r', seq: 0, t: 0 }), /unknown event type/, type);
    assert.throws(() => parseWorkerMessage({ type, runId: 'r', seq: 0, t: 0 }), /unknown event type/, type);
  }
  assert.throws(() => parseWorkerEvent({ type: 7, runId: 'r', seq: 0, t: 0 }), /unknown event type/);
});

test('a message type is looked up among the channel own types only', () => {
  // A table lookup by `type` finds "toString", "constructor" and "__proto__" on Object.prototype.
  for (const type of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    assert.throws(() => parseWorkerEvent({ type, ...stamp(0) }), /unknown event type/, type);
    assert.throws(() => parseWorkerEvent(JSON.parse(`{"type": ${JSON.stringify(type)}, "runId": "r", "seq": 0, "t": 0}`)), /unknown event type/, type);
    assert.throws(() => parseWorkerMessage({ type, pid: 1 }), /unknown event type/, type);
    assert.throws(() => parseHostCommand({ type, runId: 'a' }), /unknown command type/, type);
    assert.throws(() => parseWebviewMessage({ type, runId: 'a' }), /unknown webview message type/, type);
    assert.throws(() => parseHostToWebview({ type, runId: 'a' }), /unknown host message type/, type);
  }
  assert.throws(() => parseWorkerEvent({ ...fwd(0, 0), type: 3 }), /unknown event type 3/);
});

test('nested fields are checked as declared; NaN written as null reads back as NaN where a number may be NaN', () => {
  const verdict = { level: 'bad', trustRbp: false, rho: NaN, forwardConverged: false, finalRelResidual: Infinity, message: 'ρ(J) could not be estimated' };
  // ρ(J) may be null on the wire (NaN/Inf), and the verdict's numbers are revived.
  const d = parseWorkerEvent(JSON.parse(JSON.stringify({ type: 'diagnostics', step: 3, rho: null, verdict, ...stamp(1) })));
  assert.ok(d.type === 'diagnostics' && d.rho === null && Number.isNaN(d.verdict.rho) && Number.isNaN(d.verdict.finalRelResidual));
  assert.throws(() => parseWorkerEvent({ type: 'diagnostics', step: 3, rho: 0.5, verdict: { ...verdict, level: 'awful' }, ...stamp(1) }), /diagnostics\.verdict: field 'level'/);
  assert.throws(() => parseWorkerEvent({ type: 'diagnostics', step: 3, rho: 'high', verdict, ...stamp(1) }), /'rho'/);
  // Metric values: null is NaN; a string is an error naming the metric.
  const m = parseWorkerEvent({ type: 'metrics', step: 1, elapsedMs: 5, values: { loss: null, acc: 0.5 }, kind: 'eval', ...stamp(2) });
  assert.ok(m.type === 'metrics' && Number.isNaN(m.values.loss) && m.values.acc === 0.5);
  assert.throws(() => parseWorkerEvent({ type: 'metrics', step: 1, elapsedMs: 5, values: { loss: 'low' }, kind: 'eval', ...stamp(2) }), /metrics\.values: field 'loss'/);
  // The run's backend and summary.
  const started = { type: 'run/started', experiment: 'h', title: 'H', runner: 'HopfieldRunner', method: 'RBP', K: 5, T: 3, steps: 5, stepLabel: 'step', backend: { name: 'cpu', description: 'cpu', skipped: [{ name: 'wasm', reason: 'x' }], nodeVersion: 'v20', execPath: '/n' }, config: {}, startedAt: 'x', notes: [], ...stamp(0) };
  assert.equal(parseWorkerEvent(started).type, 'run/started');
  assert.throws(() => parseWorkerEvent({ ...started, backend: { ...started.backend, skipped: [{ name: 'wasm' }] } }), /run\/started\.backend\.skipped\[0\]: field 'reason'/);
  const fin = parseWorkerEvent(JSON.parse(JSON.stringify({ type: 'run/finished', status: 'completed', elapsedMs: 1, summary: { best: NaN, dataset: 'cora', ok: true }, ...stamp(3) })));
  assert.ok(fin.type === 'run/finished' && Number.isNaN(fin.summary.best) && fin.summary.dataset === 'cora' && fin.summary.ok === true);
  assert.throws(() => parseWorkerEvent({ type: 'run/finished', status: 'completed', elapsedMs: 1, summary: { x: [1] }, ...stamp(3) }), /'x'/);
  // Reviving copies: the object that was parsed is left as it was.
  const raw = { type: 'metrics', step: 1, elapsedMs: 5, values: { loss: null }, kind: 'eval', ...stamp(2) };
  parseWorkerEvent(raw);
  assert.equal(raw.values.loss, null);
});

test('the host no longer sends a compare message (the webview refuses it)', () => {
  assert.throws(() => parseHostToWebview({ type: 'compare', result: {} }), /unknown host message type "compare"/);
});
