// Issue 19 (dash-finish) in real VS Code: the dashboard's runs table with runs of different methods
// and learning rates recorded by the CLI (`rbp run --runs-dir` into the workspace's runs root while
// the dashboard is open: the table lists them, completed, without a reload), its column headers, a
// sort by lr (the DOM's order against the recorded run.json values sorted), two runs picked with
// their config diff (the differing keys and both values, read from their run.json) and their
// gradient norm overlaid (the chart's datasets against each run's recorded `grad_norm`).
// Screenshots: e2e-runs-table.png, e2e-runs-sorted.png, e2e-runs-diff.png, e2e-runs-overlay.png,
// e2e-runs-overlay-card.png (the overlay card alone, for the README).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { shootCard } from './shots.mjs';

/** The runs table's fixed column headers (src/shared/runsTable.ts FIXED_COLUMNS), between 'pick' and 'actions'. */
const HEADERS = ['name', 'experiment', 'status', 'method', 'K', 'T', 'lr', 'seed', 'steps', 'duration', 'final loss', 'final eval', 'ρ(J) @ step', 'grad err vs exact @ step'];

/** `{ model: { T: 5 } }` → `{ 'model.T': 5 }`, lists as JSON: the config as the diff keys it (written here, not imported). */
function flat(o, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(o)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flat(v, `${prefix}${k}.`, out);
    else out[prefix + k] = v === null || typeof v !== 'object' ? v : JSON.stringify(v);
  }
  return out;
}

/** The run's learning rate as recorded: train.meta_lr (hypergrad) or train.lr. */
const lrOf = (desc) => [desc?.config?.train?.meta_lr, desc?.config?.train?.lr].find((v) => typeof v === 'number') ?? null;

/**
 * @param {object} h what the e2e body has: page, webview(), palette, runs, eventsOf, chartOf,
 *   assertChart, showsValue, assert, log, ws, results, repo
 */
export async function runsTableSteps(h) {
  const { page, webview, palette, runs, eventsOf, chartOf, assertChart, showsValue, assert, log, ws, results, repo } = h;
  const t0 = Date.now();
  await palette('View: Close All Editors');
  await palette('RBP Lab: Open Dashboard');
  const wv = webview();
  await wv.locator('#runs-table thead th').first().waitFor({ timeout: 30_000 });

  // 1. Three runs of different methods and lr, recorded by the CLI into this workspace's runs root
  //    while the dashboard is open (3 Hopfield steps of T = 20 each, ~6 s apiece).
  const root = path.join(ws, '.rbp-lab', 'runs');
  const recorded = [];
  for (const [method, K, lr] of [['BPTT', null, 3e-3], ['TBPTT', 5, 1e-2], ['RBP', null, 3e-4]]) {
    const before = new Set(runs().map((r) => r.id));
    const args = [path.join(repo, 'dist', 'cli.js'), 'run', 'hopfield', '--method', method, ...(K ? ['--truncate', String(K)] : []), '--steps', '3', '--set', 'model.num_update=20', '--set', `train.lr=${lr}`, '--runs-dir', root];
    execFileSync(process.execPath, args, { cwd: ws, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
    const r = runs().find((x) => !before.has(x.id));
    assert(r && r.desc.status === 'completed' && r.desc.method === method && lrOf(r.desc) === lr, `rbp run recorded ${method} at lr ${lr}: ${r?.id} ${r?.desc?.status}`);
    recorded.push(r);
  }
  const all = runs();
  log(`recorded with the CLI: ${recorded.map((r) => `${r.id} (lr ${lrOf(r.desc)})`).join(', ')}; ${all.length} runs in the root`);

  // The table lists every run of the root, the CLI's three completed, without a reload (the runs root's watcher).
  const caption = wv.locator('#cap-runs');
  await caption.filter({ hasText: new RegExp(`^${all.length} of ${all.length} runs`) }).waitFor({ timeout: 30_000 });
  for (const r of recorded) {
    const status = wv.locator(`#runs-table tr[data-run="${r.id}"] td[data-column="status"]`);
    for (let i = 0; (await status.innerText().catch(() => '')) !== 'completed'; i++) {
      if (i > 60) throw new Error(`the table's status of ${r.id}: '${await status.innerText().catch(() => '(row not in the DOM)')}'`);
      await page.waitForTimeout(250);
    }
  }
  const headers = (await wv.locator('#runs-table thead th').allInnerTexts()).map((t) => t.trim());
  assert(headers[0] === 'pick' && headers.at(-1) === 'actions' && JSON.stringify(headers.slice(1, 1 + HEADERS.length)) === JSON.stringify(HEADERS), `the runs table's column headers: ${JSON.stringify(headers)}`);
  // Further columns: every config key whose value differs between the recorded runs (the root holds Hopfield's and
  // the DEQ template's), sorted; not the keys the fixed columns show or that name the run.
  const configHeaders = headers.slice(1 + HEADERS.length, -1);
  const flats = all.filter((r) => r.desc).map((r) => flat(r.desc.config));
  const shownKeys = new Set(['seed', 'train.lr', 'train.meta_lr', 'model.grad_method', 'model.truncate_iter', 'exp_name', 'exp_dir']);
  const differ = [...new Set(flats.flatMap((f) => Object.keys(f)))].filter((k) => !shownKeys.has(k) && flats.some((f) => f[k] !== flats[0][k])).sort();
  assert(differ.includes('dataset.name') && JSON.stringify(configHeaders) === JSON.stringify(differ), `the differing config keys as columns: ${JSON.stringify(configHeaders)}, from run.json: ${JSON.stringify(differ)}`);
  await wv.locator('#runs-card').scrollIntoViewIfNeeded();
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(results, 'e2e-runs-table.png') });

  // 2. Sort by lr (its header's button), ascending then descending: the rows in the DOM are the
  //    recorded runs in the order of their run.json lr (runs without one last; equal lr: newest first).
  const order = (dir) =>
    all
      .filter((r) => r.desc)
      .sort((a, b) => {
        const x = lrOf(a.desc);
        const y = lrOf(b.desc);
        if (x === null || y === null) return x === null && y === null ? b.desc.startedAt.localeCompare(a.desc.startedAt) : x === null ? 1 : -1;
        return x !== y ? (dir === 'asc' ? x - y : y - x) : b.desc.startedAt.localeCompare(a.desc.startedAt);
      })
      .map((r) => r.id);
  for (const dir of ['asc', 'desc']) {
    await wv.locator('#runs-table th[data-column="lr"] button.sort').click();
    await wv.locator(`#runs-table th[data-column="lr"][aria-sort="${dir === 'asc' ? 'ascending' : 'descending'}"]`).waitFor({ timeout: 5000 });
    const shown = await wv.locator('#runs-table tbody tr[data-run]').evaluateAll((trs) => trs.map((tr) => ({ id: tr.dataset.run, index: Number(tr.dataset.index), lr: tr.querySelector('td[data-column="lr"]').textContent })));
    const want = order(dir);
    // Virtualised: the rows from the top (index 0 on) that are in view, at least ten of them or every run.
    assert(shown.length >= Math.min(10, want.length) && shown.every((s, i) => s.index === i), `the sorted table renders its first rows: ${shown.length} of ${want.length}`);
    assert(JSON.stringify(shown.map((s) => s.id)) === JSON.stringify(want.slice(0, shown.length)), `sorted by lr ${dir}: the DOM's rows ${JSON.stringify(shown.map((s) => s.id))}, the recorded order ${JSON.stringify(want.slice(0, shown.length))}`);
    for (const s of shown) {
      const lr = lrOf(all.find((r) => r.id === s.id).desc);
      if (lr === null) assert(s.lr === '–', `${s.id}: no lr recorded, the cell says '${s.lr}'`);
      else showsValue(s.lr, lr, `the lr cell of ${s.id}`);
    }
    log(`sorted by lr ${dir}: ${shown.map((s) => s.lr).join(', ')}`);
  }
  await page.screenshot({ path: path.join(results, 'e2e-runs-sorted.png') });

  // 3. Pick two (the filter finds each by its id; a click on its row picks it): their config diff.
  const [a, b] = recorded;
  const filter = wv.locator('#runs-filter');
  for (const r of [a, b]) {
    await filter.fill(r.id);
    await caption.filter({ hasText: new RegExp(`^\\d+ of ${all.length} runs match`) }).waitFor({ timeout: 5000 });
    await wv.locator(`#runs-table tbody tr[data-run="${r.id}"] td[data-column="name"]`).click();
    await wv.locator(`#runs-table tbody tr[data-run="${r.id}"][aria-selected="true"]`).waitFor({ timeout: 5000 });
  }
  await filter.fill('');
  await caption.filter({ hasText: /· 2 picked/ }).waitFor({ timeout: 5000 });
  const fa = flat(a.desc.config);
  const fb = flat(b.desc.config);
  const keys = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort();
  const differing = keys.filter((k) => fa[k] !== fb[k]);
  assert(differing.includes('train.lr') && differing.includes('model.grad_method'), `the two runs' configs differ in lr and method: ${differing.join(', ')}`);
  const diffCard = wv.locator('#diff-card');
  await diffCard.waitFor({ state: 'visible', timeout: 10_000 });
  const summary = await wv.locator('#diff-summary').innerText();
  assert(summary === `${differing.length} of ${keys.length} keys differ: ${differing.join(', ')}`, `the diff's summary: '${summary}' (run.json: ${differing.length} of ${keys.length} differ: ${differing.join(', ')})`);
  const diffHead = (await wv.locator('#diff-table thead th').allInnerTexts()).map((t) => t.trim());
  assert(JSON.stringify(diffHead) === JSON.stringify(['key', a.desc.label ?? a.id, b.desc.label ?? b.id]), `the diff's columns: ${JSON.stringify(diffHead)}`);
  const rows = await wv.locator('#diff-table tbody tr.differs').evaluateAll((trs) => trs.map((tr) => [tr.dataset.key, ...[...tr.querySelectorAll('td')].map((td) => td.firstChild?.textContent ?? '')]));
  const show = (v) => (v === undefined ? '(absent)' : String(v));
  assert(JSON.stringify(rows) === JSON.stringify(differing.map((k) => [k, show(fa[k]), show(fb[k])])), `the differing rows: ${JSON.stringify(rows)}, run.json: ${JSON.stringify(differing.map((k) => [k, fa[k], fb[k]]))}`);
  assert((await wv.locator('#diff-table tbody tr').count()) === keys.length, 'every key of either config is a row');
  await wv.locator('#diff-only').check();
  assert((await wv.locator('#diff-table tbody tr').count()) === differing.length, "'Only differences' leaves the differing keys");
  await diffCard.scrollIntoViewIfNeeded();
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(results, 'e2e-runs-diff.png') });
  log(`config diff of ${a.id} and ${b.id}: ${rows.map(([k, x, y]) => `${k} ${x} | ${y}`).join('; ')}`);

  // 4. Their gradient norm overlaid: one dataset per picked run (in the order picked), each its recorded grad_norm by step.
  const overlay = wv.locator('#overlay-card');
  await overlay.waitFor({ state: 'visible', timeout: 15_000 });
  const select = wv.locator('#overlay-metric');
  let how = 'the metric list';
  try {
    await select.click();
    await select.getByText('(train:grad_norm)').last().click({ timeout: 5000 });
  } catch {
    // The list did not open to a click here: the same change event from the element itself.
    how = 'the select element (the list did not open)';
    await page.keyboard.press('Escape');
    await select.evaluate((el) => {
      el.value = 'train:grad_norm';
      el.dispatchEvent(new Event('change'));
    });
  }
  await wv.locator('#cap-overlay').filter({ hasText: 'train:grad_norm by step' }).waitFor({ timeout: 10_000 });
  await overlay.scrollIntoViewIfNeeded();
  await page.waitForTimeout(500);
  const want = [a, b].map((r) => eventsOf(r.dir).filter((e) => e.type === 'metrics' && e.kind === 'train' && Number.isFinite(e.values.grad_norm)).map((e) => [e.step, e.values.grad_norm]));
  assert(want.every((pts) => pts.length === 3), `each run recorded 3 gradient norms: ${want.map((p) => p.length).join(', ')}`);
  const got = await chartOf(wv, 'chart-overlay');
  assertChart(got, want, 'overlay of the gradient norm');
  assert(got.every((d, i) => d.label.includes(`(${[a, b][i].id.slice(0, 15)})`)), `the overlay's legend names the runs: ${got.map((d) => d.label).join(' | ')}`);
  const yTitle = await wv.locator('#chart-overlay').evaluate((c) => window.Chart.getChart(c).options.scales.y.title.text);
  assert(/gradient norm/.test(yTitle), `the overlay's y axis: '${yTitle}'`);
  await shootCard(page, overlay, path.join(results, 'e2e-runs-overlay-card.png'), assert, path.join(results, 'e2e-runs-overlay.png'));
  log(`overlay of grad_norm (picked through ${how}): ${want.map((p, i) => `${[a, b][i].desc.method} ${p.map(([, v]) => v.toFixed(3)).join(' → ')}`).join('; ')} (runs table checks ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return { picked: [a, b], recorded };
}
