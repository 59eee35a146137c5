/**
 * The dashboard's incremental runs list in headless Chromium (the panel's own HTML and bundle): after
 * a full `runsTable`, a `runsUpdate` changes one row in place, removes one and adds one, and the
 * table then shows what a fresh listing would. (The host half: test/extension/runsStore.test.ts.)
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { dashboardHtml, makeNonce } from '../../src/extension/dashboardHtml';
import type { RunRow } from '../../src/shared/runsTable';
import type { HostToWebview, RunSummary } from '../../src/protocol/messages';
import { repoRoot } from '../helpers/setup';

const CHROMIUM = '/usr/bin/chromium';
const skip = !fs.existsSync(CHROMIUM) ? `${CHROMIUM} is absent (apt-get install -y chromium)` : false;

function row(i: number, name = `run ${i}`): RunRow {
  return {
    runId: `r${i}`, name, experiment: 'hopfield', status: 'completed', method: 'RBP', K: 5, T: 50, lr: 1e-3, seed: 1, stepsDone: 10, stepsPlanned: 10, durationMs: 1000, startedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    finalLoss: { step: 9, value: 0.5 }, finalEval: null, lastRho: null, lastProbe: null, checkpoints: [], config: { seed: 1 },
  };
}
const summary = (r: RunRow): RunSummary => ({ runId: r.runId, experiment: r.experiment, method: r.method, K: r.K, status: 'completed', startedAt: r.startedAt, finalMetrics: {} });

test('a runsUpdate changes, removes and adds rows of the runs table', { skip, timeout: 60_000 }, async () => {
  const { chromium } = await import('playwright-core');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.startsWith('/dist/')) {
      const file = path.join(repoRoot, 'dist', path.basename(url.pathname));
      if (!fs.existsSync(file)) return void res.writeHead(404).end();
      return void res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'application/octet-stream' }).end(fs.readFileSync(file));
    }
    const origin = `http://${req.headers.host}`;
    res.writeHead(200, { 'content-type': 'text/html' }).end(dashboardHtml({ cspSource: origin, nonce: makeNonce(), scriptUri: `${origin}/dist/webview.js`, styleUri: `${origin}/dist/webview.css`, codiconUri: `${origin}/dist/codicon.css` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.addInitScript('window.acquireVsCodeApi = () => ({ postMessage: () => {}, getState: () => undefined, setState: () => {} });');
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const post = (m: HostToWebview) => page.evaluate((x) => window.postMessage(x, '*'), m);
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
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await new Promise((r) => server.close(() => r(undefined)));
  }
});
