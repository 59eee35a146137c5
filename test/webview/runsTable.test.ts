/**
 * The runs table (issue 19): its model (src/shared/runsTable.ts: differing keys, config diff,
 * sort, filter, rows in view) and the dashboard's table in headless Chromium (the panel's own HTML
 * and bundle): <th> headers with aria-sort, sort order, filter, only the rows in view in the DOM,
 * keyboard moves and picks, picked runs posted to the host, two picked → their config diff,
 * "Compare at this step" posting compareAt. Screenshot: test-results/runs-table.png.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { columnsFor, configDiff, differingKeys, filterRows, rowsInView, sortRows, type RunRow } from '../../src/shared/runsTable';
import type { WebviewToHost } from '../../src/protocol/messages';
import { repoRoot } from '../helpers/setup';
import { chromiumSkip, withDashboardPage } from '../helpers/dashboardServer';

const skip = chromiumSkip();

const METHODS = ['BPTT', 'TBPTT', 'RBP', 'CG_RBP', 'Neumann_RBP'];

function row(i: number, over: Partial<RunRow> = {}): RunRow {
  const method = METHODS[i % 5];
  const lr = [1e-3, 1e-4, 3e-4][i % 3];
  return {
    runId: `run-${String(i).padStart(4, '0')}`, name: `run-${String(i).padStart(4, '0')}`, experiment: 'hopfield', status: i % 7 === 0 ? 'stopped' : 'completed', method, K: method === 'BPTT' ? null : 5 + (i % 4),
    T: 50, lr, seed: 1234, stepsDone: 100, stepsPlanned: 100, durationMs: 1000 * (i + 1), startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    finalLoss: { step: 99, value: 1 / (i + 1) }, finalEval: { step: 99, name: 'retrieval_bit_err', value: (i % 10) / 10 }, lastRho: { step: 99, value: 0.5 + (i % 5) / 10, verdict: 'ok' },
    lastProbe: i % 2 ? { step: 75, relErrExact: 1e-3 * i, method } : null, checkpoints: i % 3 === 0 ? [50, 100] : [],
    config: { seed: 1234, 'model.grad_method': method, 'model.num_update': 50, 'train.lr': lr, 'train.batch_size': i % 2 ? 10 : 1, 'dataset.num_imgs': 10 },
    ...over,
  };
}

test('runs table model: differing config keys, the diff of two configs, sort with empties last, filter by words, rows in view', () => {
  const rows = [row(0), row(1), row(2), { ...row(3), unreadable: 'run.json is not JSON', config: {}, finalLoss: null, finalEval: null, lastRho: null, lastProbe: null }];
  // train.lr and model.grad_method are columns of their own; an unreadable row takes no part.
  assert.deepEqual(differingKeys(rows), ['train.batch_size']);
  assert.deepEqual(differingKeys([row(0), { ...row(2), config: { ...row(2).config, 'model.extra': 1 } }]), ['model.extra'], 'a key one run lacks differs');
  const d = configDiff(row(0), row(1));
  assert.deepEqual(d.filter((x) => x.differs).map((x) => [x.key, x.a, x.b]), [['model.grad_method', 'BPTT', 'TBPTT'], ['train.batch_size', 1, 10], ['train.lr', 1e-3, 1e-4]]);
  assert.equal(d.length, 6, 'every key is there');
  const byLoss = sortRows(rows, { column: 'loss', dir: 'asc' });
  assert.deepEqual(byLoss.map((r) => r.runId), ['run-0002', 'run-0001', 'run-0000', 'run-0003'], 'ascending loss, the unreadable (no loss) last');
  assert.deepEqual(sortRows(rows, { column: 'loss', dir: 'desc' }).map((r) => r.runId), ['run-0000', 'run-0001', 'run-0002', 'run-0003'], 'empties last either way');
  assert.deepEqual(sortRows(rows, { column: 'config:train.batch_size', dir: 'desc' }).map((r) => r.runId).slice(0, 1), ['run-0001']);
  assert.deepEqual(filterRows(rows, 'tbptt').map((r) => r.runId), ['run-0001']);
  assert.deepEqual(filterRows(rows, 'BPTT 1.00e-4').map((r) => r.runId), ['run-0001'], 'every word, any column (lr as shown)');
  assert.deepEqual(filterRows(rows, 'batch_size=10').map((r) => r.runId), ['run-0001'], 'config values too');
  assert.deepEqual(filterRows(rows, 'unreadable').map((r) => r.runId), ['run-0003']);
  assert.equal(columnsFor(rows).at(-1)?.id, 'config:train.batch_size');
  assert.deepEqual(rowsInView(1000, 0, 260, 26, 0), { first: 0, last: 9 });
  assert.deepEqual(rowsInView(1000, 26 * 500, 260, 26, 2), { first: 498, last: 511 });
  assert.deepEqual(rowsInView(3, 0, 260, 26, 5), { first: 0, last: 2 });
});

test('the runs table in the dashboard: headers, sort, filter, virtualised rows, keyboard picks, config diff, compare at this step', { skip, timeout: 120_000 }, async () => {
  await withDashboardPage(async ({ page, srv, errors, post, posted }) => {
    await page.goto(`${srv.origin}/dark`);
    const rows = Array.from({ length: 1000 }, (_, i) => row(i));
    await post({ type: 'runsTable', rows });
    await page.waitForSelector('#runs-table tbody tr[data-run]');
    const headers = await page.$$eval('#runs-table thead th', (ths) => ths.map((t) => t.textContent?.trim()));
    assert.deepEqual(headers, ['pick', 'name', 'experiment', 'status', 'method', 'K', 'T', 'lr', 'seed', 'steps', 'duration', 'final loss', 'final eval', 'ρ(J) @ step', 'grad err vs exact @ step', 'train.batch_size', 'actions']);
    // Virtualised: 1,000 runs, a few dozen rows in the DOM (mutant: render every row → 1,000).
    const rendered = await page.$$eval('#runs-table tbody tr[data-run]', (trs) => trs.length);
    assert.ok(rendered > 5 && rendered < 40, `rows in the DOM: ${rendered}`);
    // Sort by final loss (a button in the <th>), ascending then descending; aria-sort says so.
    await page.click('#runs-table th[data-column="loss"] button');
    assert.equal(await page.getAttribute('#runs-table th[data-column="loss"]', 'aria-sort'), 'ascending');
    const firstLoss = await page.$$eval('#runs-table tbody tr[data-run] td[data-column="loss"]', (tds) => tds.slice(0, 3).map((t) => t.textContent));
    assert.deepEqual(firstLoss, ['0.001', '0.001001', '0.001002'], 'smallest final losses first (runs 999, 998, 997)');
    await page.click('#runs-table th[data-column="loss"] button');
    assert.equal(await page.getAttribute('#runs-table th[data-column="loss"]', 'aria-sort'), 'descending');
    assert.deepEqual(await page.$$eval('#runs-table tbody tr[data-run]', (trs) => trs.slice(0, 2).map((t) => (t as HTMLElement).dataset.run)), ['run-0000', 'run-0001']);
    // Scrolling far down shows those rows (and still only a few in the DOM).
    await page.$eval('#runs-scroll', (el) => (el.scrollTop = 26 * 600));
    await page.waitForFunction(() => document.querySelector('#runs-table tbody tr[data-run="run-0600"]') !== null);
    // Filter: every word must match.
    await page.fill('#runs-filter', 'Neumann_RBP 1.00e-4');
    const filtered = await page.$$eval('#runs-table tbody tr[data-run]', (trs) => trs.map((t) => (t as HTMLElement).dataset.run));
    const want = rows.filter((r) => r.method === 'Neumann_RBP' && r.lr === 1e-4).map((r) => r.runId);
    assert.equal(filtered.length, Math.min(want.length, filtered.length));
    assert.ok(filtered.every((id) => want.includes(id!)), 'only Neumann-RBP runs at lr 1e-4');
    assert.match(await page.textContent('#cap-runs') ?? '', new RegExp(`^${want.length} of 1000 runs`));
    // Keyboard: focus the first row, ArrowDown, Space picks the second, ArrowDown, Enter picks the third.
    await page.focus('#runs-table tbody tr[data-run][tabindex="0"]');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press(' ');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    const picks = (await posted()).filter((m) => m.type === 'pickRuns');
    assert.deepEqual(picks.at(-1), { type: 'pickRuns', runIds: [filtered[1], filtered[2]] });
    assert.deepEqual(await page.$$eval('#runs-table tbody tr[aria-selected="true"]', (trs) => trs.map((t) => (t as HTMLElement).dataset.run)), [filtered[1], filtered[2]]);
    // Two picked: their config diff, differing keys marked, values as in the rows.
    await page.waitForSelector('#diff-card:not([hidden])');
    const a = rows.find((r) => r.runId === filtered[1])!;
    const b = rows.find((r) => r.runId === filtered[2])!;
    const differs = await page.$$eval('#diff-table tr.differs', (trs) => trs.map((t) => Array.from(t.children).map((c) => c.textContent?.replace(' (differs)', ''))));
    assert.deepEqual(differs, configDiff(a, b).filter((d) => d.differs).map((d) => [d.key, String(d.a), String(d.b)]));
    assert.equal(await page.$$eval('#diff-table tbody tr', (trs) => trs.length), 6, 'every key available');
    await page.check('#diff-only');
    assert.equal(await page.$$eval('#diff-table tbody tr', (trs) => trs.length), differs.length, 'only differences');
    fs.mkdirSync(path.join(repoRoot, 'test-results'), { recursive: true });
    await page.locator('#runs-card').screenshot({ path: path.join(repoRoot, 'test-results', 'runs-table.png') });
    // Compare at this step: a run with checkpoints has the action; it posts compareAt with the newest one.
    await page.fill('#runs-filter', 'run-0003');
    await page.click('#runs-table tbody tr[data-run="run-0003"] button[data-compare-at]');
    // Other messages (a pick saved after the filter's re-render) may land after it under load: the
    // click's own message is looked up by type, and there is exactly one.
    await page.waitForFunction(() => (window as unknown as { __posted: WebviewToHost[] }).__posted.some((m) => m.type === 'compareAt'));
    assert.deepEqual((await posted()).filter((m) => m.type === 'compareAt'), [{ type: 'compareAt', runId: 'run-0003', step: 100 }]);
    // What survives a reload: the webview state holds the picks, the sort and the filter.
    const st = await page.evaluate(() => (window as unknown as { __state: Record<string, unknown> }).__state);
    assert.deepEqual(st.overlayRunIds, [filtered[1], filtered[2]]);
    assert.deepEqual(st.table, { sort: { column: 'loss', dir: 'desc' }, filter: 'run-0003', diffOnly: true });
    assert.deepEqual(errors, []);
  }, { viewport: { width: 1280, height: 900 } });
});
