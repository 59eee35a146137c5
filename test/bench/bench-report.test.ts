/** The bench's markdown report: every table renders (as many separator cells as header cells, every row as wide). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMarkdown, BenchReport } from '../../bench/report';
import { GEMM_SHAPES } from '../../bench/common';

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
