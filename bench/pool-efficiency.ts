/**
 * What a second thread costs in CPU time (issue 16, target 1): the kernel pool (core/wasm/pool.ts)
 * against one thread on the same work, so that the CPU a two-thread row adds can be told apart
 * into the cores slowing each other (the rows of large products), the handoffs (the rows of small
 * ones) and what the model's own data movement adds (gnn-profile with RBP_LAB_SPLIT_CSR / RBP_LAB_SPLIT_MACS).
 *
 *   node dist/pool-efficiency.js [trials (default 3)]
 *
 * Each handoff gives both threads the same products, M×64·64×64 with B read in place (the GNN's
 * gate products; M = 1354 is Cora's half): `products` per thread per handoff, each thread on its
 * own operands. One thread runs the same products one after the other. Per row: GFLOP/s of wall
 * time, GFLOP per CPU second (all threads), and the CPU time each handoff adds over one thread
 * (negative: noise, or one thread's longer run evicting its own operands). A quarter of a trial of
 * each, untimed, first; then the best of the trials by the two-thread CPU time. Two cores must be
 * free for the wall figures to mean anything: the header prints the load average.
 */
import * as os from 'os';
import { tf } from '../src/core/tf';
import { selectBackend } from '../src/core/backend';
import { wasmKernels, offsetOf, usablePool, K_GEMM } from '../src/core/wasm/module';
import type { WasmBackendLike } from '../src/core/wasm/module';
import type { KernelCall } from '../src/core/wasm/pool';

import { clocks } from './common';

const D = 64;

async function main(): Promise<void> {
  const trials = Number(process.argv[2] ?? 3);
  const choice = await selectBackend('wasm', { threads: 2 });
  const k = wasmKernels(tf.backend());
  const pool = k && usablePool(k);
  if (!k || !pool) throw new Error(`no two-thread kernel pool here: ${choice.threads?.note ?? 'wasm kernels off'}`);
  const backend = tf.backend() as unknown as WasmBackendLike;
  const at = (t: tf.Tensor) => offsetOf(backend, { dataId: t.dataId, shape: t.shape, dtype: t.dtype } as tf.TensorInfo);
  console.log(`Kernel pool efficiency, 2 threads (${choice.build ?? '?'} build), ${trials} trials, load average ${os.loadavg()[0].toFixed(1)}\n`);
  console.log('| M | products per thread per handoff | handoffs | one thread GFLOP/s | two threads GFLOP/s (wall) | GFLOP per CPU s: one / two | two threads CPU ÷ wall | CPU µs added per handoff |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [M, products] of [
    [2708, 1],
    [1354, 6],
    [256, 1],
    [64, 1],
  ]) {
    const ops = [0, 1].map(() => ({ A: tf.randomNormal([M, D]), B: tf.randomNormal([D, D]), C: tf.zeros([M, D]) }));
    // gemm(a, bp, c, biasp, M, K, N, sai, sak, flags, panel, bk, ldc): B in place (panel 32 bytes, row stride 4·D)
    const call = (t: number): KernelCall => [K_GEMM, at(ops[t].A), at(ops[t].B), at(ops[t].C), 0, M, D, D, 4 * D, 4, 0, 32, 4 * D, 4 * D];
    const lists = [0, 1].map((t) => Array.from({ length: products }, () => call(t)));
    const handoffs = Math.max(20, Math.round(4e9 / (2 * products * 2 * M * D * D)));
    const flops = handoffs * 2 * products * 2 * M * D * D;
    const oneThread = (n: number) => {
      for (let h = 0; h < n; h++) for (const list of lists) for (const [, ...a] of list) (k.fns.gemm as (...x: number[]) => void)(...a);
    };
    const twoThreads = (n: number) => {
      for (let h = 0; h < n; h++) pool.run(lists);
    };
    // untimed: the kernel's optimised code and both threads' caches, before the first trial
    oneThread(Math.ceil(handoffs / 4));
    twoThreads(Math.ceil(handoffs / 4));
    let best: { one: { wall: number; cpu: number }; two: { wall: number; cpu: number } } | undefined;
    for (let trial = 0; trial < trials; trial++) {
      const one = clocks(() => oneThread(handoffs));
      const two = clocks(() => twoThreads(handoffs));
      if (!best || two.cpu < best.two.cpu) best = { one, two };
    }
    const { one, two } = best!;
    const g = (ms: number) => (flops / ms / 1e6).toFixed(1);
    console.log(`| ${M} | ${products} | ${handoffs} | ${g(one.wall)} | ${g(two.wall)} | ${g(one.cpu)} / ${g(two.cpu)} | ${(two.cpu / two.wall).toFixed(2)} | ${(((two.cpu - one.cpu) / handoffs) * 1000).toFixed(1)} |`);
    tf.dispose(ops.flatMap((o) => [o.A, o.B, o.C]));
  }
  await pool.close();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
