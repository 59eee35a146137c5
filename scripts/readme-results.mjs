// The numbers quoted in README.md's Results, regenerated from their commands.
//
//   node scripts/readme-results.mjs --check [--slow] [--only NAME,...]   rerun, list what changed (exit 1 if anything did)
//   node scripts/readme-results.mjs --update [--slow] [--only NAME,...]  rerun, rewrite the README's blocks
//   node scripts/readme-results.mjs --lint      every block has a renderer and its commands quoted (runs nothing; npm test)
//   (npm run readme:check / npm run readme:update build first)
//
// Each generated block in the README sits between two HTML comments (invisible when rendered):
//   <!-- results NAME: COMMAND [; COMMAND ...] -->   (or `results NAME (slow): …` for long commands)
//   …generated text…
//   <!-- /results -->
// The script runs each COMMAND from the repository root as written (adding `--json`, which changes
// what is printed, not what is computed), and RENDER[NAME] turns the outputs into the block. Every
// COMMAND must also be quoted in the README's text just above its block or inside it, so that what
// a reader reruns is what is checked. Slow blocks (training runs of minutes) run only with --slow.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const readmePath = path.join(root, 'README.md');
const args = process.argv.slice(2);
const mode = args.includes('--update') ? 'update' : args.includes('--check') ? 'check' : args.includes('--lint') ? 'lint' : undefined;
const slow = args.includes('--slow');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',')) : undefined;
if (!mode) {
  console.error('usage: node scripts/readme-results.mjs --check|--update|--lint [--slow] [--only NAME,...]');
  process.exit(2);
}

// ---- formatting (as the README prints numbers) ----

/** Two significant digits: 4.9e-8, 0.12, 1.6, 27, 5.6e+8 → 5.6e8. */
const sig = (x, d = 2) => {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-2 || a >= 1e4) return x.toExponential(d - 1).replace('e+', 'e');
  return String(Number(x.toPrecision(d)));
};
const fixed = (x, d) => x.toFixed(d);
/** −0.028 with a real minus sign. */
const signed = (s) => s.replace(/^-/, '−');
const MiB = 2 ** 20;
const label = (m) => ({ CG_RBP: 'CG-RBP', Neumann_RBP: 'Neumann-RBP' })[m] ?? m;
const list = (xs) => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`);
const lastOf = (events, type, pred = () => true) => events.filter((e) => e.type === type && pred(e)).at(-1);

// ---- renderers: the command outputs (parsed JSON: a report, or a run's events) → the block ----

const RENDER = {
  /** The Hopfield gradient check: every method against exact and BPTT, peak memory. */
  'gradcheck-hopfield': ([r]) => {
    const rows = r.rows.map((x) => `| ${label(x.method)} | ${x.K ?? '-'} | ${sig(x.relErrExact)} | ${sig(x.relErrBptt)} | ${fixed(x.cosBptt, 6)} | ${fixed(x.peakBytes / MiB, 1)} |`);
    return [
      '| method | K | rel err vs exact | rel err vs BPTT | cos vs BPTT | peak MiB |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      `At these weights ρ(J) = ${fixed(r.rho, 3)} and the forward pass is below a relative residual of ${r.forward.tol} after ${r.forward.stepsToTol} of its ${r.forward.steps} steps.`,
    ];
  },
  /** Peak tensor memory of TBPTT and Neumann-RBP per K on Hopfield. */
  'memory-hopfield': ([r]) => {
    const peaks = (m) => r.rows.filter((x) => x.method === m).map((x) => fixed(x.peakBytes / MiB, 1));
    const n = peaks('Neumann_RBP');
    const flat = new Set(n).size === 1 ? `${n[0]} MiB at K = ${list(r.Ks.map(String))} (flat)` : `${n.join(' → ')} MiB at K = ${list(r.Ks.map(String))}`;
    return [`Neumann-RBP's peak tensor memory is ${flat}; TBPTT's grows ${peaks('TBPTT').join(' → ')} MiB.`];
  },
  /** Training table of the five methods (scripts/hopfield-table.mjs --json). */
  'hopfield-training': ([t]) => [
    "| method | train L1, first 10 steps | train L1, last 10 steps | eval L1 (clean) | retrieval bit error | nearest pattern | the authors' log10 L1 (binarised vs corrupted) |",
    '|---|---|---|---|---|---|---|',
    `| (untrained W) | | | ${fixed(t.rows[0].untrainedL1, 3)} | ${fixed(t.rows[0].untrainedBitErr, 3)} | | ${fixed(t.rows[0].untrainedAuthors, 3)} |`,
    ...t.rows.map((x) => `| ${label(x.m)} | ${fixed(x.first10, 3)} | ${fixed(x.last10, 3)} | ${fixed(x.evalL1, 3)} | ${fixed(x.bitErr, 3)} | ${x.nearest}/10 | ${fixed(x.authors, 3)} |`),
  ],
  /** The 2000-step Neumann-RBP training run: retrieval every 500 steps. */
  'hopfield-2000': ([events]) => {
    // Evaluations before the first step (step 0) and after every 500th (steps 499, 999, …).
    const [first, ...later] = events.filter((e) => e.type === 'metrics' && e.kind === 'eval');
    const last = later.at(-1).values;
    return [
      `Neumann-RBP brings the retrieval bit error from ${fixed(first.values.retrieval_bit_err, 3)} to ${later.map((e, i) => `${fixed(e.values.retrieval_bit_err, 3)} (${e.step + 1}${i === 0 ? ' steps' : ''})`).join(', ')},`,
      `and the nearest stored pattern is recovered for ${last.retrieval_nearest_ok} of the 10 corrupted digits (${first.values.retrieval_nearest_ok} untrained).`,
    ];
  },
  /** The Cora gradient check at K = 5 and BPTT's first gradient at T = 10 and 100. */
  'gradcheck-cora': ([r]) => {
    const cos = r.rows.filter((x) => x.K !== null).map((x) => x.cosBptt);
    const [lo, hi] = [Math.min(...cos), Math.max(...cos)];
    return [
      `At the authors' initialisation ρ(J) = ${fixed(r.rho, 2)} and the forward pass does not converge (relative residual ${sig(r.forward.finalRel)} after ${r.forward.steps} steps).`,
      `${list(r.rows.filter((x) => x.K !== null).map((x) => label(x.method)))} at K = ${r.Ks.join(', ')} have cosines ${signed(fixed(lo, 3))} to ${signed(fixed(hi, 3))} with BPTT.`,
      `The verdict: "${r.verdict.message.split(' (')[0]}".`,
    ];
  },
  'cora-bptt-norm': (runs) => {
    const norm = (events) => [lastOf(events, 'run/started').T, lastOf(events, 'metrics', (e) => e.kind === 'train').values.grad_norm];
    const [[t1, n1], [t2, n2]] = runs.map(norm);
    return [`BPTT's first gradient has norm ${sig(n1)} at T = ${t1} and ${sig(n2)} at T = ${t2}.`];
  },
  /** Neumann-RBP training on Cora. */
  'cora-training': ([events]) => {
    const s = lastOf(events, 'run/finished').summary;
    const best = events.find((e) => e.type === 'metrics' && e.kind === 'eval' && e.step === s.best_val_epoch)?.values;
    return [`Neumann-RBP reaches train accuracy ${fixed(best.train_acc, 2)}, best validation accuracy ${fixed(s.best_val_acc, 2)} and test accuracy ${fixed(s.test_acc_at_best_val, 2)} at its best validation epoch (${s.best_val_epoch}).`];
  },
  /** The hypergradient check with the full-set and the minibatch last step. */
  'gradcheck-hypergrad': ([full, mini]) => {
    const cos = (r, m) => fixed(r.rows.find((x) => x.method === m && x.K !== null).cosBptt, 3);
    return [
      `The cosine with the BPTT meta-gradient is ${cos(full, 'TBPTT')} for TBPTT, ${cos(full, 'Neumann_RBP')} for Neumann-RBP, ${cos(full, 'RBP')} for RBP and ${cos(full, 'CG_RBP')} for CG-RBP with the authors' full-set last step (K = ${full.Ks.join(', ')}, T = ${full.T}),`,
      `and ${cos(mini, 'Neumann_RBP')} for Neumann-RBP with the minibatch last step.`,
      `ρ(J) = ${fixed(full.rho, 3)}: the inner training does not reach a fixed point, so \`exact\` ${full.exactConverged ? 'converges anyway' : 'does not converge'} and the verdict says so.`,
    ];
  },
  /**
   * A Hopfield run of a few hundred steps, then the gradient check at its last checkpoint: error vs
   * K per method, Neumann-RBP(K) against TBPTT(K+1) (their gradients are compared through their
   * errors against exact), memory vs K.
   */
  'gradcheck-hopfield-trained': ([train, r]) => {
    const done = train.find((e) => e.type === 'run/finished');
    const at = (m, K) => r.rows.find((x) => x.method === m && x.K === K);
    const methods = ['TBPTT', 'RBP', 'CG_RBP', 'Neumann_RBP'];
    const rows = r.Ks.map((K) => `| ${K} | ${methods.map((m) => sig(at(m, K).relErrExact)).join(' | ')} | ${methods.map((m) => fixed(at(m, K).peakBytes / MiB, 1)).join(' | ')} |`);
    const pairs = r.Ks.filter((K) => r.Ks.includes(K + 1) || at('TBPTT', K + 1)).map((K) => `Neumann-RBP(${K}) ${sig(at('Neumann_RBP', K).relErrExact)} vs TBPTT(${K + 1}) ${sig(at('TBPTT', K + 1).relErrExact)}`);
    const t5 = at('TBPTT', 5).relErrExact;
    const t40 = at('TBPTT', 40).relErrExact;
    return [
      `Training: ${done.summary.final_loss !== undefined ? `final loss ${sig(done.summary.final_loss)}, ` : ''}${(done.elapsedMs / 60000).toFixed(1)} min. At step ${r.from.step}: ρ(J) = ${fixed(r.rho, 3)}; the forward pass ${r.forward.stepsToTol !== null ? `is below a relative residual of ${r.forward.tol} after ${r.forward.stepsToTol} of its ${r.forward.steps} steps` : `does not reach ${r.forward.tol} in ${r.forward.steps} steps`}; exact ${r.exactConverged ? 'converged' : 'did not converge'}.`,
      '',
      '| K | TBPTT | RBP | CG-RBP | Neumann-RBP | peak MiB TBPTT | RBP | CG-RBP | Neumann-RBP |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Relative error against exact. TBPTT(5) / TBPTT(40) = ${sig(t5 / t40)}.${pairs.length ? ` ${pairs.join('; ')}.` : ''}`,
    ];
  },
  /**
   * The hypergradient experiment after a few dozen meta-iterations, then the gradient check at its
   * last checkpoint. The inner SGD has no fixed point there (ρ(J) ≥ 1, exact does not converge), so
   * the reference is BPTT: the meta-gradient through all T steps.
   */
  'gradcheck-hypergrad-trained': ([train, r]) => {
    const done = train.find((e) => e.type === 'run/finished');
    const at = (m, K) => r.rows.find((x) => x.method === m && x.K === K);
    const bptt = r.rows.find((x) => x.method === 'BPTT');
    const methods = ['TBPTT', 'RBP', 'CG_RBP', 'Neumann_RBP'];
    const rows = r.Ks.map((K) => `| ${K} | ${methods.map((m) => sig(at(m, K).relErrBptt)).join(' | ')} | ${methods.map((m) => signed(fixed(at(m, K).cosBptt, 2))).join(' | ')} | ${fixed(at('TBPTT', K).peakBytes / MiB, 1)} | ${fixed(at('Neumann_RBP', K).peakBytes / MiB, 1)} |`);
    const pairs = r.Ks.filter((K) => r.Ks.includes(K + 1)).map((K) => `Neumann-RBP(${K}) ${sig(at('Neumann_RBP', K).relErrBptt)} vs TBPTT(${K + 1}) ${sig(at('TBPTT', K + 1).relErrBptt)}`);
    return [
      `Training: final meta-loss ${sig(done.summary.final_loss)}, ${(done.elapsedMs / 60000).toFixed(1)} min. At meta-iteration ${r.from.step}: ρ(J) = ${fixed(r.rho, 3)}; the inner training ${r.forward.stepsToTol !== null ? `reaches a relative residual of ${r.forward.tol} after ${r.forward.stepsToTol} steps` : `does not reach a fixed point (relative residual ${sig(r.forward.finalRel)} after its ${r.forward.steps} steps)`}; exact ${r.exactConverged ? 'converged' : 'did not converge'}, so the reference is BPTT (peak ${fixed(bptt.peakBytes / MiB, 1)} MiB; exact's own error vs BPTT ${sig(r.rows.find((x) => x.method === 'exact').relErrBptt)}).`,
      '',
      '| K | rel err vs BPTT: TBPTT | RBP | CG-RBP | Neumann-RBP | cos vs BPTT: TBPTT | RBP | CG-RBP | Neumann-RBP | peak MiB TBPTT | Neumann-RBP |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Peak MiB of RBP and CG-RBP: ${list([...new Set(r.rows.filter((x) => x.method === 'RBP' || x.method === 'CG_RBP').map((x) => fixed(x.peakBytes / MiB, 1)))])}.${pairs.length ? ` ${pairs.join('; ')}.` : ''}`,
    ];
  },
};

// ---- running the commands ----

/** Run one README command (node …) from the repository root with --json; its parsed output. */
function run(command) {
  const argv = command.trim().split(/\s+/);
  if (argv[0] !== 'node') throw new Error(`README command '${command}': only 'node …' commands are run`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...argv.slice(1), '--json'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '1' } });
  if (r.status !== 0) throw new Error(`'${command}' exited with ${r.status}:\n${r.stderr.split('\n').slice(-10).join('\n')}`);
  console.error(`  ran '${command}' in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const out = r.stdout.trim();
  // A report is one JSON document; a training run prints one event per line.
  try {
    return JSON.parse(out);
  } catch {
    return out.split('\n').map((l) => JSON.parse(l));
  }
}

// ---- the README's blocks ----

const MARK = /<!-- results ([\w-]+)( \(slow\))?: (.+?) -->\n([\s\S]*?)<!-- \/results -->/g;
let readme = fs.readFileSync(readmePath, 'utf8');
const blocks = [...readme.matchAll(MARK)].map((m) => ({ name: m[1], slow: Boolean(m[2]), commands: m[3].split(' ; '), body: m[4], index: m.index, length: m[0].length, head: m[0].slice(0, m[0].indexOf('\n') + 1) }));
if (!blocks.length) throw new Error('README.md has no <!-- results … --> blocks');

let changed = 0;
let skipped = 0;
let checked = 0;
const problems = [];
const replacements = [];
for (const b of blocks) {
  if (only && !only.has(b.name)) continue;
  if (!RENDER[b.name]) {
    problems.push(`${b.name}: no renderer in scripts/readme-results.mjs`);
    continue;
  }
  // What a reader reruns is what is checked: each command is quoted in the text above or in the block.
  const context = readme.slice(Math.max(0, b.index - 1500), b.index) + b.body;
  for (const c of b.commands) if (!context.includes(`\`${c}\``)) problems.push(`${b.name}: the command '${c}' is not quoted in the README next to its block`);
  if (mode === 'lint') continue;
  if (b.slow && !slow) {
    console.log(`· ${b.name} (slow): not rerun (add --slow)`);
    skipped++;
    continue;
  }
  console.error(`${b.name}:`);
  checked++;
  const body = `${RENDER[b.name](b.commands.map(run)).join('\n')}\n`;
  if (body === b.body) {
    console.log(`✓ ${b.name}: as its command prints`);
    continue;
  }
  changed++;
  const was = b.body.split('\n');
  const now = body.split('\n');
  console.log(`✗ ${b.name}: ${mode === 'update' ? 'rewritten' : 'differs from what its command prints'}`);
  for (const l of was) if (l && !now.includes(l)) console.log(`    - ${l}`);
  for (const l of now) if (l && !was.includes(l)) console.log(`    + ${l}`);
  replacements.push({ name: b.name, body });
}
for (const p of problems) console.log(`✗ ${p}`);
if (mode === 'update' && replacements.length) {
  // Reread: the README may have been edited while the commands ran; only the blocks change.
  const now = new Map(replacements.map((r) => [r.name, r.body]));
  readme = fs.readFileSync(readmePath, 'utf8').replace(MARK, (all, name, _slow, _commands, _body) => (now.has(name) ? `${all.slice(0, all.indexOf('\n') + 1)}${now.get(name)}<!-- /results -->` : all));
  fs.writeFileSync(readmePath, readme);
}
console.log(`${blocks.length} blocks, ${checked} rerun: ${changed} ${mode === 'update' ? 'rewritten' : 'changed'}, ${skipped} slow not rerun${problems.length ? `, ${problems.length} problems` : ''}`);
process.exit(problems.length || (mode === 'check' && changed) ? 1 : 0);
