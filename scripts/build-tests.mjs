// Bundle every test/**/*.test.ts with esbuild into out/test/ (same module resolution as the
// production bundles: tfjs is ESM-first), so `node --test out/test` runs them. Type checking is
// `npm run typecheck` (tsc --noEmit). Arguments name a subset, e.g. `core/gradients core/rbp`
// (test/core/gradients.test.ts, test/core/rbp.test.ts): the mutation run bundles only what it runs.
import * as esbuild from 'esbuild';
import { wasmPlugin, writeThreadedFiles } from './wasm-plugin.mjs';
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'out', 'test');

function find(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return find(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const only = process.argv.slice(2).map((a) => path.join(root, 'test', `${a}.test.ts`));
for (const f of only) if (!fs.existsSync(f)) throw new Error(`build-tests: no test file ${path.relative(root, f)}`);
const entries = only.length ? only : find(path.join(root, 'test'));
// A full build starts from an empty out/test (no bundle of a deleted test is left behind).
if (!only.length) fs.rmSync(out, { recursive: true, force: true });
await esbuild.build({
  entryPoints: entries,
  outdir: out,
  outbase: path.join(root, 'test'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  mainFields: ['module', 'main'],
  plugins: [wasmPlugin],
  external: ['vscode', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'playwright-core', 'esbuild', 'typescript', 'eslint', 'mnist'],
  logLevel: 'warning',
});
// tfjs's threaded wasm build for the test bundles, in out/wasm (not under out/test, where `node --test`
// would run every .js file; src/core/wasm/threaded.ts looks there from out/test/<dir>/).
writeThreadedFiles(path.join(root, 'out', 'wasm'));
