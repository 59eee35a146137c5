/**
 * The dashboard webview, rendered in headless Chromium from the built bundle (dist/webview.js) with
 * the panel's own HTML and CSP, fed a recorded Hopfield run the way the host sends it: each chart
 * holds and draws the recorded numbers (read from the Chart.js objects, test/helpers/charts.ts), header filled in, Stop posts to the host, no CSP violations, 100k metric
 * points stay smooth, updates throttled. Screenshots go to test-results/ (dark, light, high contrast).
 * Needs /usr/bin/chromium (Debian's `chromium` package); skipped with a message without it.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { replaySelection } from '../../src/extension/replay';
import { startWorkerRun, chooseNode } from '../../src/extension/workerHost';
import { readRun } from '../../src/run/recorder';
import type { Envelope, WebviewToHost, GradcheckResultMsg, ProbeMsg, CheckpointMsg, Diagnostics, Metrics } from '../../src/protocol/messages';
import { rhoBand } from '../../src/core/verdictBands';
import { forwardStepsFor } from '../../src/shared/advice';
import { etaFromSteps, fmtDuration } from '../../src/shared/eta';
import { fmtNum } from '../../webview/charts/common';
import { execFileSync } from 'child_process';
import { csvToSeries, smoothEma } from '../../src/shared/series';
import { compareHeadline, sci, mib } from '../../src/shared/compareSummary';
import { repoRoot } from '../helpers/setup';
import { chromiumSkip, withDashboardPage as withPage } from '../helpers/dashboardServer';
import { readChart, assertDrawn, expectedRunCharts, expectedCompareCharts, type Want } from '../helpers/charts';

const skip = chromiumSkip();

const root = repoRoot;
const results = path.join(root, 'test-results');

const THEMES: Record<string, { bodyClass: string; vars: Record<string, string> }> = {
  dark: {
    bodyClass: 'vscode-dark',
    vars: {
      '--vscode-foreground': '#cccccc', '--vscode-editor-background': '#1f1f1f', '--vscode-descriptionForeground': '#9d9d9d', '--vscode-panel-border': '#2b2b2b', '--vscode-sideBar-background': '#181818',
      '--vscode-charts-foreground': '#cccccc', '--vscode-charts-lines': 'rgba(204,204,204,0.25)', '--vscode-charts-red': '#f14c4c', '--vscode-charts-blue': '#3794ff', '--vscode-charts-yellow': '#cca700', '--vscode-charts-orange': '#d18616', '--vscode-charts-green': '#89d185', '--vscode-charts-purple': '#b180d7',
      '--vscode-badge-background': '#616161', '--vscode-badge-foreground': '#f8f8f8', '--vscode-button-background': '#0078d4', '--vscode-button-foreground': '#ffffff', '--vscode-font-family': 'sans-serif', '--vscode-font-size': '13px', '--vscode-editor-font-family': 'monospace',
      '--vscode-testing-iconPassed': '#73c991', '--vscode-editorWarning-foreground': '#cca700', '--vscode-errorForeground': '#f85149',
    },
  },
  light: {
    bodyClass: 'vscode-light',
    vars: {
      '--vscode-foreground': '#3b3b3b', '--vscode-editor-background': '#ffffff', '--vscode-descriptionForeground': '#717171', '--vscode-panel-border': '#e5e5e5', '--vscode-sideBar-background': '#f8f8f8',
      '--vscode-charts-foreground': '#616161', '--vscode-charts-lines': 'rgba(97,97,97,0.25)', '--vscode-charts-red': '#e51400', '--vscode-charts-blue': '#1a85ff', '--vscode-charts-yellow': '#bf8803', '--vscode-charts-orange': '#d18616', '--vscode-charts-green': '#388a34', '--vscode-charts-purple': '#652d90',
      '--vscode-badge-background': '#cccccc', '--vscode-badge-foreground': '#3b3b3b', '--vscode-button-background': '#005fb8', '--vscode-button-foreground': '#ffffff', '--vscode-font-family': 'sans-serif', '--vscode-font-size': '13px', '--vscode-editor-font-family': 'monospace',
      '--vscode-testing-iconPassed': '#388a34', '--vscode-editorWarning-foreground': '#bf8803', '--vscode-errorForeground': '#a1260d',
    },
  },
  'high-contrast': {
    bodyClass: 'vscode-high-contrast',
    vars: {
      '--vscode-foreground': '#ffffff', '--vscode-editor-background': '#000000', '--vscode-descriptionForeground': '#ffffff', '--vscode-panel-border': '#6fc3df', '--vscode-contrastBorder': '#6fc3df', '--vscode-sideBar-background': '#000000',
      '--vscode-charts-foreground': '#ffffff', '--vscode-charts-lines': 'rgba(255,255,255,0.5)', '--vscode-charts-red': '#f48771', '--vscode-charts-blue': '#3794ff', '--vscode-charts-yellow': '#ffd700', '--vscode-charts-orange': '#ff8c00', '--vscode-charts-green': '#89d185', '--vscode-charts-purple': '#b180d7',
      '--vscode-badge-background': '#000000', '--vscode-badge-foreground': '#ffffff', '--vscode-font-family': 'sans-serif', '--vscode-font-size': '13px', '--vscode-editor-font-family': 'monospace',
      '--vscode-testing-iconPassed': '#89d185', '--vscode-editorWarning-foreground': '#ffd700', '--vscode-errorForeground': '#f48771',
    },
  },
};


/** Record a real short run to replay: Neumann-RBP on Hopfield, a few steps, a gradient probe every 4 and checkpoints (as the extension runs it). */
async function recordRun(): Promise<Envelope[]> {
  const runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-webview-'));
  const run = startWorkerRun({ experiment: 'hopfield', method: 'Neumann_RBP', K: 20, steps: 12, probeEvery: 4, overrides: ['model.num_update=30', 'train.valid_epoch=4', 'train.snapshot_epoch=1'] }, { workerScript: path.join(root, 'dist', 'worker.js'), runsRoot, node: chooseNode(undefined) });
  const o = await run.done;
  assert.equal(o.status, 'completed', o.reason);
  return readRun(o.dir).events;
}

/** The dashboard dressed as VS Code does, in the theme its path names: theme variables on <html>, the theme kind as a class on <body>. */
function themed(html: string, pathname: string): string {
  const theme = THEMES[pathname.slice(1)] ?? THEMES.dark;
  return html
    .replace('<html lang="en">', `<html lang="en" style="${Object.entries(theme.vars).map(([k, v]) => `${k}: ${v}`).join('; ')}">`)
    .replace('<body>', `<body class="${theme.bodyClass}">`);
}

/** The dashboard in headless Chromium, themed, with test-results/ ready for its screenshots. */
async function withDashboardPage(body: Parameters<typeof withPage>[0]): Promise<void> {
  fs.mkdirSync(results, { recursive: true });
  await withPage(body, { dress: themed });
}

test('the dashboard webview draws a recorded run in headless Chromium', { skip, timeout: 240_000 }, async () => {
  const events = await recordRun();
  const selection = replaySelection(events);
  const runId = events[0].runId;
  await withDashboardPage(async ({ page, srv, errors, post, posted }) => {

    for (const theme of Object.keys(THEMES)) {
      await page.goto(`${srv.origin}/${theme}`);
      await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
      await post({ type: 'trust', trusted: true });
      await post({ type: 'runs', runs: [{ runId, experiment: 'hopfield', method: 'Neumann_RBP', K: 20, status: 'completed', startedAt: '', finalMetrics: {} }] });
      await post({ type: 'reset', runId });
      await post({ type: 'events', events: selection, replay: true });
      await page.waitForFunction(() => document.body.dataset.status === 'completed');
      await page.waitForTimeout(300);
      // Every chart holds and draws the recorded numbers: forward residuals of the last steps,
      // backward traces, loss and evaluation metrics, memory per step. (Mutants caught: a chart
      // left empty, one not redrawn after its data changed, forward steps drawn from 0, not 1.)
      const want = expectedRunCharts(selection);
      assert.equal(want.forward.length, 5, 'the replay sends the last five forward traces');
      assert.equal(want.metrics.find((d) => d.label === 'loss')?.points.length, 12, 'the loss of every step');
      assert.ok(want.eval.some((d) => d.points.length > 0), 'the recorded run has evaluations');
      // Gradient error over training: every recorded probe (steps 0, 4, 8), vs exact and vs BPTT.
      // (Mutants caught: relErrBptt drawn as the exact curve; probes dropped by the replay.)
      assert.deepEqual(want.probe.map((d) => d.points.map(([x]) => x)), [[0, 4, 8], [0, 4, 8]], 'three probes, each against exact and BPTT');
      for (const [id, w] of Object.entries(want)) assertDrawn(await readChart(page, `chart-${id}`), w, `${theme}: ${id} chart`);
      await page.screenshot({ path: path.join(results, `webview-${theme}.png`), fullPage: true });
    }

    // The header says what ran and how it went.
    const text = (id: string) => page.locator(`#${id}`).innerText();
    assert.equal(await text('f-method'), 'Neumann_RBP');
    assert.equal(await text('f-k'), '20');
    assert.equal(await text('f-t'), '30');
    assert.equal(await text('f-step'), '12 / 12');
    assert.equal(await text('f-eta'), '–', 'a finished run has no ETA');
    // The backend as a sentence; its full record in the tooltip.
    assert.match(await text('f-backend'), /^(WebAssembly( with (relaxed )?SIMD)? on the CPU|plain JavaScript on the CPU|TensorFlow’s native library on the CPU)/);
    assert.match((await page.locator('#f-backend').getAttribute('title')) ?? '', /^(wasm|cpu|tensorflow)/);
    // ρ(J) and the verdict say the step they were measured at (the run's last diagnosis).
    const diags = selection.filter((e) => e.type === 'diagnostics') as Envelope<Diagnostics>[];
    const lastDiag = diags[diags.length - 1];
    assert.equal(await text('f-rho'), `${fmtNum(lastDiag.rho)} at step ${lastDiag.step}`);
    assert.equal(await text('verdict-text'), `As of step ${lastDiag.step}: ${lastDiag.verdict.message}`);
    assert.equal(await text('cap-rho'), `ρ(J) ${fmtNum(lastDiag.rho)} as of step ${lastDiag.step} (${rhoBand(lastDiag.rho ?? NaN)}; ${diags.length} estimates)`);
    // Accessibility of every chart: an image named by what it plots, described by last/min/max of what it draws.
    // (Mutant caught: the summary written once at creation, not after updates: 'No data yet.')
    for (const id of ['forward', 'backward', 'metrics', 'eval', 'memory', 'probe', 'rho']) {
      const c = page.locator(`#chart-${id}`);
      assert.equal(await c.getAttribute('role'), 'img', `${id}: role`);
      assert.ok(((await c.getAttribute('aria-label')) ?? '').length > 10, `${id}: aria-label`);
      const summary = await page.locator(`#${await c.getAttribute('aria-describedby')}`).textContent();
      assert.notEqual(summary, 'No data yet.', `${id}: summary`);
    }
    const rhos = diags.map((d) => d.rho!);
    assert.equal(await page.locator('#chart-rho-summary').textContent(), `ρ(J): last ${fmtNum(lastDiag.rho)} at step ${lastDiag.step}, min ${fmtNum(Math.min(...rhos))}, max ${fmtNum(Math.max(...rhos))}.`);
    const losses = (selection.filter((e) => e.type === 'metrics' && e.kind === 'train') as Envelope<Metrics>[]).map((e) => [e.step, e.values.loss] as const);
    const metricsSummary = (await page.locator('#chart-metrics-summary').textContent())!;
    assert.ok(metricsSummary.includes(`loss: last ${fmtNum(losses.at(-1)![1])} at step ${losses.at(-1)![0]}, min ${fmtNum(Math.min(...losses.map((l) => l[1])))}`), metricsSummary);
    // The ρ(J) bands are the verdict's thresholds.
    assert.deepEqual(await page.evaluate(() => {
      const C = (window as unknown as { Chart: { getChart(c: unknown): { config: { plugins: { id: string }[] } } } }).Chart;
      return C.getChart(document.getElementById('chart-rho')).config.plugins.map((p) => p.id);
    }), ['rhoBands', 'a11ySummary']);
    assert.match(await page.locator('#verdict').getAttribute('data-level') ?? '', /ok|warn|bad/);
    assert.match(await text('cap-forward'), /step 11: 30 forward steps/);
    assert.match(await text('cap-backward'), /Neumann_RBP/);
    assert.match(await text('cap-metrics'), /loss .*12 points/);
    assert.equal(await page.locator('#stop').getAttribute('disabled'), '');
    assert.deepEqual(await page.evaluate(() => (window as unknown as { __state: unknown }).__state), { runId });

    // The probe chart: ρ(J) of the hovered probe in the tooltip; its CSV export is the recorded probes.
    const probes = selection.filter((e) => e.type === 'probe') as Envelope<ProbeMsg>[];
    const tip = await page.evaluate((step) => {
      const C = (window as unknown as { Chart: { getChart(c: unknown): { options: { plugins: { tooltip: { callbacks: { afterBody(items: unknown[]): string } } } } } } }).Chart;
      return C.getChart(document.getElementById('chart-probe')).options.plugins.tooltip.callbacks.afterBody([{ parsed: { x: step, y: 0 } }]);
    }, probes[1].step);
    assert.equal(tip, `ρ(J) ${fmtNum(probes[1].rho)}`);
    assert.match(await text('cap-probe'), new RegExp(`^step 8: error ${fmtNum(probes[2].relErrExact).replace(/[.+]/g, '\\$&')} vs exact`));
    await page.locator('[data-export="csv"][data-chart="probe"]').click();
    const probeCsv = csvToSeries(((await posted()).filter((m) => m.type === 'export').at(-1) as Extract<WebviewToHost, { type: 'export' }>).data);
    assert.deepEqual(probeCsv.series.map((x) => x.points), [probes.map((p) => ({ x: p.step, y: p.relErrExact })), probes.map((p) => ({ x: p.step, y: p.relErrBptt }))]);
    await page.locator('#chart-probe').screenshot({ path: path.join(results, 'webview-probe.png') });

    // Compare at a checkpoint: the run's checkpoints in the picker (newest first); the button asks
    // the host for the chosen step. (Mutant caught: the button posting the newest step whatever is picked.)
    const ckSteps = (selection.filter((e) => e.type === 'checkpoint') as Envelope<CheckpointMsg>[]).map((c) => c.step);
    assert.ok(ckSteps.length >= 2, `the run wrote checkpoints (${ckSteps.join(', ')})`);
    assert.equal(await page.locator('#checkpoints').isVisible(), true);
    assert.deepEqual(await page.locator('#ckpt-select option').evaluateAll((os) => os.map((o) => Number((o as HTMLOptionElement).value))), [...ckSteps].reverse());
    await page.locator('#compare-at').click();
    assert.deepEqual((await posted()).filter((m) => m.type === 'compareAt').at(-1), { type: 'compareAt', runId, step: ckSteps[ckSteps.length - 1] });
    await page.locator('#ckpt-select').selectOption(String(ckSteps[0]));
    await page.locator('#compare-at').click();
    assert.deepEqual((await posted()).filter((m) => m.type === 'compareAt').at(-1), { type: 'compareAt', runId, step: ckSteps[0] });

    // A verdict that acts: an unconverged forward pass at ρ < 1 gets its advice as buttons, each
    // posting the fix for this run. (Mutant caught: the button posting the label, not the value.)
    assert.equal(await page.locator('#advice').isVisible(), lastDiag.verdict.level !== 'ok');
    const warnVerdict = { level: 'warn' as const, trustRbp: false, rho: 0.944, forwardConverged: false, finalRelResidual: 4.8e-3, message: 'ρ(J) = 0.94 < 1 but the forward pass has not converged' };
    await post({ type: 'events', events: [{ type: 'diagnostics', step: 12, rho: 0.944, verdict: warnVerdict, runId, seq: 99999, t: Date.now() }] });
    await page.locator('#advice .fix').first().waitFor({ state: 'visible' });
    const T2 = forwardStepsFor(30, 4.8e-3, 0.944, 100000);
    assert.deepEqual(await page.locator('#advice .fix').allInnerTexts(), [`More forward steps: num_update 30 → ${T2}`, 'Anderson-accelerated forward pass: forward_solver anderson']);
    assert.equal(await text('f-rho'), '0.944 at step 12');
    await page.locator('#advice .fix').first().click();
    assert.deepEqual((await posted()).filter((m) => m.type === 'applyFix').at(-1), { type: 'applyFix', runId, key: 'model.num_update', value: T2 });
    await page.waitForTimeout(200);
    assertDrawn(await readChart(page, 'chart-rho'), [{ label: 'ρ(J)', points: [...diags.map((d) => [d.step, d.rho] as [number, number | null]), [12, 0.944]] }], 'ρ(J) chart with the new estimate');
    await page.locator('#header').screenshot({ path: path.join(results, 'webview-advice.png') });
    await page.locator('#chart-rho').screenshot({ path: path.join(results, 'webview-rho.png') });

    // Live: a running run enables Stop, which asks the host to stop that run.
    const live = 'live-run';
    await post({ type: 'reset', runId: live });
    const relive = (e: Envelope) => ({ ...e, runId: live });
    await post({ type: 'events', events: events.filter((e) => e.type !== 'run/finished').slice(0, 40).map(relive) });
    await page.waitForFunction(() => document.body.dataset.status === 'running');
    await page.waitForFunction(() => !(document.getElementById('stop') as HTMLElement & { disabled: boolean }).disabled);
    // The ETA of a running run: its recent step times times the steps left (src/shared/eta.ts).
    const liveTimes = (events.filter((e) => e.type !== 'run/finished').slice(0, 40).filter((e) => e.type === 'metrics' && e.kind === 'train') as Envelope<Metrics>[]).map((e) => ({ step: e.step, elapsedMs: e.elapsedMs }));
    const liveEta = etaFromSteps(liveTimes, 12);
    assert.ok(liveEta, `the live run's first 40 events hold ${liveTimes.length} training steps`);
    await page.waitForFunction(() => document.getElementById('f-eta')!.textContent !== '–', undefined, { timeout: 3000 }).catch(() => undefined);
    assert.ok((await text('f-eta')).startsWith(`${fmtDuration(liveEta.remainingMs)} left (`), `${await text('f-eta')} / ${await text('f-step')} / ${JSON.stringify(liveTimes)}`);
    await page.locator('#stop').click();
    assert.ok((await posted()).some((m) => m.type === 'stop' && m.runId === live), 'Stop posts {type: stop, runId}');

    // A training that diverges while staying finite: its warning shows as a banner (and the
    // failure below replaces it).
    await post({ type: 'events', events: [{ type: 'log', level: 'warn', text: 'step 1: the loss grew from 0.15 to 2.0e+9 (1.4e+10×): the training is diverging; lower the learning rate', runId: live, seq: 998, t: Date.now() }] });
    await page.waitForFunction(() => !(document.getElementById('banner') as HTMLElement).hidden);
    assert.equal(await page.locator('#banner').getAttribute('data-kind'), 'warning');
    assert.match(await text('banner-text'), /^Warning: step 1: the loss grew from 0\.15 to 2\.0e\+9/);

    // A failure shows its reason.
    await post({ type: 'events', events: [{ type: 'run/failed', kind: 'diverged', reason: 'step 3: the loss became NaN/Inf', elapsedMs: 10, runId: live, seq: 999, t: Date.now() }] });
    await page.waitForFunction(() => document.body.dataset.status === 'failed');
    assert.match(await text('banner-text'), /Run failed \(diverged\): step 3: the loss became NaN\/Inf/);
    await page.screenshot({ path: path.join(results, 'webview-failed.png') });

    // Compare Runs: curves of several runs over each other.
    await post({ type: 'overlay', series: [0, 1, 2].map((k) => ({ runId: `r${k}`, label: `run ${k}`, metric: 'loss', points: Array.from({ length: 50 }, (_, i) => [i, (1 + k) / (1 + i)] as [number, number]) })) });
    await page.locator('#overlay-card').waitFor({ state: 'visible' });
    await page.waitForTimeout(200);
    assertDrawn(await readChart(page, 'chart-overlay'), [0, 1, 2].map((k) => ({ label: `run ${k}`, points: Array.from({ length: 50 }, (_, i) => [i, (1 + k) / (1 + i)]) })), 'overlay chart');
    assert.deepEqual((await page.evaluate(() => (window as unknown as { __state: { overlayRunIds?: string[] } }).__state)).overlayRunIds, ['r0', 'r1', 'r2']);
    await page.locator('#overlay-card').screenshot({ path: path.join(results, 'webview-overlay.png') });

    // Invalid host messages are ignored, not drawn.
    await page.evaluate(() => window.postMessage({ type: 'events', events: [{ type: 'metrics', step: 'x' }] }, '*'));

    // Throttled, decimated: 100k metric points streamed in 200 batches stay smooth.
    const big = 'big-run';
    await post({ type: 'reset', runId: big });
    const started = events.find((e) => e.type === 'run/started')!;
    await post({ type: 'events', events: [{ ...started, runId: big, steps: 100000 } as Envelope] });
    const rendersBefore = Number(await page.evaluate(() => document.body.dataset.renders));
    const t0 = Date.now();
    // Generated in the page (Playwright's own serialisation would dominate otherwise), 500 per message.
    await page.evaluate(async (runId) => {
      for (let b = 0; b < 200; b++) {
        const batch = [];
        for (let i = b * 500; i < (b + 1) * 500; i++) batch.push({ type: 'metrics', step: i, elapsedMs: i, kind: 'train', values: { loss: 1 / (1 + i / 1000) + 0.05 * Math.sin(i / 50) + 0.1 }, runId, seq: i + 1, t: i });
        window.postMessage({ type: 'events', events: batch }, '*');
        await new Promise((r) => setTimeout(r, 5));
      }
    }, big);
    await page.waitForFunction(() => /100000 points/.test(document.getElementById('cap-metrics')!.textContent ?? ''), undefined, { timeout: 30_000 });
    const took = Date.now() - t0;
    const renders = Number(await page.evaluate(() => document.body.dataset.renders)) - rendersBefore;
    const rate = renders / (took / 1000);
    await post({ type: 'events', events: [{ type: 'metrics', step: 100000, elapsedMs: 1, kind: 'train', values: { loss: 0.2 }, runId: big, seq: 100001, t: 1 }] });
    await page.waitForFunction(() => /100001 points/.test(document.getElementById('cap-metrics')!.textContent ?? ''));
    const renderMs = Number(await page.evaluate(() => document.body.dataset.renderMs));
    console.log(`100k points: streamed in 200 batches and drawn in ${took} ms, ${renders} renders (${rate.toFixed(1)}/s); one render with 100k points takes ${renderMs} ms`);
    assert.ok(renderMs < 250, `a render with 100k points takes ${renderMs} ms`);
    assert.ok(rate <= 12, `chart updates are throttled to ≤ ~10/s (got ${rate.toFixed(1)}/s)`);
    const frame = await page.evaluate(async () => {
      const t = performance.now();
      await new Promise((r) => requestAnimationFrame(() => r(null)));
      return performance.now() - t;
    });
    assert.ok(frame < 500, `the page stays responsive (${frame.toFixed(0)} ms to the next frame)`);
    await page.screenshot({ path: path.join(results, 'webview-100k.png') });

    // RunChart (webview/charts/common.ts), the frame of the seven run charts: a run that counts
    // epochs titles the x axis of its charts by step with that word, a theme change re-colours
    // every chart and keeps the word, and a trace without a name has no legend entry.
    // (Mutants caught: setTheme building the options with 'step'; stepWord not rebuilding them on
    // a new word; baseOptions' legend filter dropped: the forward chart's faded traces listed.)
    const epochs = 'epoch-run';
    await post({ type: 'reset', runId: epochs });
    await post({ type: 'events', events: selection.map((e) => ({ ...(e.type === 'run/started' ? { ...e, stepLabel: 'epoch' } : e), runId: epochs }) as Envelope) });
    await page.waitForFunction(() => /^epoch 11: loss/.test(document.getElementById('cap-metrics')!.textContent ?? ''));
    const runCharts = ['forward', 'backward', 'metrics', 'eval', 'memory', 'probe', 'rho'];
    const axes = () =>
      page.evaluate((ids) => {
        const C = (window as unknown as { Chart: { getChart(c: unknown): { options: { scales: { x: { title: { text: string }; ticks: { color: string } } } }; legend: { legendItems: { text: string }[] } } } }).Chart;
        return ids.map((id) => {
          const ch = C.getChart(document.getElementById(`chart-${id}`));
          return { id, x: ch.options.scales.x.title.text, tick: ch.options.scales.x.ticks.color, legend: ch.legend.legendItems.map((i) => i.text) };
        });
      }, runCharts);
    const xTitles = { forward: 'forward step t', backward: 'backward iteration k', metrics: 'epoch', eval: 'epoch', memory: 'step', probe: 'epoch', rho: 'epoch' };
    const hc = await axes();
    assert.deepEqual(Object.fromEntries(hc.map((a) => [a.id, a.x])), xTitles, 'x titles of a run by epochs');
    assert.deepEqual(hc.map((a) => a.tick), runCharts.map(() => THEMES['high-contrast'].vars['--vscode-charts-foreground']));
    assert.deepEqual(hc.find((a) => a.id === 'forward')!.legend, ['epoch 11', 'earlier (faded)'], 'the faded forward traces without a name are not in the legend (the latest first: its order)');
    for (const a of hc) assert.ok(a.legend.length > 0 && a.legend.every((t) => t !== ''), `${a.id}: legend ${JSON.stringify(a.legend)}`);
    await page.evaluate((t) => {
      for (const [k, v] of Object.entries(t.vars)) document.documentElement.style.setProperty(k, v);
      document.body.className = t.bodyClass;
    }, THEMES.light);
    const light = THEMES.light.vars['--vscode-charts-foreground'];
    await page.waitForFunction((c) => (window as unknown as { Chart: { getChart(c: unknown): { options: { scales: { x: { ticks: { color: string } } } } } } }).Chart.getChart(document.getElementById('chart-rho')).options.scales.x.ticks.color === c, light);
    const lt = await axes();
    assert.deepEqual(Object.fromEntries(lt.map((a) => [a.id, a.x])), xTitles, 'the theme change keeps the x titles');
    assert.deepEqual(lt.map((a) => a.tick), runCharts.map(() => light), 'every run chart takes the new theme');
    assert.deepEqual(lt.find((a) => a.id === 'forward')!.legend, ['epoch 11', 'earlier (faded)']);

    assert.deepEqual(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), [], 'no CSP violations');
    assert.deepEqual(errors.filter((e) => !/invalid message from the host/.test(e)), [], 'no page errors or remote requests');
  });
});

/**
 * A real gradient check recorded by the CLI (the same run/started, gradcheck/row, gradcheck/result
 * events the worker sends), at the last checkpoint of a short training run (`--from`, what
 * Compare at a checkpoint runs).
 */
function recordGradcheck(): { events: Envelope[]; trainRunId: string; step: number } {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-webview-gc-'));
  const trainDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-webview-train-')), 'train-run');
  execFileSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'run', 'hopfield', '--method', 'BPTT', '--steps', '3', '--set', 'model.num_update=30', '--out', trainDir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const trainRunId = (JSON.parse(fs.readFileSync(path.join(trainDir, 'run.json'), 'utf8')) as { runId: string }).runId;
  execFileSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'gradcheck', 'hopfield', '--truncate', '5,10,20,40', '--method', 'TBPTT,Neumann_RBP', '--json', '--set', 'model.num_update=30', '--from', trainDir, '--runs-dir', runsDir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const [dir] = fs.readdirSync(runsDir);
  return { events: readRun(path.join(runsDir, dir)).events, trainRunId, step: 3 };
}


test('Compare TBPTT vs Neumann-RBP: the comparison view of a recorded gradient check, streaming, verdicts, overlay controls and export', { skip, timeout: 240_000 }, async () => {
  const { events, trainRunId, step } = recordGradcheck();
  const selection = replaySelection(events);
  const result = events.find((e) => e.type === 'gradcheck/result') as Envelope<GradcheckResultMsg>;
  assert.ok(result, 'the recorded gradient check has its report');
  assert.ok(selection.includes(result), 'replay keeps the gradient-check events');
  const report = result.report;
  const runId = events[0].runId;
  await withDashboardPage(async ({ page, srv, errors, post, posted }) => {
    const text = (id: string) => page.locator(`#${id}`).innerText();
    const expected = compareHeadline(report);
    const n20 = report.rows.find((r) => r.method === 'Neumann_RBP' && r.K === 20)!;
    const t20 = report.rows.find((r) => r.method === 'TBPTT' && r.K === 20)!;

    for (const theme of ['light', 'dark']) {
      await page.goto(`${srv.origin}/${theme}`);
      await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
      await post({ type: 'reset', runId });
      // Stream: run/started and the rows one message at a time, as the worker sends them.
      const started: Envelope[] = selection.filter((e) => e.type === 'run/started' || e.type === 'log');
      await post({ type: 'events', events: started });
      await page.waitForFunction(() => document.body.dataset.view === 'compare');
      const rowEvents: Envelope[] = selection.filter((e) => e.type === 'gradcheck/row');
      for (const [i, e] of rowEvents.slice(0, 4).entries()) {
        await post({ type: 'events', events: [e] });
        await page.waitForFunction((n) => document.querySelectorAll('#cmp-table tbody tr').length === n, i + 1);
      }
      assert.match(await text('compare-headline-text'), /Computing the gradient check .* 4 \/ 10 rows/);
      await post({ type: 'events', events: selection.filter((e) => !started.includes(e) && !rowEvents.slice(0, 4).includes(e)) });
      await page.waitForFunction(() => document.getElementById('compare-headline')!.dataset.level === 'ok');
      await page.waitForTimeout(250);
      // Each comparison chart draws the report's rows (error, cosine, memory and time vs K, residual traces).
      for (const [id, w] of Object.entries(expectedCompareCharts(report))) assertDrawn(await readChart(page, `chart-cmp-${id}`), w, `${theme}: cmp-${id} chart`);
      for (const id of ['chart-forward', 'chart-metrics']) assert.equal(await page.locator(`#${id}`).isVisible(), false, `${id} is hidden in the comparison view`);
      await page.screenshot({ path: path.join(results, `compare-${theme}.png`), fullPage: true });
    }
    // At a checkpoint: the title and the line above the headline name the run and the step.
    assert.deepEqual(report.from, { runId: trainRunId, step });
    assert.equal(await page.locator('#compare-from').isVisible(), true);
    assert.equal(await text('compare-from'), `At the weights of step ${step} of run ${trainRunId}`);
    assert.match(await text('title'), new RegExp(`gradient check at step ${step} of ${trainRunId}$`));
    // The headline: the report's numbers, the ✓.
    const headline = await text('compare-headline-text');
    assert.equal(headline, expected.text);
    assert.ok(headline.startsWith(`✓ Neumann-RBP at K=20: error ${sci(n20.relErrExact)} vs exact, ${mib(n20.peakBytes)} flat in K; TBPTT: ${mib(t20.peakBytes)}`), headline);
    const ds = await page.locator('#compare-headline').evaluate((el: HTMLElement) => ({ ...el.dataset }));
    assert.equal(Number(ds.relErrExact), n20.relErrExact);
    assert.equal(Number(ds.cosExact), n20.cosExact);
    assert.equal(Number(ds.peakBytes), n20.peakBytes);
    assert.equal(Number(ds.tbpttPeakBytes), t20.peakBytes);
    assert.equal(Number(ds.rho), report.rho);
    assert.equal(await page.locator('#cmp-table tbody tr').count(), report.rows.length);

    // Export of a comparison chart: CSV that parses back to the chart's data (K vs error).
    await page.locator('[data-export="csv"][data-chart="cmp-error"]').click();
    const cmpCsv = (await posted()).filter((m) => m.type === 'export').at(-1) as Extract<WebviewToHost, { type: 'export' }>;
    assert.equal(cmpCsv.format, 'csv');
    const parsedErr = csvToSeries(cmpCsv.data);
    assert.equal(parsedErr.xLabel, 'K');
    const nErr = parsedErr.series.find((x) => x.name === 'Neumann-RBP vs exact')!;
    assert.deepEqual(nErr.points, report.rows.filter((r) => r.method === 'Neumann_RBP').map((r) => ({ x: r.K, y: Math.max(r.relErrExact, 1e-12) })));

    // Not contractive (the GNN on Cora, ρ(J) ≈ 1.6): the same view says so in red.
    const badId = 'gc-bad';
    const badReport = {
      ...report,
      experiment: 'cora',
      rho: 1.6,
      verdict: { ...report.verdict, level: 'bad' as const, trustRbp: false, rho: 1.6, message: 'ρ(J) = 1.6 ≥ 1: the Neumann series diverges; RBP gradients are not trustworthy' },
      rows: report.rows.map((r) => (r.method === 'Neumann_RBP' ? { ...r, relErrExact: 0.9 + r.K! / 10, cosExact: 0.01 * r.K!, relErrBptt: 1, cosBptt: 0.02, residualTrace: r.residualTrace.map((_, k) => 0.5 * 1.6 ** k) } : r.method === 'TBPTT' ? { ...r, relErrExact: 0.95, cosExact: 0.1 } : r)),
    };
    const started0 = events.find((e) => e.type === 'run/started')!;
    await post({ type: 'reset', runId: badId });
    await post({ type: 'events', events: [{ ...started0, runId: badId, experiment: 'cora' } as Envelope, ...badReport.rows.map((row, i) => ({ type: 'gradcheck/row', row, runId: badId, seq: i + 1, t: i }) as Envelope), { type: 'gradcheck/result', report: badReport, runId: badId, seq: 50, t: 50 } as Envelope, { type: 'run/finished', status: 'completed', elapsedMs: 10, summary: {}, runId: badId, seq: 51, t: 51 } as Envelope] });
    await page.waitForFunction(() => document.getElementById('compare-headline')!.dataset.level === 'bad');
    await page.waitForTimeout(250);
    const badText = await text('compare-headline-text');
    assert.equal(badText, compareHeadline(badReport).text);
    assert.match(badText, /^✗ Neumann-RBP fails here: ρ\(J\) = 1\.6 ≥ 1/);
    const colour = await page.locator('#compare-headline-text').evaluate((el) => getComputedStyle(el).color);
    assert.equal(colour, 'rgb(248, 81, 73)', 'the verdict is drawn in the theme’s error colour (dark: #f85149)');
    await page.screenshot({ path: path.join(results, 'compare-bad-dark.png'), fullPage: true });

    // Overlay of training runs: stable colours, smoothing, export of what is drawn.
    const curve = (k: number) => Array.from({ length: 80 }, (_, i) => [i, (1 + k) / (1 + i) + 0.15 * Math.sin(i * (1.3 + k))] as [number, number]);
    const series = [0, 1, 2].map((k) => ({ runId: `run-${k}`, label: `hopfield Neumann_RBP K=${10 * (k + 1)}`, metric: 'loss', points: curve(k), wallMs: curve(k).map(([i]) => i * 250 * (k + 1)) }));
    await post({ type: 'overlay', series });
    await page.locator('#overlay-card').waitFor({ state: 'visible' });
    await page.locator('#overlay-smoothing').fill('0.6');
    await page.waitForFunction(() => /smoothing 0\.60/.test(document.getElementById('cap-overlay')!.textContent ?? ''));
    await page.locator('#overlay-outliers').check();
    await page.locator('#overlay-xaxis').selectOption('wall');
    await page.waitForTimeout(200);
    // Drawn by wall time (s), each run smoothed (debiased EMA) over its faint raw curve; outliers
    // ignored, so the axis may clip a raw point.
    const overlayWant: Want[] = series.flatMap((s) => {
      const xs = s.wallMs.map((ms) => ms / 1000);
      const sm = smoothEma(s.points.map(([, y]) => y), 0.6);
      return [
        { label: s.label, points: xs.map((x, i) => [x, sm[i]]) },
        { label: '', points: xs.map((x, i) => [x, s.points[i][1]]) },
      ];
    });
    assertDrawn(await readChart(page, 'chart-overlay'), overlayWant, 'smoothed overlay by wall time', { inArea: false });
    await page.locator('#overlay-card').screenshot({ path: path.join(results, 'overlay-smoothed-dark.png') });
    const st = await page.evaluate(() => (window as unknown as { __state: { overlay?: Record<string, unknown> } }).__state.overlay);
    assert.deepEqual({ smoothing: st?.smoothing, ignoreOutliers: st?.ignoreOutliers, xAxis: st?.xAxis }, { smoothing: 0.6, ignoreOutliers: true, xAxis: 'wall' }, 'overlay settings persist in the webview state');
    await page.locator('#overlay-xaxis').selectOption('step');
    await page.locator('[data-export="csv"][data-chart="overlay"]').click();
    const exp = (await posted()).filter((m) => m.type === 'export').at(-1) as Extract<WebviewToHost, { type: 'export' }>;
    assert.equal(exp.chart, 'overlay-loss');
    const parsed = csvToSeries(exp.data);
    assert.equal(parsed.xLabel, 'step');
    for (const s of series) {
      const smoothed = parsed.series.find((x) => x.name === s.label)!;
      const raw = parsed.series.find((x) => x.name === `${s.label} (raw)`)!;
      assert.ok(smoothed && raw, `${s.label}: smoothed and raw columns`);
      assert.deepEqual(raw.points, s.points.map(([x, y]) => ({ x, y })));
      const sm = smoothEma(s.points.map(([, y]) => y), 0.6);
      smoothed.points.forEach((p, i) => assert.ok(Math.abs(p.y - sm[i]) <= 1e-12 * Math.max(1, Math.abs(sm[i])), `${s.label}[${i}] smoothed`));
    }
    await page.locator('[data-export="json"][data-chart="overlay"]').click();
    await page.locator('[data-export="png"][data-chart="overlay"]').click();
    const [json, png] = (await posted()).filter((m) => m.type === 'export').slice(-2) as Extract<WebviewToHost, { type: 'export' }>[];
    assert.equal(JSON.parse(json.data).series.length, 6);
    assert.match(png.data, /^data:image\/png;base64,/);
    assert.ok(png.data.length > 5000);

    // A reloaded panel gets its overlay settings back (VS Code keeps what setState stored).
    await page.evaluate(() => sessionStorage.setItem('rbp-state', JSON.stringify((window as unknown as { __state: unknown }).__state)));
    await page.addInitScript(() => {
      const s = sessionStorage.getItem('rbp-state');
      if (s) (window as unknown as { __state: unknown }).__state = JSON.parse(s);
    });
    await page.reload();
    await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
    assert.equal(await page.locator('#overlay-smoothing').inputValue(), '0.6');
    assert.equal(await page.locator('#overlay-outliers').isChecked(), true);
    assert.deepEqual(errors, [], 'no page errors or remote requests');
  });
});
