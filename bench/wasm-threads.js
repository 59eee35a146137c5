#!/usr/bin/env node
/**
 * Can tfjs-backend-wasm's threaded SIMD build run in Node? A standalone experiment (no build needed;
 * bench/README.md, "Threads", has what it found). It initialises the threaded module itself — the
 * pthread worker written to a file, the module's script and .wasm given as paths, which Node's
 * worker_threads can load where tfjs's own loader hands it a Blob URL — registers it as 'wasm',
 * and times tfjs's matMul (XNNPACK) on the models' shapes.
 *
 *   node bench/wasm-threads.js [threads=2] [--double-cpus] [--stay]
 *
 * --double-cpus: tfjs's C++ caps its pool at emscripten_num_logical_cores() / 2 (it assumes two
 *   hyperthreads per core), which in Node is os.cpus().length / 2 — one thread on a 2-vCPU machine
 *   whatever setThreadsCount asks; the flag doubles os.cpus() while the module's constructors run.
 * --stay: do not call process.exit; remove the backend and report whether the process ends by itself.
 * Prints one JSON line: threads in tfjs's pool, the heap is a SharedArrayBuffer, and per shape the
 * best GFLOP/s of wall time, CPU ÷ wall of that trial, and a checksum (equal across thread counts up
 * to float32 reduction order).
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS script: the emscripten factory and the worker source are CommonJS modules */
const fs = require('fs');
const os = require('os');
const path = require('path');
const pkg = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
const tf = require('@tensorflow/tfjs-core');
const tfw = require('@tensorflow/tfjs-backend-wasm');

const threads = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 2);
const doubleCpus = process.argv.includes('--double-cpus');
const stay = process.argv.includes('--stay');
const out = path.join(pkg, 'wasm-out');
const factory = require(path.join(out, 'tfjs-backend-wasm-threaded-simd.js'));
// The package ships the pthread worker's source as a string meant for a Blob (newlines escaped as tfjs does).
const workerFile = path.join(os.tmpdir(), `rbp-tfjs-pthread-worker-${process.pid}.js`);
fs.writeFileSync(workerFile, require(path.join(out, 'tfjs-backend-wasm-threaded-simd.worker.js')).wasmWorkerContents.replace(/\n/g, '\\n'));

const realCpus = os.cpus;
tf.removeBackend('wasm');
tf.registerBackend('wasm', async () => {
  if (doubleCpus) os.cpus = () => [...realCpus(), ...realCpus()];
  try {
    const module = await factory({
      locateFile: (p) => (p.endsWith('.worker.js') ? workerFile : path.join(out, p.endsWith('.wasm') ? 'tfjs-backend-wasm-threaded-simd.wasm' : p)),
      mainScriptUrlOrBlob: path.join(out, 'tfjs-backend-wasm-threaded-simd.js'),
    });
    // the cwraps tfjs's own loader adds, as src/core/wasm/threaded.ts adds them
    module.tfjs = (await import('../src/core/wasm/tfjs-cwraps.mjs')).tfjsCwraps(module);
    return new tfw.BackendWasm(module);
  } finally {
    os.cpus = realCpus;
  }
}, 2);
tfw.setThreadsCount(threads);

(async () => {
  if (!(await tf.setBackend('wasm'))) throw new Error('the threaded module did not initialise');
  fs.rmSync(workerFile, { force: true }); // the pool's workers are loaded by now
  const b = tf.backend();
  const result = { asked: threads, double_cpus: doubleCpus, pool_threads: b.wasm.tfjs.getThreadsCount(), shared_heap: b.wasm.HEAPU8.buffer instanceof SharedArrayBuffer, loadavg: os.loadavg()[0], shapes: [] };
  for (const [M, K, N] of [[2708, 64, 64], [200, 784, 50], [1, 2592, 2592], [10, 2592, 2592]]) {
    const a = tf.randomNormal([M, K], 0, 1, 'float32', 1);
    const w = tf.randomNormal([K, N], 0, 1, 'float32', 2);
    const reps = Math.max(3, Math.round(4e8 / (2 * M * K * N)));
    for (let i = 0; i < 10; i++) tf.matMul(a, w).dispose();
    let best = { wall: Infinity, cpu: NaN };
    for (let t = 0; t < 9; t++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) tf.matMul(a, w).dispose();
      const wall = (performance.now() - t0) / reps;
      const c = process.cpuUsage(c0);
      if (wall < best.wall) best = { wall, cpu: (c.user + c.system) / 1000 / reps };
    }
    const c = tf.matMul(a, w);
    const s = tf.sum(c);
    result.shapes.push({ shape: `${M}x${K}x${N}`, gflops: (2 * M * K * N) / best.wall / 1e6, cpu_per_wall: best.cpu / best.wall, checksum: s.dataSync()[0] });
    tf.dispose([a, w, c, s]);
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  if (!stay) process.exit(0);
  tf.removeBackend('wasm');
  const t0 = Date.now();
  process.on('exit', (code) => code === 0 && process.stdout.write(`exited by itself ${Date.now() - t0} ms after removeBackend\n`));
  setTimeout(() => {
    process.stdout.write('still running 10 s after removeBackend: its threads keep the process alive\n');
    process.exit(4);
  }, 10000).unref();
})().catch((e) => {
  process.stderr.write(`wasm-threads: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
