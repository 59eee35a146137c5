/**
 * The dashboard's HTML, vscode-free so the headless-Chromium test renders exactly what the panel
 * shows. Strict CSP: no remote anything; scripts only with this page's nonce; styles and fonts only
 * from the extension's own resources (`cspSource`).
 */
import { randomBytes } from 'crypto';

export interface DashboardHtmlOptions {
  /** webview.cspSource */
  cspSource: string;
  nonce: string;
  /** webview.asWebviewUri of dist/webview.js, dist/webview.css, dist/codicon.css */
  scriptUri: string;
  styleUri: string;
  codiconUri: string;
}

export function makeNonce(): string {
  return randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [`default-src 'none'`, `img-src ${cspSource} data:`, `style-src ${cspSource} 'nonce-${nonce}'`, `font-src ${cspSource}`, `script-src 'nonce-${nonce}'`, `connect-src 'none'`, `frame-src 'none'`, `form-action 'none'`, `base-uri 'none'`].join('; ');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** CSV / JSON / PNG buttons of a chart (the webview handles the clicks, the host saves). */
function exportButtons(chart: string): string {
  return `<span class="export" role="group" aria-label="Export ${chart}">${['csv', 'json', 'png'].map((f) => `<button type="button" class="tool" data-export="${f}" data-chart="${chart}" title="Export ${f === 'png' ? 'the chart as a PNG image' : `the chart's data as ${f.toUpperCase()}`}">${f.toUpperCase()}</button>`).join('')}</span>`;
}

function compareCard(id: string, title: string, hint: string, wide = false): string {
  return `<section class="card${wide ? ' wide' : ''}" aria-labelledby="h-cmp-${id}">
    <h2 id="h-cmp-${id}">${title} <span class="hint">${hint}</span><span class="spacer"></span>${exportButtons(`cmp-${id}`)}</h2>
    <div class="chart"><canvas id="chart-cmp-${id}" role="img" aria-label="${title}"></canvas></div>
    <p class="caption" id="cap-cmp-${id}"></p>
  </section>`;
}

export function dashboardHtml(o: DashboardHtmlOptions): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${esc(contentSecurityPolicy(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${esc(o.codiconUri)}" id="vscode-codicon-stylesheet">
<link rel="stylesheet" href="${esc(o.styleUri)}">
<title>RBP Lab</title>
</head>
<body>
<header id="header">
  <div class="title-row">
    <span class="codicon codicon-pulse" aria-hidden="true"></span>
    <h1 id="title">RBP Lab</h1>
    <vscode-badge id="status" data-status="idle">no run</vscode-badge>
    <span class="spacer"></span>
    <label for="run-select" class="sr-only">Run</label>
    <vscode-single-select id="run-select" aria-label="Run shown"></vscode-single-select>
    <vscode-button id="stop" icon="debug-stop" disabled title="Stop the run (RBP Lab: Stop Run)">Stop</vscode-button>
  </div>
  <dl class="facts">
    <div><dt>experiment</dt><dd id="f-experiment">–</dd></div>
    <div><dt>method</dt><dd id="f-method">–</dd></div>
    <div><dt>K</dt><dd id="f-k">–</dd></div>
    <div><dt>T</dt><dd id="f-t">–</dd></div>
    <div><dt id="f-step-word">step</dt><dd id="f-step">–</dd></div>
    <div><dt>elapsed</dt><dd id="f-elapsed">–</dd></div>
    <div><dt>ETA</dt><dd id="f-eta">–</dd></div>
    <div><dt>ρ(J)</dt><dd id="f-rho">–</dd></div>
    <div class="wide"><dt>backend</dt><dd id="f-backend">–</dd></div>
  </dl>
  <div id="checkpoints" class="checkpoints" hidden><span class="codicon codicon-save" aria-hidden="true"></span><label for="ckpt-select">Checkpoint at step</label><select id="ckpt-select" aria-label="Checkpoint step"></select><vscode-button id="compare-at" icon="beaker" title="Run the gradient check (TBPTT and Neumann-RBP at every K, against exact and BPTT) at this checkpoint's weights">Compare TBPTT vs Neumann-RBP at this step</vscode-button></div>
  <div id="verdict" class="verdict" data-level="none" role="status"><span class="codicon codicon-info" aria-hidden="true"></span><span id="verdict-text">No diagnostics yet</span></div>
  <div id="advice" class="advice" role="group" aria-label="Fixes the verdict advises" hidden></div>
  <div id="banner" class="banner" role="alert" hidden><span class="codicon codicon-error" aria-hidden="true"></span><span id="banner-text"></span></div>
</header>
<section id="compare-view" aria-label="Compare TBPTT vs Neumann-RBP">
  <p id="compare-from" class="compare-from" hidden></p>
  <div id="compare-headline" class="headline" data-level="none" role="status"><span class="codicon codicon-loading" aria-hidden="true"></span><div><div id="compare-headline-text" class="headline-text">Gradient check</div><ul id="compare-details" class="headline-details"></ul></div></div>
  <div class="grid">
  ${compareCard('error', 'Gradient error vs K', 'relative error, solid: vs exact, dashed: vs BPTT (log)')}
  ${compareCard('cosine', 'Cosine vs K', 'cosine similarity with the exact (solid) and BPTT (dashed) gradient')}
  ${compareCard('memory', 'Peak memory vs K', 'peak tensor bytes of the gradient computation')}
  ${compareCard('time', 'Time vs K', 'wall time of the gradient computation')}
  ${compareCard('residual', 'Adjoint residual per iteration', 'each K, darker = larger K (log)', true)}
  <section class="card wide" aria-labelledby="h-cmp-table">
    <h2 id="h-cmp-table">Every method at every K <span class="hint">same batch, same weights</span></h2>
    <div class="table-wrap"><table id="cmp-table"><thead><tr><th>method</th><th>K</th><th>rel. err vs exact</th><th>cos vs exact</th><th>rel. err vs BPTT</th><th>cos vs BPTT</th><th>ms</th><th>peak</th><th>residual</th></tr></thead><tbody></tbody></table></div>
  </section>
  </div>
</section>
<main class="grid">
  <section class="card run-only" aria-labelledby="h-forward">
    <h2 id="h-forward">Forward residual <span class="hint">per solver step, latest training step in front (log)</span><span class="spacer"></span>${exportButtons('forward')}</h2>
    <div class="chart"><canvas id="chart-forward" role="img" aria-label="Forward relative residual per step"></canvas></div>
    <p class="caption" id="cap-forward">waiting for the first forward pass…</p>
  </section>
  <section class="card run-only" aria-labelledby="h-backward">
    <h2 id="h-backward">Backward pass <span class="hint">adjoint residual / term norm per iteration (log)</span><span class="spacer"></span>${exportButtons('backward')}</h2>
    <div class="chart"><canvas id="chart-backward" role="img" aria-label="Backward residual per iteration"></canvas></div>
    <p class="caption" id="cap-backward">waiting for the first backward pass…</p>
  </section>
  <section class="card run-only" aria-labelledby="h-metrics">
    <h2 id="h-metrics">Training loss <span class="hint">per step (log)</span><span class="spacer"></span>${exportButtons('metrics')}</h2>
    <div class="chart"><canvas id="chart-metrics" role="img" aria-label="Training loss per step"></canvas></div>
    <p class="caption" id="cap-metrics">–</p>
  </section>
  <section class="card run-only" aria-labelledby="h-eval">
    <h2 id="h-eval">Evaluation metrics <span class="hint">at each evaluation</span><span class="spacer"></span>${exportButtons('eval')}</h2>
    <div class="chart"><canvas id="chart-eval" role="img" aria-label="Evaluation metrics at each evaluation"></canvas></div>
    <p class="caption" id="cap-eval">no evaluation yet</p>
  </section>
  <section class="card run-only" aria-labelledby="h-probe">
    <h2 id="h-probe">Gradient error over training <span class="hint">vs exact (solid), vs BPTT (dashed), log</span><span class="spacer"></span>${exportButtons('probe')}</h2>
    <div class="chart"><canvas id="chart-probe" role="img" aria-label="Relative error of the training gradient at each probed step"></canvas></div>
    <p class="caption" id="cap-probe">no gradient probes in this run (rbpLab.probeEvery / --probe-every)</p>
  </section>
  <section class="card run-only" aria-labelledby="h-rho">
    <h2 id="h-rho">ρ(J) over training <span class="hint">spectral radius of J at each diagnosis; bands: contractive, near 1, not contractive</span><span class="spacer"></span>${exportButtons('rho')}</h2>
    <div class="chart"><canvas id="chart-rho" role="img" aria-label="Spectral radius ρ(J) of the Jacobian at each diagnosed step, over the verdict's bands"></canvas></div>
    <p class="caption" id="cap-rho">no ρ(J) estimate yet</p>
  </section>
  <section class="card run-only" aria-labelledby="h-memory">
    <h2 id="h-memory">Memory <span class="hint">peak tensor bytes of each step’s gradient</span><span class="spacer"></span>${exportButtons('memory')}</h2>
    <div class="chart"><canvas id="chart-memory" role="img" aria-label="Peak memory per step"></canvas></div>
    <p class="caption" id="cap-memory">–</p>
  </section>
  <section class="card wide" id="runs-card" aria-labelledby="h-runs">
    <h2 id="h-runs">Runs <span class="hint">every recorded run; sort by a column, filter, pick runs to overlay (two: their config diff)</span><span class="spacer"></span><label for="runs-filter" class="sr-only">Filter runs</label><input type="search" id="runs-filter" placeholder="Filter (method, lr, status, config value…)" aria-label="Filter runs"></h2>
    <div class="runs-scroll" id="runs-scroll"><table id="runs-table" class="runs-table" aria-labelledby="h-runs"><thead></thead><tbody></tbody></table></div>
    <p class="caption" id="cap-runs">no runs recorded yet</p>
  </section>
  <section class="card wide" id="diff-card" aria-labelledby="h-diff" hidden>
    <h2 id="h-diff">Config diff <span class="hint">the two picked runs side by side; differing keys marked</span><span class="spacer"></span><label class="check"><input type="checkbox" id="diff-only"> Only differences</label></h2>
    <p class="caption" id="diff-summary"></p>
    <div class="table-wrap"><table id="diff-table" class="diff-table"><thead></thead><tbody></tbody></table></div>
  </section>
  <section class="card wide" id="overlay-card" aria-labelledby="h-overlay" hidden>
    <h2 id="h-overlay">Compare runs <span class="hint">one panel per series, every picked run a curve in each</span></h2>
    <div class="controls" id="overlay-controls">
      <label for="overlay-smoothing">Smoothing</label><input type="range" id="overlay-smoothing" min="0" max="0.99" step="0.01" value="0" aria-describedby="overlay-smoothing-value"><output id="overlay-smoothing-value" for="overlay-smoothing">0.00</output>
      <label for="overlay-xaxis">X</label><select id="overlay-xaxis"><option value="step">step</option><option value="wall">wall time</option></select>
      <label class="check"><input type="checkbox" id="overlay-outliers"> Ignore outliers</label>
      <label for="overlay-add">Panels</label><select id="overlay-add"></select>
    </div>
    <div class="overlay-panels" id="overlay-panels"></div>
  </section>
  <section class="card wide" aria-labelledby="h-log">
    <h2 id="h-log">Log</h2>
    <pre id="log" class="log"></pre>
  </section>
</main>
<script nonce="${esc(o.nonce)}" src="${esc(o.scriptUri)}"></script>
</body>
</html>`;
}
