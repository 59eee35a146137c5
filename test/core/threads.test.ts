/**
 * The wasm kernels on two threads (tfjs's threaded build, `src/core/wasm/threaded.ts`, and the
 * kernel pool, `src/core/wasm/pool.ts`) held to the single-threaded path: the products the models
 * use, the graph's message passing, a GNN forward + gradient and a hypergradient step give the
 * same bits with 2 threads as with 1 (rows are split, reductions are not). The pool must really
 * split (its handoff count rises), leave no thread behind, and let the process end by itself;
 * without the threaded build or SharedArrayBuffer the backend runs on one thread.
 *
 * Mutants tried (each made a test here fail, then reverted):
 * - gemm rows offset by i0 · K · 4 instead of i0 · sai (wrong for Aᵀ·B): "products … bit-identical";
 * - split boundaries not aligned to the 4-row tile (`align` ignored): still bit-identical (the
 *   1-row tile computes each row in the same order), so alignment is kept for speed only;
 * - csr rows offset without the ptr shift (`s` for `s + i0·4`): "message passing …";
 * - `w.unref()` removed in KernelPool: "a process with a pool ends by itself" (timeout);
 * - `closeKernelPool` not awaited / not terminating: "no worker thread after close";
 * - runExperiment's `finally` without `closeKernelPool`: "a run stopped mid-way …";
 * - `isShared` check dropped in tryThreaded's SharedArrayBuffer test: "degrades …" (ReferenceError).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '../../src/core/tf';
import { selectBackend, closeKernelPool } from '../../src/core/backend';
import type { BackendChoice } from '../../src/core/backend';
import { setKernelThreads, startKernelPool, wasmKernels, usablePool, offsetOf } from '../../src/core/wasm/module';
import type { WasmBackendLike } from '../../src/core/wasm/module';
import { dealByWork, gemm, gemmEach, gemmJobs, gemmJobsBytes, gemmRows, gemmScratchBytes, rowMajorStrides } from '../../src/core/wasm/gemm';
import type { GemmOperands } from '../../src/core/wasm/gemm';
import { splitRows } from '../../src/core/wasm/pool';
import { SPLIT_MACS } from '../../src/core/wasm/gemm';
import { TFJS_CWRAPS } from '../../src/core/wasm/tfjs-cwraps.mjs';
import { csrGraph, csrRowSum } from '../../src/core/kernels';
import { getMethod } from '../../src/core/gradients';
import { dispose, toArray } from '../../src/core/state';
import { Rng } from '../../src/core/random';
import { GruGnnSystem, GnnGraph } from '../../src/experiments/citation-gnn/model';
import { HypergradSystem, HYPERGRAD_DEFAULTS } from '../../src/experiments/hypergrad/model';
import { syntheticDataset } from '../../src/experiments/hypergrad/data';
import { writeModelTemplate } from '../../src/config/modelTemplate';
import { runExperiment } from '../../src/run/runner';
import { repoRoot } from '../helpers/setup';
import { GEMM_SHAPES } from '../../bench/common';

const CHILD = process.env.RBP_THREADS_TEST_CHILD;

/** What a child process reports: its backend choice and the pool's handoffs. */
async function childMain(mode: string): Promise<void> {
  const opts = mode === 'missing' ? { threads: 2, wasmThreadedDir: '/nonexistent' } : mode === 'env' ? {} : { threads: 2 };
  const c = await selectBackend('wasm', opts);
  const a = tf.randomNormal([512, 256]);
  const b = tf.randomNormal([256, 64]);
  tf.matMul(a, b).dispose();
  const k = wasmKernels(tf.backend());
  process.stdout.write(JSON.stringify({ threads: c.threads, build: c.build, runs: k?.pool?.runs ?? 0 }) + '\n');
  // no close: the process must end by itself
}

function child(mode: string, nodeArgs: string[] = [], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [...nodeArgs, __filename], { encoding: 'utf8', timeout: 90_000, env: { ...process.env, RBP_THREADS_TEST_CHILD: mode, ...env } });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  return { status: r.status, signal: r.signal, stderr: r.stderr, out: line ? (JSON.parse(line) as { threads: BackendChoice['threads']; build: string; runs: number }) : undefined };
}

if (CHILD) {
  void childMain(CHILD);
} else {
  let choice: BackendChoice;
  before(async () => {
    choice = await selectBackend('wasm', { threads: 2 });
  });
  after(async () => {
    setKernelThreads(undefined);
    await closeKernelPool();
  });

  /** `f` with the kernels on `n` threads; returns its result's bytes and the pool's handoffs during it. */
  async function on<T>(n: number, f: () => T): Promise<{ value: T; handoffs: number }> {
    setKernelThreads(n);
    const s = await startKernelPool();
    assert.equal(s.threads, n, `the kernels run on ${n} thread(s): ${s.note ?? ''}`);
    const pool = usablePool(wasmKernels(tf.backend())!);
    const r0 = pool?.runs ?? 0;
    const value = f();
    return { value, handoffs: (pool?.runs ?? 0) - r0 };
  }

  /** Bit-level equality of float arrays (NaN-safe, signed zeros told apart). */
  function assertSameBits(a: Float32Array, b: Float32Array, what: string): void {
    assert.equal(a.length, b.length, `${what}: lengths`);
    const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
    const i = ua.findIndex((x, j) => x !== ub[j]);
    assert.equal(i, -1, `${what}: element ${i} differs (${a[i]} vs ${b[i]})`);
  }

  async function sameOnTwoThreads(what: string, f: () => Float32Array): Promise<void> {
    const one = await on(1, f);
    const two = await on(2, f);
    assert.equal(one.handoffs, 0, `${what}: one thread, no pool`);
    assert.ok(two.handoffs > 0, `${what}: two threads split the work`);
    assertSameBits(two.value, one.value, what);
  }

  test('the threaded build runs: shared heap, 2 threads', () => {
    assert.equal(choice.name, 'wasm');
    assert.equal(choice.build, 'threaded-simd');
    assert.equal(choice.threads?.threads, 2, choice.threads?.note);
    assert.ok(choice.kernels?.active, 'our kernels are loaded on the shared heap');
  });

  // Mutants tried: an entry renamed ('dispose_data' → 'disposeData') or its argument dropped in
  // tfjs-cwraps.mjs: this test fails (so would a tfjs upgrade that changes its loader's list).
  test("the threaded build's module.tfjs: the cwraps of tfjs's own loader (core/wasm/tfjs-cwraps.mjs, shared with bench/wasm-threads.js)", () => {
    const src = fs.readFileSync(path.join(repoRoot, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/backend_wasm.js'), 'utf8');
    const theirs: Record<string, [string, string | null, number]> = {};
    for (const m of src.matchAll(/(\w+): module\.cwrap\('(\w+)', (null|voidReturnType|'number'), \[([^\]]*)\]/g))
      theirs[m[1]] = [m[2], m[3] === "'number'" ? 'number' : null, (m[4].match(/'number'/g) ?? []).length];
    assert.ok(Object.keys(theirs).length >= 6, `read tfjs's list: ${JSON.stringify(theirs)}`);
    const ours = Object.fromEntries(Object.entries(TFJS_CWRAPS).map(([k, [name, ret, args]]) => [k, [name, ret, args.length]]));
    assert.deepEqual(ours, theirs);
    const module = (tf.backend() as unknown as { wasm: { tfjs: Record<string, unknown> } }).wasm;
    assert.deepEqual(Object.keys(module.tfjs).sort(), Object.keys(TFJS_CWRAPS).sort(), 'threaded.ts gives the running backend exactly these');
  });

  test('splitRows: covers every row once, aligned, balanced by weight', () => {
    assert.deepEqual(splitRows(2708, 2, 4), [[0, 1356], [1356, 2708]]);
    assert.deepEqual(splitRows(10, 2, 4), [[0, 8], [8, 10]]);
    assert.deepEqual(splitRows(3, 2, 4), [[0, 3]]);
    assert.deepEqual(splitRows(9, 3, 1), [[0, 3], [3, 6], [6, 9]]);
    // by edge count: row 0 holds 90 of 100 edges
    const ptr = [0, 90, 92, 94, 96, 98, 100];
    assert.deepEqual(splitRows(6, 2, 1, (i0, i1) => ptr[i1] - ptr[i0]), [[0, 1], [1, 6]]);
  });

  // The bench's gemm shapes (bench/common.ts GEMM_SHAPES: the models' hot products) that the pool
  // splits (at least SPLIT_MACS multiply-adds; a smaller one stays on one thread and proves nothing
  // here), and cases of our own: a bias, ragged sizes, a long handoff, a batch. Every case is above
  // the split thresholds: the handoff count checks it.
  test('products of the models’ shapes: bit-identical on 2 threads', async () => {
    const rng = new Rng(3);
    type Case = { name: string; M: number; K: number; N: number; tA?: boolean; tB?: boolean; bias?: boolean; batch?: number };
    const models: Case[] = GEMM_SHAPES.filter((s) => s.M * s.K * s.N >= SPLIT_MACS).map((s) => ({ name: s.name, M: s.M, K: s.K, N: s.N, tA: s.transposeA }));
    // Mutants caught by this check only (the rest of the test passed them): the filter dropping every shape; the map losing transposeA.
    assert.ok(models.length >= 2 && models.some((c) => c.tA) && models.some((c) => !c.tA), `the bench's shapes, both layouts: ${JSON.stringify(models)}`);
    const cases: Case[] = [
      ...models,
      { name: 'MLP layer 200×784·784×50 + bias', M: 200, K: 784, N: 50, bias: true },
      { name: 'ragged rows and columns, B transposed', M: 403, K: 200, N: 45, tB: true },
      { name: 'a handoff longer than one argument block', M: 16, K: 40000, N: 8, tA: true },
      { name: 'batched', M: 600, K: 64, N: 64, batch: 3 },
    ];
    for (const c of cases) {
      const q = c.batch ?? 1;
      const a = tf.tensor(rng.normalArray(q * c.M * c.K), [...(c.batch ? [q] : []), ...(c.tA ? [c.K, c.M] : [c.M, c.K])]);
      const b = tf.tensor(rng.normalArray(q * c.K * c.N), [...(c.batch ? [q] : []), ...(c.tB ? [c.N, c.K] : [c.K, c.N])]);
      const bias = c.bias ? tf.tensor1d(rng.normalArray(c.N)) : undefined;
      const f = () => {
        const y = bias ? tf.fused.matMul({ a, b, transposeA: c.tA, transposeB: c.tB, bias, activation: 'relu' }) : tf.matMul(a, b, c.tA, c.tB);
        const v = y.dataSync() as Float32Array;
        y.dispose();
        return v;
      };
      await sameOnTwoThreads(c.name, f);
      tf.dispose([a, b, ...(bias ? [bias] : [])]);
    }
  });

  // Mutants tried (each made a test fail, then reverted): gemmRows giving a worker rows [0, i1)
  // instead of [i0, i1) (rows done twice, racing): "GNN Neumann-RBP and BPTT gradients …" (this
  // test's smaller products happened to pass); dealByWork sending every product to thread 0: this
  // test; gemmJobs packing every B at the same scratch offset: this test ("… bits").
  test('batched products (gemmRows: the rows split once for six products; gemmEach: whole products dealt to the threads): bit-identical to one product at a time, one handoff each', async () => {
    const rng = new Rng(8);
    const backend = tf.backend() as unknown as WasmBackendLike;
    const at = (t: tf.Tensor) => offsetOf(backend, { dataId: t.dataId, shape: t.shape, dtype: t.dtype } as tf.TensorInfo);
    const M = 1003; // ragged: no multiple of the 4-row tile
    const D = 40;
    const W = tf.tensor2d(rng.normalArray(D * 3 * D), [D, 3 * D]);
    const bias = tf.tensor1d(rng.normalArray(3 * D));
    const A = [0, 1].map(() => tf.tensor2d(rng.normalArray(M * D), [M, D]));
    const P = [0, 1, 2].map(() => tf.tensor2d(rng.normalArray(M * D), [M, D]));
    const outs = [0, 1, 2].map(() => tf.zeros([M, D]));
    const dW = [0, 1].map(() => tf.zeros([D, 3 * D]));
    const scratch = tf.zeros([gemmJobsBytes(Array.from({ length: 6 }, () => ({ b: 0, sbk: 4, sbn: 3 * D * 4, N: D, K: D }) as GemmOperands)) / 4 + gemmScratchBytes(D, D) / 4]);
    // the GNN step's shapes: a gate block of W read in place (+ bias, then accumulated), and the
    // VJP's W_gᵀ (packed by gemmJobs); the weight gradient's Pᵀ·A into column blocks of dW
    const rowsOps = (): GemmOperands[] => {
      const g = (a: tf.Tensor, gate: number, c: tf.Tensor, accumulate: boolean, transposed: boolean): GemmOperands => ({
        a: at(a), sai: D * 4, sak: 4, b: at(W) + gate * D * 4, sbk: transposed ? 4 : 3 * D * 4, sbn: transposed ? 3 * D * 4 : 4,
        c: at(c), M, K: D, N: D, bias: transposed ? undefined : at(bias) + gate * D * 4, accumulate,
      });
      return [g(A[0], 0, outs[0], false, false), g(A[1], 0, outs[0], true, false), g(A[0], 1, outs[1], false, true), g(A[1], 2, outs[1], true, true), g(A[1], 1, outs[2], false, false), g(A[0], 2, outs[2], true, true)];
    };
    const eachOps = (): GemmOperands[] =>
      [0, 1].flatMap((q) => P.map((p, gate) => ({ a: at(A[q]), ...rowMajorStrides(D, M, D, true), b: at(p), c: at(dW[q]) + gate * D * 4, ldc: 3 * D * 4, M: D, K: M, N: D })));
    const read = () => toArray([...outs, ...dW]);
    const k = () => wasmKernels(tf.backend())!;
    await on(1, () => undefined);
    for (const o of rowsOps()) gemm(k(), at(scratch), o);
    for (const o of eachOps()) gemm(k(), at(scratch), o);
    const want = read();
    /** NaN in every output first: what a product leaves unwritten shows. */
    const poison = () => {
      for (const t of [...outs, ...dW]) new Float32Array(k().memory.buffer, at(t), t.size).fill(NaN);
    };
    for (const n of [1, 2]) {
      poison();
      const rows = await on(n, () => gemmRows(k(), gemmJobs(k(), at(scratch), rowsOps())));
      assert.equal(rows.handoffs, n - 1, `gemmRows on ${n} thread(s): handoffs`);
      for (const t of dW) new Float32Array(k().memory.buffer, at(t), t.size).fill(NaN);
      const each = await on(n, () => gemmEach(k(), gemmJobs(k(), at(scratch), eachOps())));
      assert.equal(each.handoffs, n - 1, `gemmEach on ${n} thread(s): handoffs`);
      assertSameBits(read(), want, `gemmRows and gemmEach on ${n} thread(s) bits`);
    }
    // the six weight-gradient products of equal work: three to each thread, in order
    assert.deepEqual(dealByWork([1, 1, 1, 1, 1, 1], 2), [0, 0, 0, 1, 1, 1]);
    assert.deepEqual(dealByWork([5, 1, 1, 1], 2), [0, 1, 1, 1]);
    assert.deepEqual(dealByWork([1, 1], 3), [0, 2]);
    tf.dispose([W, bias, ...A, ...P, ...outs, ...dW, scratch]);
  });

  test('message passing (CSR row sums, both directions): bit-identical on 2 threads', async () => {
    const rng = new Rng(4);
    const N = 3000;
    const E = 12000;
    // a skewed in-degree (a hub) so that the split by edges differs from a split by rows
    const src = Int32Array.from({ length: E }, () => rng.int(N));
    const dst = Int32Array.from({ length: E }, (_, e) => (e % 5 === 0 ? 7 : rng.int(N)));
    const graph = csrGraph(src, dst, N);
    const x = tf.tensor2d(rng.normalArray(N * 24), [N, 24]);
    for (const transpose of [false, true]) {
      await sameOnTwoThreads(`A${transpose ? 'ᵀ' : ''}x`, () => {
        const y = csrRowSum(x, graph, transpose);
        const v = y.dataSync() as Float32Array;
        y.dispose();
        return v;
      });
    }
    x.dispose();
  });

  /** A random graph big enough for every product and sum of the GNN step to be split. */
  function mediumGraph(N = 2000, D = 48, E = 10000): GnnGraph {
    const rng = new Rng(11);
    return {
      numNodes: N,
      src: Int32Array.from({ length: E }, () => rng.int(N)),
      dst: Int32Array.from({ length: E }, () => rng.int(N)),
      features: rng.normalArray(N * D, 0.5),
      dim: D,
      labels: Int32Array.from({ length: N }, (_, i) => i % 5),
      numClasses: 5,
      lossNodes: Int32Array.from({ length: 200 }, (_, i) => i * 7),
    };
  }

  test('GNN Neumann-RBP and BPTT gradients (forward + backward): bit-identical on 2 threads', async () => {
    const sys = new GruGnnSystem(mediumGraph(), { seed: 5, analytic: true, fused: true, aggregate: 'sum' });
    for (const m of ['BPTT', 'Neumann_RBP']) {
      await sameOnTwoThreads(`GNN ${m}`, () => {
        const r = getMethod(m).compute(sys, { T: 6, K: 3 });
        const v = toArray([...r.grads, ...r.lossGrads]);
        dispose(r.grads, r.lossGrads, r.adjoint ?? []);
        return v;
      });
    }
    sys.dispose();
  });

  test('a hypergradient step (BPTT and Neumann-RBP through the fused MLP): bit-identical on 2 threads', async () => {
    const data = syntheticDataset(600, 64, 10, 7);
    const sys = new HypergradSystem({ ...HYPERGRAD_DEFAULTS, sizes: [64, 128, 128, 10], batchSize: 300, seed: 3 }, data);
    for (const m of ['BPTT', 'Neumann_RBP']) {
      await sameOnTwoThreads(`hypergrad ${m}`, () => {
        const r = getMethod(m).compute(sys, { T: 4, K: 4 });
        const v = toArray([...r.grads, ...r.lossGrads]);
        dispose(r.grads, r.lossGrads, r.adjoint ?? []);
        return v;
      });
    }
  });

  /** OS threads of this process (Linux), else undefined. */
  const osThreads = () => (fs.existsSync('/proc/self/task') ? fs.readdirSync('/proc/self/task').length : undefined);

  test('no worker thread after close; the next pool starts again', async () => {
    setKernelThreads(1);
    await startKernelPool();
    const before = osThreads();
    setKernelThreads(2);
    await startKernelPool();
    const pool = usablePool(wasmKernels(tf.backend())!);
    assert.ok(pool && pool.workerCount === 1, 'one worker beside the caller');
    if (before !== undefined) assert.ok(osThreads()! > before, 'the worker is an OS thread');
    await closeKernelPool();
    assert.equal(pool.workerCount, 0);
    if (before !== undefined) assert.equal(osThreads(), before, 'its thread has ended');
    assert.equal(pool.usable, false);
    assert.equal(usablePool(wasmKernels(tf.backend())!), undefined, 'the kernels are back on one thread');
    const s = await startKernelPool();
    assert.equal(s.threads, 2);
  });

  test('a run stopped mid-way leaves no worker thread (runExperiment closes the pool)', async () => {
    await closeKernelPool();
    const template = writeModelTemplate(fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-threads-')), repoRoot);
    /** A run stopped after its first training step; whether it had a pool. */
    const stopped = async (threads: number) => {
      let pooled = false;
      let steps = 0;
      const status = await runExperiment(
        { experiment: template.config, method: 'Neumann_RBP', K: 5, steps: 50, backend: 'wasm', threads },
        (e) => {
          if (e.type === 'metrics' && e.kind === 'train') steps++;
        },
        {
          cancelled: () => {
            pooled ||= usablePool(wasmKernels(tf.backend())!) !== undefined;
            return steps >= 1;
          },
        },
      );
      assert.equal(status, 'cancelled');
      return pooled;
    };
    assert.equal(await stopped(1), false);
    const before = osThreads(); // after one run: libuv's and V8's own threads are up
    assert.equal(await stopped(2), true, 'the run had its pool');
    assert.equal(usablePool(wasmKernels(tf.backend())!), undefined, 'closed when the run stopped');
    if (before !== undefined) assert.equal(osThreads(), before, 'its thread has ended');
  });

  test('a process with a pool ends by itself (its workers never hold it open)', () => {
    const r = child('two');
    assert.equal(r.signal, null, `the child was killed (${r.signal}): its threads kept it alive? ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.out?.threads?.threads, 2, r.stderr);
    assert.ok((r.out?.runs ?? 0) > 0, 'the child split its product');
  });

  test('degrades to one thread: RBP_THREADS=1, threaded files missing, no SharedArrayBuffer', () => {
    const one = child('env', [], { RBP_THREADS: '1' });
    assert.equal(one.status, 0, one.stderr);
    assert.deepEqual([one.out?.build, one.out?.threads?.threads, one.out?.runs], ['simd', 1, 0]);
    const missing = child('missing');
    assert.equal(missing.status, 0, missing.stderr);
    assert.deepEqual([missing.out?.build, missing.out?.threads?.threads, missing.out?.runs], ['simd', 1, 0]);
    assert.match(missing.out?.threads?.note ?? '', /threaded build's files were not found in \/nonexistent/);
    const noSab = child('two', ['--no-harmony-sharedarraybuffer']);
    assert.equal(noSab.status, 0, noSab.stderr);
    assert.deepEqual([noSab.out?.build, noSab.out?.threads?.threads, noSab.out?.runs], ['simd', 1, 0]);
    assert.match(noSab.out?.threads?.note ?? '', /SharedArrayBuffer is not available/);
  });
}
