// Issue 19 (dash-mult) in real VS Code, after the runs-table step (two CLI runs picked, their gradient
// norm overlaid): the overlay's small multiples — a loss panel and a step-time panel added beside the
// gradient norm, the step time switched to a log y and x to wall time; each panel's datasets against
// the runs' recorded values (by step, then by seconds since each run's run/started event); the
// panels (series, y scales, x) back after a window reload (webview state) and after closing the
// panel and opening it again (the host's workspace state); then the runs table driven from the
// keyboard alone: focused, ↓ to a run not picked, Space picks it (the row, the caption and a third
// curve in every panel say so), Enter takes the pick back.
// Screenshots: e2e-runs-panels.png, e2e-runs-panels-card.png, e2e-runs-panels-reloaded.png (the whole
// card, each of its canvases asserted inside the image and the webview: shots.mjs), e2e-runs-keyboard.png.
import * as path from 'node:path';
import { shootCard } from './shots.mjs';

/** Panel i's ids (webview/charts/overlay.ts panelId: panel 0 keeps the overlay's own). */
const chartId = (i) => (i ? `chart-overlay-${i}` : 'chart-overlay');

/**
 * @param {object} h what the e2e body has, and the runs-table step's picks: page, webview(), palette,
 *   eventsOf, chartOf, assertChart, assert, log, results, picked ([a, b]: { id, dir, desc }), recorded
 */
export async function panelsSteps(h) {
  const { page, webview, palette, eventsOf, chartOf, assertChart, assert, log, results, picked, recorded } = h;
  const t0 = Date.now();

  /** A run's recorded values of a series: [step or seconds since run/started, value] per event. */
  const recordedOf = (r, series, x) => {
    const events = eventsOf(r.dir);
    const tStart = events.find((e) => e.type === 'run/started').t;
    const key = series === 'loss' ? 'loss' : series.slice('train:'.length);
    return events.filter((e) => e.type === 'metrics' && e.kind === 'train' && Number.isFinite(e.values[key])).map((e) => [x === 'wall' ? (e.t - tStart) / 1000 : e.step, e.values[key]]);
  };
  /** What each panel shows: its series, y type, x title. */
  const panelsOf = (wv) =>
    wv.locator('#overlay-panels figure.overlay-panel canvas').evaluateAll((cs) =>
      cs.map((c) => {
        const o = window.Chart.getChart(c).options.scales;
        return { id: c.id, series: c.dataset.series, y: o.y.type, x: o.x.title.text, label: c.getAttribute('aria-label') };
      }),
    );
  const want = [
    { series: 'train:grad_norm', y: 'logarithmic' },
    { series: 'loss', y: 'logarithmic' },
    { series: 'train:step_ms', y: 'logarithmic' },
  ];
  /** Every panel holds each picked run's recorded values of its series (data and drawn pixels). */
  const assertPanels = async (wv, runs, x, when) => {
    const title = x === 'wall' ? 'wall time since run start (s)' : 'step';
    /** The whole check once: it throws while the panels or their curves are not (yet) what was recorded. */
    const check = async () => {
      const shown = await panelsOf(wv).catch(() => []);
      assert(JSON.stringify(shown.map((p) => [p.series, p.y, p.x])) === JSON.stringify(want.map((w) => [w.series, w.y, title])), `${when}: panels ${JSON.stringify(shown)}`);
      for (const [i, w] of want.entries()) {
        assertChart(await chartOf(wv, chartId(i)), runs.map((r) => recordedOf(r, w.series, x)), `${when}, panel ${i + 1} (${w.series})`);
        assert(runs.every((r) => shown[i].label.includes(`(${r.id.slice(0, 15)})`)), `${when}, panel ${i + 1}'s accessible name names the runs: '${shown[i].label}'`);
      }
    };
    // A new pick's series arrive from the host after the panels are drawn: the check is retried for
    // up to 10 s, and its last failure is the one reported.
    for (let i = 0; ; i++) {
      try {
        return await check();
      } catch (e) {
        if (i >= 50) throw e;
        await page.waitForTimeout(200);
      }
    }
  };

  // 1. Two panels added beside the gradient norm (the add list), the step time's y to log, x to wall time.
  let wv = webview();
  await wv.locator('#overlay-add').selectOption('loss');
  await wv.locator('#overlay-add').selectOption('train:step_ms');
  await wv.locator('#chart-overlay-2').waitFor({ timeout: 10_000 });
  await wv.locator('#overlay-yscale-2').selectOption('log');
  await wv.locator('#overlay-xaxis').selectOption('wall');
  await page.waitForTimeout(300);
  await assertPanels(wv, picked, 'wall', 'three panels by wall time');
  const gradWall = recordedOf(picked[0], 'train:grad_norm', 'wall');
  assert(gradWall.some(([x], k) => x !== recordedOf(picked[0], 'train:grad_norm', 'step')[k][0]), `wall time is not the step: ${JSON.stringify(gradWall)}`);
  // The whole card in the images, every panel's canvas inside them and inside the webview (shots.mjs).
  const shot = await shootCard(page, wv.locator('#overlay-card'), path.join(results, 'e2e-runs-panels-card.png'), assert, path.join(results, 'e2e-runs-panels.png'));
  assert(shot.canvases === want.length, `the card shows ${want.length} panels: ${shot.canvases} canvases`);
  log(`panels: ${want.map((w) => w.series).join(', ')} by wall time; ${picked[0].desc.method} grad_norm at ${gradWall.map(([x]) => `${x.toFixed(2)} s`).join(', ')}; the card (${Math.round(shot.card.width)}×${Math.round(shot.card.height)} px, the window grown by ${shot.grown} px) whole in its image`);

  // 2. A window reload (Developer: Reload Window, as a user reloads: the workbench saves the webviews'
  //    state on the way out; a raw page reload once brought back the state before the last change):
  //    the panels come back from the webview state.
  await page.waitForTimeout(2000); // the workbench saves its layout and the webview's state
  let reloadedBy = 'Developer: Reload Window';
  try {
    const navigated = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: 30_000 });
    await palette('Developer: Reload Window');
    await navigated;
  } catch {
    reloadedBy = 'a page reload (the command did not reload)';
    await page.reload();
  }
  await page.waitForLoadState('load');
  await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  wv = webview();
  await wv.locator('#overlay-card:not([hidden])').waitFor({ timeout: 90_000 });
  await assertPanels(wv, picked, 'wall', 'after a window reload');
  await shootCard(page, wv.locator('#overlay-card'), path.join(results, 'e2e-runs-panels-reloaded.png'), assert);

  // 3. The panel closed and opened again: the host's workspace state brings picks and panels back.
  await palette('View: Close All Editors');
  await page.waitForTimeout(500);
  await palette('RBP Lab: Open Dashboard');
  wv = webview();
  await wv.locator('#overlay-card:not([hidden])').waitFor({ timeout: 30_000 });
  await assertPanels(wv, picked, 'wall', 'after closing and opening the panel');
  log(`panels back after a reload (${reloadedBy}) and after closing and opening the dashboard (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  // 4. The runs table from the keyboard alone: focus, ↓ to a run not picked, Space picks, Enter unpicks.
  const pickedIds = picked.map((r) => r.id);
  const third = recorded.find((r) => !pickedIds.includes(r.id));
  const caption = wv.locator('#cap-runs');
  await caption.filter({ hasText: /· 2 picked/ }).waitFor({ timeout: 10_000 });
  // The webview gets the focus (a click on the table's caption, which does nothing), then the table's
  // focusable row; from here on only keys.
  await caption.click();
  await wv.locator('#runs-table tbody tr[data-run][tabindex="0"]').focus();
  /** The webview document's focused row: [its index, its run] (none: [NaN, undefined]). */
  const focused = () => wv.locator('#runs-table').evaluate(() => {
    const tr = document.activeElement?.closest('tbody tr[data-run]');
    return tr ? [Number(tr.dataset.index), tr.dataset.run] : [NaN, undefined];
  });
  const focusedIndex = async () => (await focused())[0];
  const focusedRun = async () => (await focused())[1];
  const focusedRow = async () => wv.locator(`#runs-table tbody tr[data-index="${await focusedIndex()}"]`);
  const first = await focusedIndex();
  assert(first === 0, `the table's first row has the focus: ${first}`);
  let how = 'the page keyboard';
  const key = async (k) => {
    if (how === 'the page keyboard') await page.keyboard.press(k);
    else await (await focusedRow()).press(k);
    await page.waitForTimeout(60);
  };
  await key('ArrowDown');
  if ((await focusedIndex()) !== 1) {
    // The key did not reach the webview's frame: the same key sent to the focused row itself.
    how = "the focused row's own key events";
    await wv.locator('#runs-table tbody tr[data-index="0"]').focus();
    await key('ArrowDown');
  }
  assert((await focusedIndex()) === 1, `ArrowDown moved the focus to the second row (${how}): ${await focusedIndex()}`);
  // On to the third recorded run (not picked), by ↓ or ↑.
  for (let i = 0; (await focusedRun()) !== third.id; i++) {
    assert(i < 80, `the arrow keys reached ${third.id} (focused: ${await focusedRun()})`);
    const target = Number(await wv.locator(`#runs-table tbody tr[data-run="${third.id}"]`).getAttribute('data-index', { timeout: 500 }).catch(() => NaN));
    await key(Number.isFinite(target) && target < (await focusedIndex()) ? 'ArrowUp' : 'ArrowDown');
  }
  await key(' ');
  await wv.locator(`#runs-table tbody tr[data-run="${third.id}"][aria-selected="true"]`).waitFor({ timeout: 5000 });
  await caption.filter({ hasText: /· 3 picked/ }).waitFor({ timeout: 5000 });
  assert((await wv.locator(`#runs-table tbody tr[data-run="${third.id}"] td.pick`).innerText()) === '☑', 'the row shows its pick');
  await assertPanels(wv, [...picked, third], 'wall', 'a run picked from the keyboard, overlaid in every panel');
  await wv.locator('#runs-card').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(results, 'e2e-runs-keyboard.png') });
  assert((await focusedRun()) === third.id, 'focus stays on the picked row');
  await key('Enter');
  await caption.filter({ hasText: /· 2 picked/ }).waitFor({ timeout: 5000 });
  assert((await wv.locator(`#runs-table tbody tr[data-run="${third.id}"]`).getAttribute('aria-selected')) === 'false', 'Enter takes the pick back');
  await assertPanels(wv, picked, 'wall', 'the keyboard pick taken back');
  log(`runs table from the keyboard (${how}): ↓ to ${third.id}, Space picked it (3 curves a panel), Enter unpicked it (panels steps ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
