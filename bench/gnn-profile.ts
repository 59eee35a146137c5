/**
 * Where GNN BPTT's CPU time goes (issue 16): Cora (the built-in `cora` config, T = 100) on wasm with
 * one kernel thread, BPTT's forward pass (recorded steps) and backward pass timed apart, and per
 * call of each wasm kernel (`core/wasm`) and of the fused GRU kernels: CPU ms per call, calls per
 * run, and the GFLOP/s of each `gemm` call's shape (M×K·K×N with K one reduction block; A read down
 * its columns 'T' or along its rows 'N'; flags: 1 bias, 2 accumulate).
 *
 *   node dist/gnn-profile.js [runs (default 3)] [--plain] [--threads N (default 1)] [--threaded] [--data DIR (default ../shared/data/planetoid)]
 *
 * With --threads N the kernels run on the pool (tfjs's threaded build); the passes print wall ms and
 * the pool's handoffs beside CPU ms (CPU ÷ wall near N: the split pays; near 1: a core is busy elsewhere);
 * --threaded runs tfjs's threaded build even at --threads 1 (what the build costs, apart from the pool).
 *
 * Per-call figures read the process CPU clock around every call (two getrusage calls each, ~1 µs);
 * the clock reads' own cost, measured around an empty call at the start, is taken off each call
 * (printed). The wrapped tf kernels still include the wrapped wasm calls' clock reads (a VJP holds
 * ~270), so their totals run high; `--plain` times the passes only, without the wrappers.
 */
import * as os from 'os';
import * as path from 'path';
import { tf } from '../src/core/tf';
import { selectBackend } from '../src/core/backend';
import { builtinConfig } from '../src/config/load';
import { loadExperiment } from '../src/experiments';
import { wasmKernels, setKernelThreads, startKernelPool, usablePool } from '../src/core/wasm/module';
import { NaiveSolver } from '../src/core/solvers/naive';
import { chainBackward } from '../src/core/gradients/common';
import { lossGradients } from '../src/core/system';
import { dispose } from '../src/core/state';
import { getMethod } from '../src/core/gradients';
import { CallProfile } from './callProfile';
import { cpuMs } from './common';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const plain = args.includes('--plain');
  const di = args.indexOf('--data');
  const dataDir = path.resolve(di >= 0 ? args[di + 1] : '../shared/data/planetoid');
  const ti = args.indexOf('--threads');
  const threads = ti >= 0 ? Number(args[ti + 1]) : 1;
  const runs = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--data' && args[i - 1] !== '--threads') ?? 3);
  // --threaded: tfjs's threaded build even at one thread (its heap shared; the pool then closed)
  const threadedBuild = args.includes('--threaded');
  const choice = await selectBackend('wasm', { threads: threadedBuild ? Math.max(2, threads) : threads });
  if (threadedBuild) {
    setKernelThreads(threads);
    await startKernelPool();
  }
  const got = usablePool(wasmKernels(tf.backend())!)?.threads ?? 1;
  if (got !== threads) throw new Error(`asked for ${threads} threads, got ${got}: ${choice.threads?.note ?? ''}`);
  const config = builtinConfig('cora');
  const experiment = config && (await loadExperiment(config.runner));
  if (!config || !experiment) throw new Error('the cora config or its runner is missing');
  const session = await experiment.create(config, 'BPTT', 1, { dataDir, log: () => undefined });
  session.beforeStep(0);
  const sys = session.system;
  const T = session.T;
  const warm = getMethod('BPTT').compute(sys, { T, K: T, ...session.gradientOptions });
  dispose(warm.grads, warm.lossGrads);

  const prof = new CallProfile();
  if (!plain) {
    prof.wrapWasmKernels();
    prof.wrapTfKernels(['RbpGnnGruStep', 'RbpGnnGruVjp', 'RbpGnnGruPointFrom', 'Sigmoid', 'Add', 'Identity'], (name, at) => `tf ${name}${at.mode ? ` ${String(at.mode)}` : ''}${'wantH' in at ? ` h ${String(at.wantH)} w ${String(at.wantW)}` : ''}`);
  }

  const fwd: number[] = [];
  const bwd: number[] = [];
  const fwdWall: number[] = [];
  const bwdWall: number[] = [];
  const pool = wasmKernels(tf.backend())?.pool;
  const runs0 = pool?.runs ?? 0;
  for (let i = 0; i < runs; i++) {
    const w0 = performance.now();
    const c0 = cpuMs();
    const h0 = sys.initialState();
    const res = new NaiveSolver().solve(sys, h0, { maxSteps: T, keep: T, record: true });
    dispose(h0);
    const c1 = cpuMs();
    const w1 = performance.now();
    const { dh, dtheta } = lossGradients(sys, res.h);
    const { grads } = chainBackward(sys, res.history, dh);
    bwd.push(cpuMs() - c1);
    bwdWall.push(performance.now() - w1);
    fwd.push(c1 - c0);
    fwdWall.push(w1 - w0);
    dispose(dh, dtheta, grads, res.h, ...res.history.map((e) => e.h));
    for (const e of res.history) e.rec?.dispose();
  }
  const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
  const total = fwd.map((f, i) => f + bwd[i]);
  console.log(`GNN BPTT on Cora, T = ${T}, ${runs} runs, ${threads} thread(s) (${choice.build ?? '?'} build), load average ${os.loadavg()[0].toFixed(1)}${plain ? '' : ' (per-call wrappers on)'}`);
  console.log(`wall ms per run: forward ${mean(fwdWall).toFixed(0)} (min ${Math.min(...fwdWall).toFixed(0)}), backward ${mean(bwdWall).toFixed(0)} (min ${Math.min(...bwdWall).toFixed(0)}); pool handoffs per run ${(((pool?.runs ?? 0) - runs0) / runs).toFixed(0)}`);
  console.log(`CPU ms per run: forward ${mean(fwd).toFixed(0)} (min ${Math.min(...fwd).toFixed(0)}), backward ${mean(bwd).toFixed(0)} (min ${Math.min(...bwd).toFixed(0)}), total ${mean(total).toFixed(0)} (min ${Math.min(...total).toFixed(0)})`);
  if (plain) return;
  console.log(`per-call figures: ${(prof.clockMs * 1000).toFixed(2)} µs of clock reads taken off each call\n`);
  console.log(prof.table(runs).join('\n'));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
