/** The bench's markdown report: every table renders (as many separator cells as header cells, every row as wide). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMarkdown, BenchReport, evaluateTargets, joinRows } from '../../bench/report';
import { GEMM_SHAPES, GradRowResult, MiB, RowKey, variantFields } from '../../bench/common';
import type { TorchRow } from '../../bench/torch';

function report(): BenchReport {
  const sample = (step: number) => ({ step, elapsed_s: step / 10, rss_bytes: 5e8, num_tensors: 8, num_bytes: 1e8, js_heap_bytes: 4e7, js_heap_total_bytes: 5e7, external_bytes: 7e8, wasm_heap_bytes: 7e8, wasm_resident_bytes: 6e8, step_ms: 30 });
  return {
    meta: { date: '2026-11-28', backend: 'wasm', node: 'v20', cpu: 'test cpu', runs: 5, command: 'node dist/bench.js' },
    rows: [{ workload: 'hopfield', method: 'Neumann_RBP', K: 20, variant: '' }],
    targets: [{ name: 'Hopfield Neumann-RBP K=20', rows: 'hopfield/Neumann_RBP/20', value: null, limit: 'CPU ours÷PyTorch ≤ 1', status: 'n/a', note: 'needs --torch' }],
    stream: { method: 'Neumann_RBP', K: 20, steps: 50, drop_ms_per_step: 30, json_ms_per_step: 30.2, overhead_ms_per_step: 0.2, overhead_pct: 0.7, serialize_ms_per_step: 0.17, events_per_step: 4.8, bytes_per_step: 2600, events_by_type: {}, pairs: [] },
    soak: { workload: 'hopfield', method: 'Neumann_RBP', K: 20, steps: 200, every: 100, samples: [sample(100), sample(200)], warm_from_step: 100, tensors_flat: true, bytes_flat: true, rss_growth_after_warmup_bytes: 0, rss_flat: true, flat: true, malloc_arena_max: '1', ms_per_step: 30 },
    gemm: ['tfjs (XNNPACK)', 'simd', 'relaxed-simd'].map((variant, i) => ({ kernels: (['off', 'simd', 'auto'] as const)[i], variant, trials: 15, gflops: GEMM_SHAPES.map(() => 30 + i) })),
    skipped: [],
  };
}

/** Cells of a markdown table line: the pipes that are not escaped, less one. */
const cells = (line: string) => line.replace(/\\\|/g, '').split('|').length - 2;

test('every table of the bench report has a separator row and rows as wide as its header', () => {
  const md = renderMarkdown(report());
  const tables: string[][] = [];
  let current: string[] | undefined;
  for (const line of md.split('\n')) {
    if (line.startsWith('|')) (current ??= (tables.push([]), tables[tables.length - 1])).push(line);
    else current = undefined;
  }
  assert.ok(tables.length >= 5, `rows, targets, stream, gemm and soak tables; found ${tables.length}`);
  for (const t of tables) {
    assert.match(t[1], /^\|(---\|)+$/, `separator row under ${t[0]}`);
    for (const line of t) assert.equal(cells(line), cells(t[0]), `${line}\n  under ${t[0]}`);
  }
});

/** One of our rows with the given times and peak RSS (MiB); the rest filler. */
function ours(k: RowKey, cpu: number, wall: number, rssMib: number, extra: Partial<GradRowResult> = {}): GradRowResult {
  return { ...k, ok: true, T: 100, backend: 'wasm', runs: 3, wall_ms: [wall], cpu_ms: [cpu], wall_median_ms: wall, wall_min_ms: wall, cpu_median_ms: cpu, first_ms: wall, peak_tensor_bytes: 0, profiled_median_ms: wall, rss_start_bytes: 100 * MiB, rss_peak_growth_bytes: 0, rss_drift_bytes: 0, rss_method: 'test', tensor_leak: 0, first_new_tensors: 0, loadavg: [0, 0], rss_peak_bytes: rssMib * MiB, ...extra };
}
function torch(k: RowKey, cpu: number, wall: number, rssMib: number): TorchRow {
  return { ...k, time_median_ms: wall, time_min_ms: wall, cpu_median_ms: cpu, rss_peak_mib: rssMib, cg_iters: 11 };
}

test('round-two targets: every GNN/hypergrad row on CPU and wall, CG-RBP only on its abs row, the Hopfield bandwidth fraction, peak RSS per workload', () => {
  const key = (workload: 'gnn' | 'hypergrad' | 'hopfield', method: string, K: number | null, variant = ''): RowKey => ({ workload, method, K, variant });
  const fwd = key('hopfield', 'forward', null);
  const bptt = key('gnn', 'BPTT', null);
  const cg = key('hypergrad', 'CG_RBP', 50, 'full');
  const cgAbs = key('hypergrad', 'CG_RBP', 50, 'full+abs');
  const rows = joinRows(
    [
      ours(fwd, 60, 60, 300, { bandwidth: { weight_bytes: 1, forward_gbs: 27, forward_wall_gbs: 27, read_gbs: 30 } }),
      ours(bptt, 900, 1100, 200), // CPU under, wall over: MISS
      ours(cg, 5000, 5000, 400), // relative test: not compared
      ours(cgAbs, 900, 950, 400, { backward_iters: 11 }),
    ],
    new Map(),
    [torch(fwd, 100, 100, 250), torch(bptt, 1000, 1000, 300), torch(cg, 1000, 1000, 250), torch(cgAbs, 1000, 1000, 250)],
  );
  const t = evaluateTargets(rows, true);
  const by = (rowsId: string) => t.find((x) => x.rows === rowsId && x.limit.startsWith('CPU and wall'));
  assert.equal(by('gnn/BPTT/-/')?.status, 'MISS', 'wall 1.1 misses although CPU 0.9 passes');
  assert.equal(by('gnn/BPTT/-/')?.value, 1.1);
  assert.equal(by('hypergrad/CG_RBP/50/full')?.status, 'n/a');
  assert.equal(by('hypergrad/CG_RBP/50/full+abs')?.status, 'PASS');
  const bw = t.find((x) => x.name === 'Hopfield forward at the read bandwidth');
  assert.equal(bw?.status, 'PASS');
  assert.ok(Math.abs(bw!.value! - 0.9) < 1e-12);
  const rss = (wl: string) => t.find((x) => x.name === `${wl} peak RSS`);
  assert.equal(rss('hopfield')?.status, 'PASS', '300 / 250 = 1.2');
  assert.equal(rss('hypergrad')?.status, 'MISS', '400 / 250 = 1.6');
  assert.ok(Math.abs(rss('hypergrad')!.value! - 1.6) < 1e-12);
  const md = renderMarkdown({ meta: {}, rows, targets: t, skipped: [] });
  assert.match(md, /the forward pass at 0\.90 of the read bandwidth/);
  assert.match(md, /K = 50 full\+abs: 11 vs 11/);
  // the paired read of W_s after each run decides where present, though the separate read passes
  const paired = { runs: 3, forward: { cpu: 27, wall: 20 }, read: { cpu: 36, wall: 30 } };
  const rows2 = joinRows([ours(fwd, 60, 60, 300, { bandwidth: { weight_bytes: 1, forward_gbs: 27, forward_wall_gbs: 27, read_gbs: 28, paired } })], new Map(), []);
  const t2 = evaluateTargets(rows2, false);
  const bw2 = t2.find((x) => x.name === 'Hopfield forward at the read bandwidth');
  assert.equal(bw2?.status, 'MISS');
  assert.ok(Math.abs(bw2!.value! - 0.75) < 1e-12);
  assert.match(renderMarkdown({ meta: {}, rows: rows2, targets: t2, skipped: [] }), /forward 27\.0 vs read 36\.0 GB\/s of CPU time \(20\.0 vs 30\.0 of wall time\): the forward pass at 0\.75 of the read bandwidth/);
});

test('row variants set model.last_step and model.cg_stop, and an unknown tag is refused', () => {
  assert.deepEqual(variantFields(''), {});
  assert.deepEqual(variantFields('minibatch'), { last_step: 'minibatch' });
  assert.deepEqual(variantFields('full+abs'), { last_step: 'full', cg_stop: 'absolute' });
  assert.deepEqual(variantFields('abs'), { cg_stop: 'absolute' });
  assert.throws(() => variantFields('full+absolute'), /unknown row variant 'absolute'/);
});
