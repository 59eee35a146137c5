// esbuild plugin: `import { simd, relaxed } from 'rbp-wasm:kernels'` resolves to the wasm kernels
// (src/core/wasm/kernels-wat.mjs) assembled with wabt at build time, both variants as base64.
import * as path from 'path';
import { pathToFileURL } from 'url';
import wabtInit from 'wabt';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const generator = path.join(root, 'src/core/wasm/kernels-wat.mjs');

// wabt's own wasm, instantiated once per build process
const wabtReady = wabtInit();

async function assemble(text, name) {
  const wabt = await wabtReady;
  const mod = wabt.parseWat(name, text, { simd: true, relaxed_simd: true, bulk_memory: true });
  try {
    mod.validate();
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
      return {
        contents: `export const simd = ${JSON.stringify(simd)};\nexport const relaxed = ${JSON.stringify(relaxed)};\n`,
        loader: 'js',
        watchFiles: [generator],
      };
    });
  },
};
