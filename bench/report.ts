/** Joining our rows with the reference's, the PASS/MISS targets, and the markdown report. */
import { GEMM_SHAPES, GemmResult, GradRowResult, MiB, RowKey, RowResult, SoakResult, StreamResult, WORKLOADS, rowId } from './common';
import type { TorchRow } from './torch';

export interface Accuracy {
  rel_err: number;
  cos: number;
  rel_err_dyn: number;
  cos_dyn: number;
}

export interface ReportRow extends RowKey {
  ours?: RowResult;
  accuracy?: Accuracy;
  torch?: TorchRow;
  /** ours ÷ PyTorch, from the medians of one bench run. */
  ratio_cpu?: number;
  ratio_wall?: number;
  ratio_wall_min?: number;
  /** our peak RSS ÷ the reference's (both absolute VmHWM, MiB). */
  ratio_rss?: number;
}

export interface Target {
  name: string;
  rows: string;
  value: number | null;
  limit: string;
  status: 'PASS' | 'MISS' | 'n/a';
  note?: string;
}

export interface BenchReport {
  meta: Record<string, unknown>;
  rows: ReportRow[];
  targets: Target[];
  stream?: StreamResult;
  soak?: SoakResult;
  gemm?: GemmResult[];
  skipped: string[];
  torch?: { version?: string; message: string; meta?: { threads: number; data: string; order: string }; seconds: Record<string, number> };
}


/**
 * The bandwidth target's value: the forward pass's GB/s over the streaming read's, by CPU time: the
 * paired measure (a read of W_s itself after each run), or in results written before it the
 * forward pass over the separate best-of-20 read of a fresh buffer.
 */
export function bandwidthFraction(bw: GradRowResult['bandwidth']): { value: number; note: string } | undefined {
  if (!bw) return undefined;
  const p = bw.paired;
  if (p) return { value: p.forward.cpu / p.read.cpu, note: `${p.forward.cpu.toFixed(1)} of ${p.read.cpu.toFixed(1)} GB/s (W_s read after each run, best of ${p.runs})` };
  if (!bw.read_gbs) return undefined;
  return { value: bw.forward_gbs / bw.read_gbs, note: `${bw.forward_gbs.toFixed(1)} of ${bw.read_gbs.toFixed(1)} GB/s (read apart, best of 20)` };
}

export function joinRows(ours: RowResult[], accuracy: Map<string, Accuracy>, torch: TorchRow[]): ReportRow[] {
  const byId = new Map<string, ReportRow>();
  const order: string[] = [];
  const get = (k: RowKey) => {
    const id = rowId(k);
    let r = byId.get(id);
    if (!r) {
      r = { workload: k.workload, method: k.method, K: k.K, variant: k.variant };
      byId.set(id, r);
      order.push(id);
    }
    return r;
  };
  for (const o of ours) {
    const r = get(o);
    r.ours = o;
    r.accuracy = accuracy.get(rowId(o));
  }
  for (const t of torch) get(t).torch = t;
  for (const r of byId.values()) {
    if (r.ours?.ok && r.torch && !r.torch.error) {
      r.ratio_cpu = r.ours.cpu_median_ms / r.torch.cpu_median_ms;
      r.ratio_wall = r.ours.wall_median_ms / r.torch.time_median_ms;
      r.ratio_wall_min = r.ours.wall_min_ms / r.torch.time_min_ms;
      if (r.ours.rss_peak_bytes !== undefined && r.torch.rss_peak_mib) r.ratio_rss = r.ours.rss_peak_bytes / MiB / r.torch.rss_peak_mib;
    }
  }
  return order.map((id) => byId.get(id)!);
}

function find(rows: ReportRow[], workload: string, method: string, K: number | null, variant = ''): ReportRow | undefined {
  return rows.find((r) => r.workload === workload && r.method === method && r.K === K && r.variant === variant);
}

function okRow(r: ReportRow | undefined): GradRowResult | undefined {
  return r?.ours?.ok ? r.ours : undefined;
}

export function evaluateTargets(rows: ReportRow[], torchRan: boolean): Target[] {
  const out: Target[] = [];
  const ratioTarget = (name: string, r: ReportRow | undefined, limit: number, id: string) => {
    const v = r?.ratio_cpu;
    const note = !r?.ours ? 'row not run' : !r.ours.ok ? 'our row failed' : !torchRan ? 'needs --torch' : !r.torch ? 'no PyTorch row' : r.torch.error ? 'PyTorch row failed' : undefined;
    out.push({ name, rows: id, value: v ?? null, limit: `CPU ours÷PyTorch ≤ ${limit}`, status: v === undefined ? 'n/a' : v <= limit ? 'PASS' : 'MISS', note });
  };
  ratioTarget('Hopfield forward 50 steps', find(rows, 'hopfield', 'forward', null), 1.0, 'hopfield/forward');
  ratioTarget('Hopfield Neumann-RBP K=20', find(rows, 'hopfield', 'Neumann_RBP', 20), 1.0, 'hopfield/Neumann_RBP/20');
  ratioTarget('Hopfield BPTT', find(rows, 'hopfield', 'BPTT', null), 1.0, 'hopfield/BPTT');
  ratioTarget('GNN forward 100 steps', find(rows, 'gnn', 'forward', null), 1.5, 'gnn/forward');
  ratioTarget('GNN Neumann-RBP K=5', find(rows, 'gnn', 'Neumann_RBP', 5), 1.5, 'gnn/Neumann_RBP/5');
  ratioTarget('hypergrad BPTT', find(rows, 'hypergrad', 'BPTT', null), 1.5, 'hypergrad/BPTT');
  ratioTarget('hypergrad Neumann-RBP K=50 (minibatch last step)', find(rows, 'hypergrad', 'Neumann_RBP', 50, 'minibatch'), 1.5, 'hypergrad/Neumann_RBP/50/minibatch');

  const n5 = okRow(find(rows, 'hopfield', 'Neumann_RBP', 5));
  const n40 = okRow(find(rows, 'hopfield', 'Neumann_RBP', 40));
  if (n5 && n40) {
    const ratio = n40.peak_tensor_bytes / n5.peak_tensor_bytes;
    out.push({ name: 'Neumann-RBP peak tensor memory flat in K', rows: 'hopfield/Neumann_RBP/5 vs /40', value: ratio, limit: 'peak(K=40) ÷ peak(K=5) within 1 ± 0.10', status: Math.abs(ratio - 1) <= 0.1 ? 'PASS' : 'MISS' });
  } else out.push({ name: 'Neumann-RBP peak tensor memory flat in K', rows: 'hopfield/Neumann_RBP/5 vs /40', value: null, limit: 'within 10%', status: 'n/a', note: 'rows missing' });

  const tb = [5, 10, 20, 40].map((K) => okRow(find(rows, 'hopfield', 'TBPTT', K)));
  const present = tb.filter((r): r is GradRowResult => r !== undefined);
  if (present.length >= 2) {
    const increasing = present.every((r, i) => i === 0 || r.peak_tensor_bytes > present[i - 1].peak_tensor_bytes);
    const ratio = present[present.length - 1].peak_tensor_bytes / present[0].peak_tensor_bytes;
    const mibs = present.map((r) => (r.peak_tensor_bytes / MiB).toFixed(2)).join(' → ');
    out.push({ name: 'TBPTT peak tensor memory grows with K', rows: `hopfield/TBPTT/K=${present.map((r) => r.K).join(',')}`, value: ratio, limit: 'strictly increasing in K (value: largest K ÷ smallest K)', status: increasing ? 'PASS' : 'MISS', note: `${mibs} MiB` });
    const n = [5, 10, 20, 40].map((K) => okRow(find(rows, 'hopfield', 'Neumann_RBP', K))).filter((r): r is GradRowResult => r !== undefined);
    if (n.length && out.length) out[out.length - 2].note = `${n.map((r) => (r.peak_tensor_bytes / MiB).toFixed(2)).join(' → ')} MiB for K = ${n.map((r) => r.K).join(', ')}`;
  } else out.push({ name: 'TBPTT peak tensor memory grows with K', rows: 'hopfield/TBPTT', value: null, limit: 'increasing', status: 'n/a', note: 'rows missing' });

  // Round two (issue 16): every GNN and hypergrad row at or below the reference in CPU and in wall
  // time. CG-RBP's rows with our relative stopping test do other work than the reference's (which
  // stops on ||r|| < 1e-5): their like-for-like row is the 'abs' one.
  for (const r of rows.filter((x) => (x.workload === 'gnn' || x.workload === 'hypergrad') && x.ours)) {
    const id = rowId(r);
    const unlike = r.method === 'CG_RBP' && !r.variant.split('+').includes('abs');
    const v = r.ratio_cpu !== undefined && r.ratio_wall !== undefined ? Math.max(r.ratio_cpu, r.ratio_wall) : undefined;
    const note = unlike ? 'other stopping test than the reference: see the abs row' : v === undefined ? (!torchRan ? 'needs --torch' : 'no ratio (a side failed)') : `CPU ${r.ratio_cpu!.toFixed(2)}, wall ${r.ratio_wall!.toFixed(2)}`;
    out.push({ name: `${r.workload} ${METHOD_LABEL[r.method] ?? r.method}${r.K !== null ? ` K=${r.K}` : ''}${r.variant ? ` ${r.variant}` : ''}`, rows: id, value: v ?? null, limit: 'CPU and wall ours÷PyTorch ≤ 1.0', status: unlike || v === undefined ? 'n/a' : v <= 1 ? 'PASS' : 'MISS', note });
  }

  const fw = okRow(find(rows, 'hopfield', 'forward', null))?.bandwidth;
  const bwFrac = bandwidthFraction(fw);
  out.push({
    name: 'Hopfield forward at the read bandwidth',
    rows: 'hopfield/forward',
    value: bwFrac?.value ?? null,
    limit: 'forward GB/s ÷ streaming read GB/s of the same bytes (W_s, read after each run; one core, CPU time, best of the runs) ≥ 0.9',
    status: bwFrac === undefined ? 'n/a' : bwFrac.value >= 0.9 ? 'PASS' : 'MISS',
    note: fw ? `${bwFrac?.note ?? 'no read measured'}; 256 MiB read ${fw.read_large_gbs?.toFixed(1) ?? '–'} GB/s` : 'row not run',
  });

  for (const wl of WORKLOADS) {
    const rs = rows.filter((r) => r.workload === wl && r.ratio_rss !== undefined);
    if (!rs.length) continue;
    const worst = rs.reduce((a, b) => (b.ratio_rss! > a.ratio_rss! ? b : a));
    const over = rs.filter((r) => r.ratio_rss! > 1.5).length;
    out.push({ name: `${wl} peak RSS`, rows: `${wl}/* (${rs.length} rows)`, value: worst.ratio_rss!, limit: 'peak RSS ours÷PyTorch ≤ 1.5 on every row (value: the largest)', status: over ? 'MISS' : 'PASS', note: `largest ${rowId(worst)}; ${over} of ${rs.length} rows over 1.5` });
  }
  return out;
}

// ---------- formatting ----------

function f(x: number | undefined | null, digits = 3): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '–';
  if (x === 0) return '0';
  if ((Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(2);
  return x.toPrecision(digits);
}

function ms(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

function mib(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  const v = x / MiB;
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}

function ratio(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(2)}×`;
}

const METHOD_LABEL: Record<string, string> = { forward: 'forward only', Neumann_RBP: 'Neumann-RBP', CG_RBP: 'CG-RBP' };

/** A markdown table's header and separator rows (one separator per column, so that it renders). */
function tableHead(cols: string[]): string[] {
  return [`| ${cols.join(' | ')} |`, `|${'---|'.repeat(cols.length)}`];
}

export function renderMarkdown(rep: BenchReport): string {
  const L: string[] = [];
  const m = rep.meta;
  L.push('# RBP Lab benchmark');
  L.push('');
  L.push(`${String(m.date)} · backend **${String(m.backend)}** · Node ${String(m.node)} · ${String(m.cpu)} · ${String(m.runs)} timed runs per row · command \`${String(m.command)}\``);
  if (m.gpu) L.push(`GPU: ${String(m.gpu)}`);
  if (typeof m.cores_start === 'number' && typeof m.cores_end === 'number') {
    L.push(`Cores free: two busy threads of one process got CPU ÷ wall ${m.cores_start.toFixed(2)} at the start and ${m.cores_end.toFixed(2)} at the end (2: both cores free; 1: another job holds one, and threads cannot gain); our rows ran with --threads ${m.threads === undefined ? 'default (RBP_THREADS, else 1)' : String(m.threads)}.`);
  }
  if (rep.torch) {
    const tm = rep.torch.meta;
    L.push(`PyTorch reference: ${rep.torch.message}${tm ? `, ${tm.threads} threads, data: ${tm.data}, ${tm.order}` : ''}`);
  }
  L.push('');
  L.push('One row = one full gradient computation (forward T steps + backward) after a warm-up, in a fresh process per row. ' +
    'wall/CPU = median over the timed runs (CPU = process user+system time, all threads); peak = highest live tensor bytes during one computation (measurePeak); ' +
    'RSS growth = peak RSS during the computations minus RSS before the first; rel err / cos = against this implementation\'s own BPTT gradient; ' +
    '÷ PyTorch = ours divided by the reference, both measured in this run. Noisy shared machine: compare the CPU ratio first.');
  L.push('');
  for (const wl of WORKLOADS) {
    const rows = rep.rows.filter((r) => r.workload === wl);
    if (rows.length === 0) continue;
    const T = rows.map((r) => (r.ours?.ok ? r.ours.T : r.torch?.T)).find((x) => x !== undefined);
    L.push(`## ${wl}${T ? ` (T = ${T})` : ''}`);
    L.push('');
    L.push(...tableHead(['method', 'K', 'variant', 'threads', 'CPU ÷ wall', 'load', 'wall ms median', 'wall ms min', 'CPU ms', 'peak tensor MiB', 'RSS growth MiB', 'rel err vs BPTT', 'cos vs BPTT', 'PyTorch CPU ms', 'PyTorch wall ms', 'CPU ÷ PyTorch', 'wall ÷ PyTorch', 'peak RSS MiB', 'PyTorch peak RSS MiB', 'RSS ÷ PyTorch']));
    for (const r of rows) {
      const o = r.ours?.ok ? r.ours : undefined;
      const err = r.ours && !r.ours.ok ? ` (failed: ${r.ours.error.slice(0, 80)})` : '';
      const t = r.torch && !r.torch.error ? r.torch : undefined;
      L.push(
        `| ${METHOD_LABEL[r.method] ?? r.method}${err} | ${r.K ?? '–'} | ${r.variant || ''} | ${o?.threads ?? (o ? 1 : '–')} | ${o ? (o.cpu_median_ms / o.wall_median_ms).toFixed(2) : '–'} | ${o ? o.loadavg[1].toFixed(1) : '–'} | ${ms(o?.wall_median_ms)} | ${ms(o?.wall_min_ms)} | ${ms(o?.cpu_median_ms)} | ${mib(o?.peak_tensor_bytes)} | ${mib(o?.rss_peak_growth_bytes)} | ` +
          `${r.method === 'forward' ? '' : f(r.accuracy?.rel_err)} | ${r.method === 'forward' ? '' : r.accuracy ? r.accuracy.cos.toFixed(6) : '–'} | ${ms(t?.cpu_median_ms)} | ${ms(t?.time_median_ms)} | ${ratio(r.ratio_cpu)} | ${ratio(r.ratio_wall)} | ${mib(o?.rss_peak_bytes)} | ${t?.rss_peak_mib === undefined ? '–' : t.rss_peak_mib.toFixed(0)} | ${ratio(r.ratio_rss)} |`,
      );
    }
    L.push('');
    const gpu = rows.filter((r) => r.ours?.ok && r.ours.peak_gpu_bytes !== undefined);
    if (gpu.length) L.push(`Peak GPU buffer MiB above the start (webgpu, tf.memory().numBytesInGPU): ${gpu.map((r) => `${METHOD_LABEL[r.method] ?? r.method}${r.K !== null ? ` K=${r.K}` : ''} ${r.ours?.ok ? mib(r.ours.peak_gpu_bytes) : ''}`).join(', ')}.`, '');
    // CG-RBP: our default stops on a relative test, the reference on an absolute one; the 'abs' rows
    // (model.cg_stop: absolute) do the reference's work.
    const cg = rows.filter((r) => r.method === 'CG_RBP' && r.ours?.ok && r.torch?.cg_iters !== undefined);
    if (cg.length) {
      const its = cg.map((r) => `K = ${r.K}${r.variant ? ` ${r.variant}` : ''}: ${r.ours?.ok ? r.ours.backward_iters : '?'} vs ${r.torch?.cg_iters}`).join('; ');
      L.push(`CG-RBP iterations, ours vs PyTorch (${its}): ours stops when ‖r‖/‖b‖ < 1e-5 or after K (default), or when ‖r‖ < 1e-5 in the rows marked abs (\`model.cg_stop: absolute\`), the reference when ‖r‖ < 1e-5: the abs rows compare the same work.`);
      L.push('');
    }
    const fw = rows.find((r) => r.method === 'forward' && r.ours?.ok && r.ours.bandwidth)?.ours;
    const bw = fw?.ok ? fw.bandwidth : undefined;
    if (bw) {
      const f = bandwidthFraction(bw);
      const p = bw.paired;
      const pairedText = p
        ? ` Paired with a plain streaming read (\`read_sum\`) of W_s itself, T times, after each of the ${p.runs} runs, best of the runs on both sides: forward ${p.forward.cpu.toFixed(1)} vs read ${p.read.cpu.toFixed(1)} GB/s of CPU time (${p.forward.wall.toFixed(1)} vs ${p.read.wall.toFixed(1)} of wall time): the forward pass at ${f ? f.value.toFixed(2) : '–'} of the read bandwidth.`
        : ` Against the read below (results from before the paired measure): the forward pass at ${f ? f.value.toFixed(2) : '–'} of the read bandwidth.`;
      L.push(`Bandwidth: the forward pass reads its weights (${mib(bw.weight_bytes)} MiB) once per step, T × that at ${bw.forward_gbs.toFixed(1)} GB/s per CPU second (${bw.forward_wall_gbs.toFixed(1)} per wall second, fastest run).${pairedText} Apart from the runs, best of 20 trials of ~1 GB on a fresh buffer of that size: ${bw.read_gbs?.toFixed(1) ?? '–'} GB/s per CPU second (${bw.read_wall_gbs?.toFixed(1) ?? '–'} per wall second); of 256 MiB (main memory): ${bw.read_large_gbs?.toFixed(1) ?? '–'} GB/s.`);
      L.push('');
    }
    const mem = rows.map((r) => r.ours).filter((o): o is GradRowResult => Boolean(o?.ok && o.rss_peak_bytes !== undefined));
    if (mem.length) {
      const parts = (o: GradRowResult) => {
        const res = o.rss_end_parts?.wasm_resident_bytes;
        const v8 = o.rss_end_parts?.js_heap_total_bytes;
        return `${METHOD_LABEL[o.method] ?? o.method}${o.K !== null ? ` K=${o.K}` : ''}${o.variant ? ` ${o.variant}` : ''} ${mib(o.rss_peak_bytes)} (start ${mib(o.rss_start_bytes)}, wasm heap ${mib(o.wasm_heap_bytes)} of which resident ${mib(res)}, V8 heap ${mib(v8)})`;
      };
      L.push(`Where our peak RSS goes (MiB; the parts after the timed runs): ${mem.map(parts).join('; ')}. The rest is Node, V8's code and tfjs's JS (about the start minus the wasm heap). The wasm heap never shrinks: it holds the high-water mark of the live tensors plus the allocator's free blocks, which stay resident.`);
      L.push('');
    }
  }
  if (rep.targets.length) {
    L.push('## Targets');
    L.push('');
    L.push(...tableHead(['target', 'row(s)', 'value', 'limit', 'result']));
    for (const t of rep.targets) L.push(`| ${t.name} | ${t.rows} | ${t.value === null ? '–' : t.value.toFixed(2)} | ${t.limit} | ${t.status}${t.note ? ` (${t.note})` : ''} |`);
    L.push('');
  }
  if (rep.stream) {
    const s = rep.stream;
    L.push(`## Streaming overhead (Hopfield ${s.method} K=${s.K}, ${s.steps} training steps through runExperiment, steady-state ms per step)`);
    L.push('');
    L.push(...tableHead(['emit', 'ms / step', 'events / step', 'bytes / step', 'serialise ms / step']));
    L.push(`| drop every event | ${ms(s.drop_ms_per_step)} | | | |`);
    L.push(`| JSON.stringify every event (as process.send) | ${ms(s.json_ms_per_step)} | ${s.events_per_step.toFixed(1)} | ${s.bytes_per_step.toFixed(0)} | ${s.serialize_ms_per_step.toFixed(3)} |`);
    L.push('');
    L.push(`Difference ${s.overhead_ms_per_step.toFixed(1)} ms/step (${s.overhead_pct.toFixed(1)} %, within the noise unless it exceeds the serialise time); the direct cost is the serialise column.`);
    L.push('');
  }
  if (rep.gemm?.length) {
    const g = rep.gemm;
    L.push('## matMul kernels (wasm, GFLOP/s of wall time, best of ' + g[0].trials + ' trials; CPU ÷ wall of that trial in brackets)');
    L.push('');
    L.push('The models\' hot products with tfjs\'s own kernel (XNNPACK) and with `src/core/wasm` (RBP_LAB_WASM_KERNELS=off / simd / auto), one process each; ' +
      `threads: ${g.map((x) => x.threads ?? 1).join(' / ')} (bench --threads), load average at the start: ${g.map((x) => x.loadavg?.toFixed(1) ?? '–').join(' / ')}.`);
    L.push('');
    L.push(...tableHead(['product', ...g.map((x) => `${x.variant}${(x.threads ?? 1) > 1 ? ` ×${x.threads}` : ''}`), 'best ÷ tfjs']));
    const base = g.find((x) => x.kernels === 'off');
    GEMM_SHAPES.forEach((sh, i) => {
      const best = Math.max(...g.map((x) => x.gflops[i]));
      const cell = (x: GemmResult) => `${x.gflops[i].toFixed(1)}${x.cpu_per_wall ? ` (${x.cpu_per_wall[i].toFixed(2)})` : ''}`;
      L.push(`| ${sh.name} | ${g.map(cell).join(' | ')} | ${base ? (best / base.gflops[i]).toFixed(2) + '×' : '–'} |`);
    });
    const h = g.find((x) => x.handoff_us)?.handoff_us;
    if (h) L.push('', `Kernel pool handoff (an empty call list to the worker and back, 2000 times): median ${h[0].toFixed(1)} µs, 90th percentile ${h[1].toFixed(1)} µs.`);
    L.push('');
  }
  if (rep.soak) {
    const s = rep.soak;
    L.push(`## Memory soak (${s.workload ?? 'hopfield'} ${s.method} K=${s.K}, ${s.steps} training steps, sample every ${s.every})`);
    L.push('');
    L.push(...tableHead(['step', 'elapsed s', 'RSS MiB', 'live tensors', 'live tensor MiB', 'JS heap MiB', 'wasm heap MiB', 'wasm heap resident MiB', 'step ms']));
    for (const x of s.samples) L.push(`| ${x.step} | ${x.elapsed_s.toFixed(0)} | ${mib(x.rss_bytes)} | ${x.num_tensors} | ${mib(x.num_bytes)} | ${mib(x.js_heap_bytes)} | ${mib(x.wasm_heap_bytes)} | ${x.wasm_resident_bytes === undefined ? '–' : mib(x.wasm_resident_bytes)} | ${ms(x.step_ms)} |`);
    L.push('');
    L.push(`After warm-up (steps after ${s.warm_from_step}, the first evaluation): live tensors ${s.tensors_flat ? 'flat' : 'NOT flat'}, live bytes ${s.bytes_flat ? 'flat' : 'NOT flat'}, RSS growth ${mib(s.rss_growth_after_warmup_bytes)} MiB (${s.rss_flat ? 'flat' : 'NOT flat'}) → **${s.flat ? 'flat' : 'NOT flat'}**. ${s.gpu_flat !== undefined ? `GPU buffers in use ${s.samples.map((x) => mib(x.gpu_bytes)).join(' → ')} MiB (${s.gpu_flat ? 'flat' : 'NOT flat'}). ` : ''}The wasm heap never shrinks and is capped at 4 GB. Process environment: MALLOC_ARENA_MAX=${s.malloc_arena_max ?? 'unset (glibc default)'}.`);
    L.push('');
  }
  if (rep.skipped.length) {
    L.push('## Skipped');
    L.push('');
    for (const s of rep.skipped) L.push(`- ${s}`);
    L.push('');
  }
  return L.join('\n');
}
