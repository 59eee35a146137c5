/**
 * The dashboard's incremental runs list in headless Chromium (the panel's own HTML and bundle): after
 * a full `runsTable`, a `runsUpdate` changes one row in place, removes one and adds one, and the
 * table then shows what a fresh listing would. (The host half: test/extension/runsStore.test.ts.)
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { RunRow } from '../../src/shared/runsTable';
import type { RunSummary } from '../../src/protocol/messages';
import { chromiumSkip, withDashboardPage } from '../helpers/dashboardServer';

const skip = chromiumSkip();

function row(i: number, name = `run ${i}`): RunRow {
  return {
    runId: `r${i}`, name, experiment: 'hopfield', status: 'completed', method: 'RBP', K: 5, T: 50, lr: 1e-3, seed: 1, stepsDone: 10, stepsPlanned: 10, durationMs: 1000, startedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    finalLoss: { step: 9, value: 0.5 }, finalEval: null, lastRho: null, lastProbe: null, checkpoints: [], config: { seed: 1 },
  };
}
const summary = (r: RunRow): RunSummary => ({ runId: r.runId, experiment: r.experiment, method: r.method, K: r.K, status: 'completed', startedAt: r.startedAt, finalMetrics: {} });

test('a runsUpdate changes, removes and adds rows of the runs table', { skip, timeout: 60_000 }, async () => {
  await withDashboardPage(async ({ page, srv, errors, post }) => {
    await page.goto(`${srv.origin}/`);
    const shown = () => page.$$eval('#runs-table tbody tr[data-run]', (trs) => trs.map((t) => `${(t as HTMLElement).dataset.run}:${t.querySelector('td[data-column="name"]')?.textContent?.trim()}`));
    const rows = [row(4), row(3), row(2), row(1)];
    await post({ type: 'runsTable', rows });
    await page.waitForSelector('#runs-table tbody tr[data-run]');
    assert.deepEqual((await shown()).sort(), ['r1:run 1', 'r2:run 2', 'r3:run 3', 'r4:run 4']);
    // r3 relabelled, r2 removed, r5 added: the other rows stay as they were.
    await post({ type: 'runsUpdate', rows: [row(3, 'relabelled'), row(5)], runs: [summary(row(3)), summary(row(5))], removed: ['r2'] });
    await page.waitForFunction(() => document.querySelector('#runs-table tbody tr[data-run="r5"]') !== null);
    assert.deepEqual((await shown()).sort(), ['r1:run 1', 'r3:relabelled', 'r4:run 4', 'r5:run 5']);
    assert.match((await page.textContent('#cap-runs')) ?? '', /^4 of 4 runs/);
    // The harness hears the page (else every `errors` check of the webview tests passes blindly;
    // mutant: withDashboardPage's console listener dropped, caught here only).
    const heard = page.waitForEvent('console');
    await page.evaluate(() => console.error('rbp-test: heard'));
    await heard;
    assert.deepEqual(errors, ['rbp-test: heard']);
  }, { viewport: { width: 1280, height: 900 } });
});
