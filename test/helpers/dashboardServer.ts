// The dashboard's real HTML and bundles (dist/) over http for the headless-Chromium webview tests.
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { dashboardHtml, makeNonce } from '../../src/extension/dashboardHtml';
import { repoRoot } from './setup';

/** The dark theme the tests without a theme of their own dress the page in. */
export const darkBody = (html: string): string =>
  html.replace('<body>', '<body class="vscode-dark" style="--vscode-foreground:#ccc;--vscode-editor-background:#1f1f1f;background:#1f1f1f;color:#ccc">');

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
