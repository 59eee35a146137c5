/**
 * The C functions tfjs-backend-wasm's own loader wraps as `module.tfjs` (its backend_wasm.js,
 * init()), for the code that loads the threaded build itself: src/core/wasm/threaded.ts and the
 * standalone bench/wasm-threads.js (a CommonJS script: it reads this with `import()`).
 * `test/core/threads.test.ts` holds the list to the one in the installed tfjs.
 */

/** property of `module.tfjs` → [C name, return type, argument types], as emscripten's cwrap takes them */
export const TFJS_CWRAPS = {
  init: ['init', null, []],
  initWithThreadsCount: ['init_with_threads_count', null, ['number']],
  getThreadsCount: ['get_threads_count', 'number', []],
  registerTensor: ['register_tensor', null, ['number', 'number', 'number']],
  disposeData: ['dispose_data', null, ['number']],
  dispose: ['dispose', null, []],
};

/** `module.tfjs` for an emscripten module of tfjs-backend-wasm: each entry of TFJS_CWRAPS cwrapped. */
export function tfjsCwraps(module) {
  return Object.fromEntries(Object.entries(TFJS_CWRAPS).map(([key, [name, ret, args]]) => [key, module.cwrap(name, ret, args)]));
}
