/**
 * Where one hypergradient CG-RBP gradient's time goes (issue 16): the built-in `hypergrad` config
 * (T = 100, K = 50, `model.last_step: full`, the bench's `full` row; `--abs` for `full+abs`) on wasm
 * with one kernel thread. Per run: CPU and wall ms of the whole gradient and of its set-up alone
 * (the forward pass, the last step's linearisation and dL/dh). With the per-call wrappers (not with
 * `--plain`): CPU ms per run and per call of every tfjs kernel the gradient dispatches (top level
 * only; the time inside the fused HVP kernel is its own row), of each wasm kernel (`core/wasm`:
 * gemm by shape, csr_mm, the elementwise chains), and of the reads back to JS (dataSync: CG's dot
 * products); "JS outside kernels" is the rest (dispatch, tensor bookkeeping, the CG loop).
 *
 *   node dist/hypergrad-profile.js [runs (default 3)] [--abs] [--plain]
 *
 * Per-call figures read the process CPU clock around every call (`callProfile.ts`, shared with
 * gnn-profile; the clock reads' own cost is taken off each call, but the calls a tf kernel wraps add
 * theirs to its row); `--plain` times the runs only, without the wrappers.
 */
import * as os from 'os';
import { tf } from '../src/core/tf';
import { selectBackend } from '../src/core/backend';
import { builtinConfig } from '../src/config/load';
import { loadExperiment } from '../src/experiments';
import { rbpSetup } from '../src/core/gradients/common';
import { dispose } from '../src/core/state';
import { getMethod } from '../src/core/gradients';
import { cpuMs, variantFields, WORKLOAD_CONFIG } from './common';
import { CallProfile } from './callProfile';
import type { CallStat } from './callProfile';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const plain = args.includes('--plain');
  const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
  const variant = args.includes('--abs') ? 'full+abs' : 'full';
  await selectBackend('wasm', { threads: 1 });
  const wc = WORKLOAD_CONFIG.hypergrad;
  const config = builtinConfig(wc.config);
  const experiment = config && (await loadExperiment(config.runner));
  if (!config || !experiment) throw new Error('the hypergrad config or its runner is missing');
  Object.assign(config.model as Record<string, unknown>, variantFields(variant));
  const session = await experiment.create(config, 'CG_RBP', wc.K, { log: () => undefined });
  session.beforeStep(0);
  const sys = session.system;
  const opts = { T: session.T, K: wc.K, ...session.gradientOptions };
  const method = getMethod('CG_RBP');
  const once = () => {
    const r = method.compute(sys, opts);
    const it = r.backward.iterations.length;
    dispose(r.grads, r.lossGrads);
    return it;
  };
  once();

  const prof = new CallProfile();
  if (!plain) {
    prof.wrapWasmKernels();
    prof.wrapTfKernels(undefined, undefined, true);
    const backend = tf.backend() as unknown as { readSync: (id: object) => unknown };
    const readSync = backend.readSync.bind(backend);
    backend.readSync = (id: object) => prof.timed(() => 'read back (dataSync)', () => readSync(id));
  }

  const total: number[] = [];
  const wall: number[] = [];
  const setup: number[] = [];
  const setupWall: number[] = [];
  let iterations = 0;
  prof.stats.clear();
  for (let i = 0; i < runs; i++) {
    const w0 = performance.now();
    const c0 = cpuMs();
    const s = rbpSetup(sys, opts);
    s.dispose();
    setup.push(cpuMs() - c0);
    setupWall.push(performance.now() - w0);
  }
  const setupStats = prof.stats;
  prof.stats = new Map();
  for (let i = 0; i < runs; i++) {
    const w0 = performance.now();
    const c0 = cpuMs();
    iterations = once();
    total.push(cpuMs() - c0);
    wall.push(performance.now() - w0);
  }
  const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
  const min = (x: number[]) => Math.min(...x);
  console.log(`hypergrad CG-RBP ${variant}, T = ${opts.T}, K = ${opts.K}: ${iterations} CG iterations; ${runs} runs, 1 thread, load average ${os.loadavg()[0].toFixed(1)}${plain ? '' : ' (per-call wrappers on)'}`);
  console.log(`CPU ms per run: gradient ${mean(total).toFixed(0)} (min ${min(total).toFixed(0)}), of which set-up (forward T steps, linearisation, dL/dh) ${mean(setup).toFixed(0)} (min ${min(setup).toFixed(0)}, timed apart)`);
  console.log(`wall ms per run: gradient ${mean(wall).toFixed(0)} (min ${min(wall).toFixed(0)}), set-up ${mean(setupWall).toFixed(0)} (min ${min(setupWall).toFixed(0)})`);
  if (plain) return;
  const table = (title: string, st: Map<string, CallStat>, all: number) => {
    // the wasm calls are inside the tf kernels' rows: the top level is the rest
    const top = [...st.entries()].filter(([key]) => !key.startsWith('wasm ')).reduce((t, [, v]) => t + v.ms, 0);
    console.log(`\n${title}\n\n${prof.table(runs, st).join('\n')}`);
    console.log(`| JS outside kernels and reads | | ${((all - top) / runs).toFixed(1)} | | |`);
  };
  table('Set-up alone (per run):', setupStats, setup.reduce((a, b) => a + b, 0));
  table('The whole gradient (per run; set-up included):', prof.stats, total.reduce((a, b) => a + b, 0));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
