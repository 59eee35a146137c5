// The dashboard's real HTML and bundles (dist/) over http, and a headless-Chromium page on it with
// VS Code's webview API in place, for the webview tests.
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';
import type { Page } from 'playwright-core';
import type { HostToWebview, WebviewToHost } from '../../src/protocol/messages';
import { dashboardHtml, makeNonce } from '../../src/extension/dashboardHtml';
import { repoRoot, skipOrFailInCi } from './setup';

/**
 * The dark theme the tests without a theme of their own dress the page in: as VS Code does, the
 * theme's variables on <html> (parsed before the page's CSP, which blocks a style attribute after it:
 * on <body> this dress was refused with a console error) and its kind as a class on <body>.
 */
export const darkBody = (html: string): string =>
  html
    .replace('<html lang="en">', '<html lang="en" style="--vscode-foreground:#ccc;--vscode-editor-background:#1f1f1f;background:#1f1f1f;color:#ccc">')
    .replace('<body>', '<body class="vscode-dark">');

/** Serves dist/ and, at any other path, the dashboard's HTML passed through `dress(html, pathname)`. */
export async function serveDashboard(dress: (html: string, pathname: string) => string = darkBody): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.startsWith('/dist/')) {
      const file = path.join(repoRoot, 'dist', path.basename(url.pathname));
      if (!fs.existsSync(file)) return void res.writeHead(404).end();
      const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : file.endsWith('.ttf') ? 'font/ttf' : 'application/octet-stream';
      res.writeHead(200, { 'content-type': type }).end(fs.readFileSync(file));
      return;
    }
    const origin = `http://${req.headers.host}`;
    const html = dashboardHtml({ cspSource: origin, nonce: makeNonce(), scriptUri: `${origin}/dist/webview.js`, styleUri: `${origin}/dist/webview.css`, codiconUri: `${origin}/dist/codicon.css` });
    res.writeHead(200, { 'content-type': 'text/html' }).end(dress(html, url.pathname));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/** Debian's Chromium, which the webview tests drive headless (RBP_CHROMIUM names another binary). */
export const CHROMIUM = process.env.RBP_CHROMIUM ?? '/usr/bin/chromium';

/** The `skip` of the tests that need Chromium: false where it is installed, else skipOrFailInCi (CI fails). Call once per suite, at load. */
export function chromiumSkip(): string | false {
  if (fs.existsSync(CHROMIUM)) return false;
  return skipOrFailInCi('Chromium for the webview tests is installed', `${CHROMIUM} is absent (apt-get install -y chromium)`, 'CI runs the webview tests (.ci/run installs it)');
}

/**
 * VS Code's webview API for the page: what it posts lands in window.__posted, its state in
 * window.__state, CSP violations in window.__csp. `keepState`: the state is also kept in
 * sessionStorage, so that it outlives a reload (as VS Code keeps setState's).
 */
const vscodeApi = (keepState: boolean): string => `
  window.__posted = [];
  window.__csp = [];
  window.__state = ${keepState ? "JSON.parse(sessionStorage.getItem('state') ?? 'null') ?? undefined" : 'undefined'};
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => window.__posted.push(m),
    getState: () => window.__state,
    setState: (s) => { window.__state = s;${keepState ? " sessionStorage.setItem('state', JSON.stringify(s));" : ''} },
  });
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
`;

/** What a dashboard test gets: the served page with VS Code's webview API in place. */
export interface DashboardPage {
  page: Page;
  srv: Awaited<ReturnType<typeof serveDashboard>>;
  /** Page errors, console errors and requests that left the local server, as they happen. */
  errors: string[];
  /** Send a host message to the webview. */
  post: (msg: HostToWebview) => Promise<void>;
  /** What the webview has posted to the host so far. */
  posted: () => Promise<WebviewToHost[]>;
}

/**
 * Serve the dashboard (its HTML through `dress`), open a headless Chromium page with VS Code's
 * webview API (not yet navigated: the test goes to `${srv.origin}/<path>`), run `body`, close
 * everything whatever happens.
 */
export async function withDashboardPage(
  body: (d: DashboardPage) => Promise<void>,
  opts: { viewport?: { width: number; height: number }; keepState?: boolean; dress?: (html: string, pathname: string) => string } = {},
): Promise<void> {
  const { chromium } = await import('playwright-core');
  const srv = await serveDashboard(opts.dress);
  try {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    try {
      const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1280, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('request', (r) => {
        if (!r.url().startsWith(srv.origin) && !r.url().startsWith('data:')) errors.push(`remote request: ${r.url()}`);
      });
      await page.addInitScript(vscodeApi(opts.keepState ?? false));
      const post = async (msg: HostToWebview) => {
        await page.evaluate((m) => window.postMessage(m, '*'), msg);
      };
      const posted = () => page.evaluate(() => (window as unknown as { __posted: WebviewToHost[] }).__posted);
      await body({ page, srv, errors, post, posted });
    } finally {
      await browser.close();
    }
  } finally {
    await srv.close();
  }
}
