// The cost of gradient probes and checkpoints during training (npm run bench:probe, after a build).
//
//   node bench/probe-cost.mjs [--steps 40] [--every 10] [--backend wasm] [--experiment hopfield]
//
// Trains the same run twice, without probes and with a probe every N steps (the same seed, so the
// same steps: probes change nothing in training), and prints the wall time of each, their ratio
// against the target (≤ 1.5× with a probe every 10 steps: PASS/MISS), each probe's own ms, and the
// time of each checkpoint write (from the recorded events: the checkpoint event's stamp minus the
// stamp of the event before it, which is the step's last). A script, not a test: nothing asserts a time.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const steps = Number(opt('steps', '40'));
const every = Number(opt('every', '10'));
const backend = opt('backend', 'wasm');
const experiment = opt('experiment', 'hopfield');
const TARGET = 1.5;

function run(probeEvery) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-probe-cost-'));
  // A checkpoint every evaluation (Hopfield: 10 epochs of 10 images = 100 steps; here every `every` steps).
  const r = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'run', experiment, '--steps', String(steps), '--backend', backend, '--probe-every', String(probeEvery), '--set', 'train.snapshot_epoch=1', '--out', out, '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`run failed (${r.status}): ${r.stderr}`);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  fs.rmSync(out, { recursive: true, force: true });
  const train = events.filter((e) => e.type === 'metrics' && e.kind === 'train');
  const stepMs = train.reduce((s, e) => s + e.values.step_ms, 0);
  const finished = events.find((e) => e.type === 'run/finished');
  const probes = events.filter((e) => e.type === 'probe');
  const ck = events.flatMap((e, i) => (e.type === 'checkpoint' ? [{ ms: e.t - events[i - 1].t, bytes: e.bytes }] : []));
  return { elapsedMs: finished.elapsedMs, stepMs, probes, ck };
}

const plain = run(0);
const probed = run(every);
const ratio = probed.elapsedMs / plain.elapsedMs;
const mean = (xs) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
console.log(`${experiment}, ${steps} steps on ${backend}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`);
console.log(`without probes: ${(plain.elapsedMs / 1000).toFixed(1)} s (gradient steps ${(plain.stepMs / 1000).toFixed(1)} s, ${(plain.stepMs / steps).toFixed(0)} ms per step)`);
console.log(`probe every ${every}: ${(probed.elapsedMs / 1000).toFixed(1)} s, ${probed.probes.length} probes of ${mean(probed.probes.map((p) => p.ms)).toFixed(0)} ms on average (${probed.probes.map((p) => p.ms.toFixed(0)).join(', ')})`);
console.log(`ratio ${ratio.toFixed(2)} (target ≤ ${TARGET}): ${ratio <= TARGET ? 'PASS' : 'MISS'}`);
const cks = [...plain.ck, ...probed.ck];
console.log(`checkpoint writes: ${cks.length}, ${(cks[0]?.bytes / 2 ** 20).toFixed(1)} MiB each, ${mean(cks.map((c) => c.ms)).toFixed(0)} ms on average (max ${Math.max(...cks.map((c) => c.ms)).toFixed(0)} ms)`);
