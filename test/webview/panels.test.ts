/**
 * The Compare overlay's small multiples (issue 19), in headless Chromium from the built bundle with
 * the panel's own HTML: two runs' recorded events go through the host's overlaySeries, as the
 * dashboard sends them; panels are added from the series those runs record; each panel's datasets
 * equal each run's recorded values of its own series (read from the Chart.js objects and from the
 * drawn pixels); a panel's linear/log y and the one x switch (step / wall time since the run
 * started, from the events' recorded times) change the axis and the x values; the panels come back
 * from the webview state after a reload, and from the host's kept settings in a panel opened
 * afresh. Screenshot: test-results/overlay-panels.png.
 * Mutants tried (each failed here): every panel drawn with panel 0's series; x by wall time using
 * the step; the webview state's panels not restored; the host's kept panels not applied.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { overlaySeries } from '../../src/extension/replay';
import type { Envelope, OverlaySettings, WebviewToHost } from '../../src/protocol/messages';
import type { RunDescription } from '../../src/run/recorder';
import { csvToSeries } from '../../src/shared/series';
import { repoRoot } from '../helpers/setup';
import { chromiumSkip, withDashboardPage } from '../helpers/dashboardServer';
import { readChart, assertDrawn, type Pt } from '../helpers/charts';

const skip = chromiumSkip();

const results = path.join(repoRoot, 'test-results');

/** A recorded run: 8 training steps (loss, grad_norm, step_ms, memory), ρ(J) every 2 steps; `msPerStep` apart, started at `t0`. */
function recorded(runId: string, method: string, t0: number, msPerStep: number, k: number): { d: RunDescription; events: Envelope[] } {
  const d = { protocol: 1, runId, experiment: 'hopfield', title: '', runner: '', method, K: null, T: 20, steps: 8, status: 'completed', startedAt: '', config: {}, finalMetrics: {} } as unknown as RunDescription;
  let seq = 0;
  const stamp = (t: number) => ({ runId, seq: seq++, t });
  const events: Envelope[] = [{ type: 'run/started', experiment: 'hopfield', method, K: null, T: 20, steps: 8, ...stamp(t0) } as unknown as Envelope];
  for (let step = 0; step < 8; step++) {
    // Setup takes 700 ms before the first step; the steps then come msPerStep apart (wall time ≠ step).
    const t = t0 + 700 + msPerStep * (step + 1);
    events.push({ type: 'metrics', step, elapsedMs: t - t0, kind: 'train', values: { loss: (1 + k) / (1 + step), grad_norm: 0.5 * (1 + k) * Math.exp(-0.3 * step), step_ms: msPerStep + 3 * k + (step % 3) }, ...stamp(t) } as Envelope);
    events.push({ type: 'memory', step, peakBytes: (3 + k + step) * 2 ** 20, liveBytes: 2 ** 20, rssBytes: 2 ** 28, numTensors: 9 + step, ...stamp(t + 10) } as Envelope);
    if (step % 2 === 1) events.push({ type: 'diagnostics', step, rho: 0.6 + 0.04 * step + 0.05 * k, verdict: { level: 'ok', trustRbp: true, rho: 0.6, forwardConverged: true, finalRelResidual: 1e-6, message: '' }, ...stamp(t + 20) } as unknown as Envelope);
  }
  return { d, events };
}

const RUNS = [recorded('run-a', 'BPTT', 1_000_000, 250, 0), recorded('run-b', 'RBP', 5_000_000, 400, 1)];
const SERIES = RUNS.flatMap((r) => overlaySeries(r.d, r.events));
const started = (r: (typeof RUNS)[number]) => r.events[0].t;

/** Each run's recorded values of a series, [x, y] with x the step or the seconds since its run/started event. */
function want(series: 'train:grad_norm' | 'train:step_ms' | 'loss' | 'diagnostics:rho', x: 'step' | 'wall'): Pt[][] {
  return RUNS.map((r) =>
    r.events.flatMap((e): Pt[] => {
      const at = (step: number, v: number): Pt[] => [[x === 'step' ? step : (e.t - started(r)) / 1000, v]];
      if (e.type === 'metrics' && series !== 'diagnostics:rho') return at(e.step, series === 'loss' ? e.values.loss : e.values[series.slice(6)]);
      if (e.type === 'diagnostics' && series === 'diagnostics:rho') return at(e.step, e.rho as number);
      return [];
    }),
  );
}

/** Each panel: its series, its canvas' aria-label, its axes' titles and types. */
function panels(page: Page) {
  return page.$$eval('#overlay-panels figure.overlay-panel', (figs) =>
    figs.map((f) => {
      const canvas = f.querySelector('canvas')!;
      const chart = (window as unknown as { Chart: { getChart(c: unknown): { options: { scales: { x: { title: { text: string } }; y: { type: string; title: { text: string } } } } } } }).Chart.getChart(canvas);
      return { id: canvas.id, series: (f as HTMLElement).dataset.series, role: canvas.getAttribute('role'), label: canvas.getAttribute('aria-label') ?? '', summary: document.getElementById(canvas.getAttribute('aria-describedby') ?? '')?.textContent ?? '', xTitle: chart.options.scales.x.title.text, yType: chart.options.scales.y.type, yTitle: chart.options.scales.y.title.text };
    }),
  );
}

test('Compare runs as small multiples: a panel per series with every run’s recorded values, per-panel log/linear y, one step/wall-time x, state through reloads and from the host', { skip, timeout: 120_000 }, async () => {
  await withDashboardPage(async ({ page, srv, errors, post, posted }) => {
    await page.goto(`${srv.origin}/dark`);
    const state = () => page.evaluate(() => (window as unknown as { __state?: { overlay?: OverlaySettings } }).__state);
    const labels = RUNS.map((r) => SERIES.find((s) => s.runId === r.d.runId)!.label);
    const check = async (i: number, series: Parameters<typeof want>[0], x: 'step' | 'wall', what: string) => {
      assertDrawn(await readChart(page, i ? `chart-overlay-${i}` : 'chart-overlay'), want(series, x).map((points, k) => ({ label: labels[k], points })), what);
    };

    await post({ type: 'overlay', series: SERIES });
    await page.locator('#overlay-card').waitFor({ state: 'visible' });
    // One panel to start with (the first series the runs record: the loss), every run a curve.
    assert.deepEqual((await panels(page)).map((p) => p.series), ['loss']);
    await check(0, 'loss', 'step', 'panel 1 (loss)');
    // The add list offers the runs' other series; two panels added: the gradient norm and ρ(J).
    const offered = await page.$$eval('#overlay-add option', (os) => os.map((o) => (o as HTMLOptionElement).value).filter(Boolean));
    assert.deepEqual(offered.sort(), [...new Set(SERIES.map((s) => s.metric))].filter((m) => m !== 'loss').sort());
    await page.selectOption('#overlay-add', 'train:grad_norm');
    await page.selectOption('#overlay-add', 'diagnostics:rho');
    let ps = await panels(page);
    assert.deepEqual(ps.map((p) => p.series), ['loss', 'train:grad_norm', 'diagnostics:rho']);
    assert.ok(!(await page.$$eval('#overlay-add option', (os) => os.map((o) => (o as HTMLOptionElement).value))).includes('train:grad_norm'), 'a shown series is not offered again');
    await check(1, 'train:grad_norm', 'step', 'panel 2 (gradient norm)');
    // Every y axis' labels apart, 10 px (12 px digits stand ~9 px tall) (a log axis' bound beside a nice tick printed over it: webview/charts/ticks.ts).
    const gaps = await page.$$eval('#overlay-panels canvas', (cs) =>
      cs.map((c) => {
        const y = (window as unknown as { Chart: { getChart(c: unknown): { scales: { y: { type: string; ticks: { value: number }[]; getPixelForValue(v: number): number } } } } }).Chart.getChart(c).scales.y;
        const px = y.ticks.map((t) => y.getPixelForValue(t.value));
        return { type: y.type, ticks: y.ticks.map((t) => t.value), min: Math.min(...px.slice(1).map((p, i) => Math.abs(p - px[i]))) };
      }),
    );
    for (const g of gaps) assert.ok(g.min >= 10, `y labels at least 10 px apart (no digits drawn over each other): ${JSON.stringify(g)}`);
    // The case seen in the e2e (a gradient norm between 1.28 and 2.05): the log axis' bound 1.28 beside
    // the nice 1.3. The panel's axis pinned to that range for one draw, then given back.
    const pinned = await page.$eval('#chart-overlay-1', (c) => {
      type Axis = { min?: number; max?: number };
      const chart = (window as unknown as { Chart: { getChart(c: unknown): { options: { scales: { y: Axis } }; update(m: string): void; scales: { y: { ticks: { value: number }[]; getPixelForValue(v: number): number } } } } }).Chart.getChart(c);
      Object.assign(chart.options.scales.y, { min: 1.28, max: 2.05 });
      chart.update('none');
      const y = chart.scales.y;
      const px = y.ticks.map((t) => y.getPixelForValue(t.value));
      const out = { ticks: y.ticks.map((t) => t.value), min: Math.min(...px.slice(1).map((p, i) => Math.abs(p - px[i]))) };
      delete chart.options.scales.y.min;
      delete chart.options.scales.y.max;
      chart.update('none');
      return out;
    });
    assert.ok(pinned.ticks.length >= 3 && pinned.min >= 10, `a bound beside a nice tick left out (mutant: the hook off → 1.28 and 1.3 6 px apart): ${JSON.stringify(pinned)}`);
    await check(2, 'diagnostics:rho', 'step', 'panel 3 (ρ(J))');
    // Each panel is an image named by its series and its runs, with the text fallback of what it draws.
    for (const p of ps) {
      assert.equal(p.role, 'img');
      for (const l of labels) assert.ok(p.label.includes(l) && p.summary.includes(`${l}: last`), `${p.id}: '${p.label}' / '${p.summary}'`);
    }
    assert.match(ps[1].label, /^gradient norm ‖∇L‖ by step, log y, of /);
    assert.match(ps[2].label, /^spectral radius ρ\(J\) by step, linear y, of /);
    // y per panel: the registry's scale by default (grad_norm log, ρ(J) linear); switched one each way.
    assert.deepEqual(ps.map((p) => p.yType), ['logarithmic', 'logarithmic', 'linear']);
    await page.selectOption('#overlay-yscale-1', 'linear');
    await page.selectOption('#overlay-yscale-2', 'log');
    ps = await panels(page);
    assert.deepEqual(ps.map((p) => p.yType), ['logarithmic', 'linear', 'logarithmic'], 'each panel its own y');
    await check(1, 'train:grad_norm', 'step', 'panel 2 on a linear y');
    // One x switch for every panel: wall time since the run started, from the events' recorded times.
    await page.selectOption('#overlay-xaxis', 'wall');
    ps = await panels(page);
    assert.deepEqual(ps.map((p) => p.xTitle), Array(3).fill('wall time since run start (s)'));
    await check(0, 'loss', 'wall', 'panel 1 by wall time');
    await check(1, 'train:grad_norm', 'wall', 'panel 2 by wall time');
    await check(2, 'diagnostics:rho', 'wall', 'panel 3 by wall time');
    assert.deepEqual(want('loss', 'wall')[0].slice(0, 2), [[0.95, 1], [1.2, 0.5]], 'wall time: 700 ms setup, then 250 ms a step (not the step)');
    // Each panel exports what it draws: panel 3's CSV is each run's ρ(J) by wall time.
    await page.click('[data-export="csv"][data-chart="overlay-2"]');
    const exp = (await posted()).filter((m) => m.type === 'export').at(-1) as Extract<WebviewToHost, { type: 'export' }>;
    assert.equal(exp.chart, 'overlay-diagnostics:rho');
    const csv = csvToSeries(exp.data);
    assert.equal(csv.xLabel, 'wall time since run start (s)');
    assert.deepEqual(csv.series.map((s) => [s.name, s.points.map((p) => [p.x, p.y])]), labels.map((l, k) => [l, want('diagnostics:rho', 'wall')[k]]));
    await page.locator('#overlay-card').screenshot({ path: (fs.mkdirSync(results, { recursive: true }), path.join(results, 'overlay-panels.png')) });

    // What is kept: in the webview state, and posted to the host (which keeps it in workspace state).
    const kept = { smoothing: 0, xAxis: 'wall', ignoreOutliers: false, hidden: [], panels: [{ metric: 'loss' }, { metric: 'train:grad_norm', yScale: 'linear' }, { metric: 'diagnostics:rho', yScale: 'log' }] };
    assert.deepEqual((await state())?.overlay, kept);
    assert.deepEqual((await posted()).filter((m) => m.type === 'overlaySettings').at(-1), { type: 'overlaySettings', settings: kept });

    // A reload: the webview state brings the panels back (the host sends the runs' series again on 'ready').
    await page.reload();
    await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
    await post({ type: 'overlay', series: SERIES });
    await page.locator('#overlay-card').waitFor({ state: 'visible' });
    ps = await panels(page);
    assert.deepEqual(ps.map((p) => [p.series, p.yType, p.xTitle]), [['loss', 'logarithmic', 'wall time since run start (s)'], ['train:grad_norm', 'linear', 'wall time since run start (s)'], ['diagnostics:rho', 'logarithmic', 'wall time since run start (s)']]);
    assert.equal(await page.inputValue('#overlay-xaxis'), 'wall');
    assert.equal(await page.inputValue('#overlay-yscale-1'), 'linear');
    await check(1, 'train:grad_norm', 'wall', 'panel 2 after a reload');
    await check(2, 'diagnostics:rho', 'wall', 'panel 3 after a reload');

    // A panel opened afresh (no webview state): the host's kept settings come with the series.
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
    await post({ type: 'overlay', series: SERIES, settings: { ...kept, xAxis: 'step' } as OverlaySettings });
    await page.locator('#overlay-card').waitFor({ state: 'visible' });
    ps = await panels(page);
    assert.deepEqual(ps.map((p) => [p.series, p.yType, p.xTitle]), [['loss', 'logarithmic', 'step'], ['train:grad_norm', 'linear', 'step'], ['diagnostics:rho', 'logarithmic', 'step']]);
    await check(1, 'train:grad_norm', 'step', 'panel 2 from the host’s settings');
    assert.deepEqual((await state())?.overlay?.panels, kept.panels, 'and kept in the new webview state');

    // Panels removed and capped: at most six; the add list says so.
    await page.click('#overlay-panels [data-remove-panel="0"]');
    assert.deepEqual((await panels(page)).map((p) => p.series), ['train:grad_norm', 'diagnostics:rho']);
    await check(0, 'train:grad_norm', 'step', 'the gradient norm, first panel after the loss panel went');
    for (const m of await page.$$eval('#overlay-add option', (os) => os.map((o) => (o as HTMLOptionElement).value).filter(Boolean))) {
      if (await page.isDisabled('#overlay-add')) break;
      await page.selectOption('#overlay-add', m);
    }
    assert.equal((await panels(page)).length, 6);
    assert.equal(await page.isDisabled('#overlay-add'), true);
    assert.match((await page.textContent('#overlay-add')) ?? '', /at most 6 panels/);
    assert.deepEqual(errors, []);
  }, { viewport: { width: 1280, height: 1400 }, keepState: true });
});
