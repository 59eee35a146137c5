// bench/gpu.sh's summary: node bench/gpu-summary.mjs OUT > OUT/summary.md
// Reads OUT/{doctor.txt, gradcheck-webgpu.json, gradcheck-wasm.json, bench-<workload>.json}; whatever
// is missing or unreadable is named instead of its table.
import * as fs from 'fs';
import * as path from 'path';

const out = process.argv[2];
const read = (f) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(out, f), 'utf8'));
  } catch (err) {
    return { missing: `${f}: ${String(err.message).split('\n')[0]}` };
  }
};
const fmt = (x, d = 3) => (typeof x === 'number' && Number.isFinite(x) ? (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(d) : x.toExponential(d - 1)) : '–');
const mib = (b) => (typeof b === 'number' ? (b / 2 ** 20).toFixed(1) : '–');
const L = ['# GPU run (bench/gpu.sh)', ''];

let doctor = '';
try {
  doctor = fs.readFileSync(path.join(out, 'doctor.txt'), 'utf8');
} catch {
  doctor = '(no doctor.txt)';
}
const adapters = doctor.split('WebGPU adapters:')[1]?.split('\n\n')[0]?.trim() ?? '(not found in doctor.txt)';
L.push(`WebGPU adapters: ${adapters}`, '');

const gw = read('gradcheck-webgpu.json');
const gc = read('gradcheck-wasm.json');
L.push('## Gradient check, Hopfield (rbp gradcheck hopfield --json)', '');
if (gw.missing) L.push(`webgpu: ${gw.missing}`, '');
if (gc.missing) L.push(`wasm: ${gc.missing}`, '');
if (!gw.missing) {
  L.push(`webgpu on ${gw.adapter ?? gw.backend}; T = ${gw.T}; ρ(J) = ${fmt(gw.rho)}${gc.missing ? '' : ` (wasm: ${fmt(gc.rho)})`}`, '');
  L.push('| method | K | loss rel diff vs wasm | rel err vs exact webgpu | wasm | ms webgpu | ms wasm |', '|---|---|---|---|---|---|---|');
  for (const r of gw.rows) {
    const w = gc.missing ? undefined : gc.rows.find((x) => x.method === r.method && x.K === r.K);
    const dl = w ? Math.abs(r.loss - w.loss) / Math.abs(w.loss) : undefined;
    L.push(`| ${r.method} | ${r.K ?? '–'} | ${fmt(dl, 2)} | ${fmt(r.relErrExact, 2)} | ${fmt(w?.relErrExact, 2)} | ${r.timeMs.toFixed(0)} | ${w ? w.timeMs.toFixed(0) : '–'} |`);
  }
  L.push('');
}

L.push('## Bench rows on webgpu (dist/bench.js --backend webgpu)', '');
L.push('| workload | method | K | T | wall ms median | first ms | peak tensor MiB | peak GPU MiB | error |', '|---|---|---|---|---|---|---|---|---|');
const notes = [];
for (const wl of ['hopfield', 'gnn', 'hypergrad']) {
  const b = read(`bench-${wl}.json`);
  if (b.missing) {
    notes.push(`bench-${wl}.json: not written (not run on a software adapter, or timed out or failed: see log.txt)`);
    continue;
  }
  notes.push(`${wl}: GPU ${b.meta?.gpu ?? '?'}; ${b.meta?.command ?? ''}; ${b.meta?.total_s ?? '?'} s`);
  for (const r of b.rows) {
    const o = r.ours ?? {};
    L.push(`| ${r.workload} | ${r.method} | ${r.K ?? '–'} | ${o.T ?? '–'} | ${fmt(o.wall_median_ms, 4)} | ${fmt(o.first_ms, 4)} | ${mib(o.peak_tensor_bytes)} | ${mib(o.peak_gpu_bytes)} | ${o.ok === false ? String(o.error).slice(0, 120) : ''} |`);
  }
  for (const s of b.skipped ?? []) notes.push(`${wl} skipped: ${s}`);
}
L.push('', ...notes.map((n) => `- ${n}`));
process.stdout.write(L.join('\n') + '\n');
