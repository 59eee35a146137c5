// esbuild plugin: `import { simd, relaxed, simdShared, relaxedShared } from 'rbp-wasm:kernels'` resolves to
// the wasm kernels (src/core/wasm/kernels-wat.mjs) assembled with wabt at build time, every variant as
// base64 (…Shared: the memory import declared shared, for tfjs's threaded heap).
import * as fs from 'fs';
import * as path from 'path';
import { createRequire } from 'module';
import { pathToFileURL } from 'url';
import wabtInit from 'wabt';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const generator = path.join(root, 'src/core/wasm/kernels-wat.mjs');

// wabt's own wasm, instantiated once per build process
const wabtReady = wabtInit();

async function assemble(text, name) {
  const wabt = await wabtReady;
  const features = { simd: true, relaxed_simd: true, bulk_memory: true, threads: true };
  const mod = wabt.parseWat(name, text, features);
  try {
    mod.validate(features);
    return Buffer.from(mod.toBinary({}).buffer).toString('base64');
  } finally {
    mod.destroy();
  }
}

export const wasmPlugin = {
  name: 'rbp-wasm',
  setup(build) {
    build.onResolve({ filter: /^rbp-wasm:kernels$/ }, () => ({ path: 'kernels', namespace: 'rbp-wasm' }));
    build.onLoad({ filter: /.*/, namespace: 'rbp-wasm' }, async () => {
      // a fresh import each build, so that --watch picks up edits of the generator
      const { kernelsWat } = await import(`${pathToFileURL(generator).href}?t=${Date.now()}`);
      const simd = await assemble(kernelsWat({ relaxed: false }), 'kernels-simd.wat');
      const relaxed = await assemble(kernelsWat({ relaxed: true }), 'kernels-relaxed.wat');
      const simdShared = await assemble(kernelsWat({ relaxed: false, shared: true }), 'kernels-simd-shared.wat');
      const relaxedShared = await assemble(kernelsWat({ relaxed: true, shared: true }), 'kernels-relaxed-shared.wat');
      const all = { simd, relaxed, simdShared, relaxedShared };
      return {
        contents: Object.entries(all).map(([k, v]) => `export const ${k} = ${JSON.stringify(v)};\n`).join(''),
        loader: 'js',
        watchFiles: [generator],
      };
    });
  },
};

/**
 * tfjs-backend-wasm's threaded SIMD build as files in `dir` (src/core/wasm/threaded.ts loads them):
 * the emscripten factory script and the binary copied, and the pthread worker, which the package
 * ships only as a string (`wasmWorkerContents`), written out with its newlines escaped as tfjs's
 * own loader does before making a Blob of it.
 */
export function writeThreadedFiles(dir) {
  const pkg = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm');
  const out = path.join(pkg, 'wasm-out');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(out, 'tfjs-backend-wasm-threaded-simd.js'), path.join(dir, 'tfjs-backend-wasm-threaded-simd.js'));
  fs.copyFileSync(path.join(pkg, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm'), path.join(dir, 'tfjs-backend-wasm-threaded-simd.wasm'));
  const { wasmWorkerContents } = createRequire(import.meta.url)(path.join(out, 'tfjs-backend-wasm-threaded-simd.worker.js'));
  fs.writeFileSync(path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js'), wasmWorkerContents.replace(/\n/g, '\\n'));
}
