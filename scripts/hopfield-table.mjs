// Reproduce the paper's Hopfield comparison: train with each gradient method (200 Adam steps,
// batch 1, T = 50, K = 20 by default) through `rbp run`, then print the L1 loss averaged over
// the first and last 10 steps and the retrieval error at 50% corruption.
//   node scripts/hopfield-table.mjs [--steps 200] [--out DIR] [--cli path/to/cli.js] [--json]
// (--json: the rows as one JSON object on stdout, for scripts/readme-results.mjs)
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const steps = Number(arg('steps', '200'));
const outRoot = arg('out', fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-hopfield-')));
const cli = arg('cli', path.join(root, 'dist/cli.js'));
const methods = ['BPTT', 'TBPTT', 'RBP', 'CG_RBP', 'Neumann_RBP'];
const rows = [];
for (const m of methods) {
  const out = path.join(outRoot, m);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [cli, 'run', 'hopfield', '--method', m, '--steps', String(steps), '--out', out, '--set', `train.valid_epoch=${Math.ceil(steps / 10)}`], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(r.stderr);
    process.exit(1);
  }
  const events = fs.readFileSync(path.join(out, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const train = events.filter((e) => e.type === 'metrics' && e.kind === 'train').map((e) => e.values.loss);
  const evals = events.filter((e) => e.type === 'metrics' && e.kind === 'eval');
  const first = evals[0]?.values;
  const last = evals[evals.length - 1].values;
  const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
  rows.push({ m, untrainedBitErr: first?.retrieval_bit_err, untrainedL1: first?.eval_l1, untrainedAuthors: first?.log10_l1_binary_vs_corrupted, authors: last.log10_l1_binary_vs_corrupted, wall: (Date.now() - t0) / 1000, first10: mean(train.slice(0, 10)), last10: mean(train.slice(-10)), evalL1: last.eval_l1, bitErr: last.retrieval_bit_err, nearest: last.retrieval_nearest_ok });
  console.error(`${m}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ steps, rows }));
  process.exit(0);
}
console.log(`Hopfield training, ${steps} Adam steps (lr 1e-3, batch 1, T = 50, K = 20), runs in ${outRoot}\n`);
console.log('| method | wall s | train L1 first 10 | train L1 last 10 | eval L1 (clean) | retrieval bit err (50% corrupt) | nearest-pattern ok | authors\' log10 L1 (binarised vs corrupted) |');
console.log('|---|---|---|---|---|---|---|---|');
console.log(`| (untrained W) | | | | ${rows[0].untrainedL1?.toFixed(4)} | ${rows[0].untrainedBitErr?.toFixed(4)} | | ${rows[0].untrainedAuthors?.toFixed(3)} |`);
for (const r of rows) console.log(`| ${r.m} | ${r.wall.toFixed(0)} | ${r.first10.toFixed(4)} | ${r.last10.toFixed(4)} | ${r.evalL1.toFixed(4)} | ${r.bitErr.toFixed(4)} | ${r.nearest}/10 | ${r.authors?.toFixed(3)} |`);
