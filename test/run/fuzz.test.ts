/**
 * Fuzzing the two readers of untrusted files — the config loader and the Planetoid pickle reader —
 * over random mutations of the real files (configs/*.yaml and the Cora pickles in ../shared).
 * Bounded: a fixed count from a fixed seed (RBP_FUZZ_SEED varies it), run in a child process with
 * a 256 MB V8 heap and a time limit, so a blow-up fails the test instead of taking the runner
 * down; a few of the refused inputs then go through the built CLI end to end.
 *
 * Each mutation must give a result or the reader's own error naming the file (ConfigError with
 * file:line:column on every line, RunError 'bad-config', PickleError / PlanetoidError) — never
 * another exception, a polluted prototype, a file written, or a payload run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Rng } from '../../src/core/random';
import { loadConfigFile, ConfigError } from '../../src/config/load';
import { checkRequest } from '../../src/run/resolve';
import { RunError } from '../../src/experiments/types';
import { loadPickle, PickleError, toAdjacency, toDense2D } from '../../src/experiments/citation-gnn/pickle';
import { loadPlanetoid, PlanetoidError } from '../../src/experiments/citation-gnn/planetoid';
import { readRun } from '../../src/run/recorder';
import { repoRoot, planetoidDir, coraSkip } from '../helpers/setup';

const SEED = Number(process.env.RBP_FUZZ_SEED ?? 20261204);
export const CONFIG_MUTATIONS = 300;
export const PICKLE_MUTATIONS = 300;
export const PLANETOID_MUTATIONS = 12;
const cli = path.join(repoRoot, 'dist', 'cli.js');
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/;

// ---- mutations ----

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];

/** Snippets a hostile config might carry: payload tags, prototype names, aliases, huge or odd values. */
function hostileSnippets(marker: string): string[] {
  return [
    '__proto__: {polluted: 1}\n',
    'constructor:\n  prototype: {polluted: 1}\n',
    'model:\n  __proto__:\n    polluted: 1\n  toString: 1\n',
    `x: !!js/function "function () { require('fs').writeFileSync('${marker}', 'x') }"\n`,
    `model: !!python/object/apply:os.system ["touch ${marker}"]\n`,
    // An alias bomb: 8^6 strings if expanded.
    ['a0: &a0 [x, x, x, x, x, x, x, x]', ...[1, 2, 3, 4, 5, 6].map((k) => `a${k}: &a${k} [${Array(8).fill(`*a${k - 1}`).join(', ')}]`)].join('\n') + '\n',
    '<<: *nosuch\n',
    'seed: 99999999999999999999\n',
    '  num_update: 1e309\n',
    '  num_update: .nan\n',
    '  mlp_hidden: [784, -1, 10]\n',
    '  hidden_dim: 100000000\n',
    `  lr_decay_steps: [${Array(3000).fill('1').join(', ')}]\n`,
    'train:\n  lr: !!binary AAAA\n',
    '\u0000\u001b[2J\u009b31m\u202e: 1\n',
    '%YAML 1.1\n---\n',
    '? [a, b]\n: c\n',
    'exp_name: ' + 'x'.repeat(5000) + '\n',
  ];
}

const CHARS = [...'abcz019:-[]{}&*!|>"\'#%@`,.?~ \t\n', '\u0000', '\u0007', '\u001b', '\u009b', '\u202e', 'é', '🙂'];

export function mutateConfig(text: string, rng: Rng, marker: string): string {
  let t = text;
  const ops = 1 + rng.int(3);
  for (let o = 0; o < ops; o++) {
    const lines = t.split('\n');
    const at = rng.int(Math.max(1, t.length));
    switch (rng.int(9)) {
      case 0: // replace a character
        t = t.slice(0, at) + pick(rng, CHARS) + t.slice(at + 1);
        break;
      case 1: // insert characters
        t = t.slice(0, at) + Array.from({ length: 1 + rng.int(4) }, () => pick(rng, CHARS)).join('') + t.slice(at);
        break;
      case 2: // insert a hostile snippet at a line start
        lines.splice(rng.int(lines.length + 1), 0, pick(rng, hostileSnippets(marker)).replace(/\n$/, ''));
        t = lines.join('\n');
        break;
      case 3: // delete a line
        lines.splice(rng.int(lines.length), 1);
        t = lines.join('\n');
        break;
      case 4: // duplicate a line
        {
          const i = rng.int(lines.length);
          lines.splice(i, 0, lines[i]);
          t = lines.join('\n');
        }
        break;
      case 5: // re-indent a line
        {
          const i = rng.int(lines.length);
          lines[i] = rng.int(2) ? `  ${lines[i]}` : lines[i].replace(/^ {1,2}/, '');
          t = lines.join('\n');
        }
        break;
      case 6: // truncate
        t = t.slice(0, at);
        break;
      case 7: // a value replaced by an extreme one
        t = t.replace(/: [^\n]+/, (m) => (rng.int(4) === 0 ? m : `: ${pick(rng, ['-1', '0', '1e400', '2147483648', '[]', '{}', 'null', '~', '"', "'a", '*x', '&x', '-', '[1, [2, [3]]]'])}`));
        break;
      default: // repeat the whole text (size)
        t = t.repeat(2 + rng.int(rng.int(8) === 0 ? 120 : 4));
    }
  }
  return t;
}

/** Byte-level mutations of a pickle: flips, big lengths, inserted opcode runs, cut or repeated slices. */
export function mutatePickle(buf: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(buf);
  const ops = 1 + rng.int(3);
  for (let o = 0; o < ops; o++) {
    const at = rng.int(Math.max(1, b.length));
    switch (rng.int(8)) {
      case 7: // after the header: a list of 20,000 copied 5,000 times with the allowed list() (10^8 values from 70 KB)
        b = Buffer.concat([b.subarray(0, 2), Buffer.from('c__builtin__\nlist\nq\xfe(', 'latin1'), Buffer.alloc(40000, 'K\x00', 'latin1'), Buffer.from('lq\xff', 'latin1'), Buffer.alloc(30000, 'h\xfeh\xff\x85R', 'latin1'), b.subarray(2)]);
        break;
      case 0: // flip bytes (anywhere: header, opcodes, raw data)
        for (let k = 0, n = 1 + rng.int(8); k < n; k++) b[rng.int(b.length)] = rng.int(256);
        break;
      case 1: // a 32-bit field (a length, a shape, a memo index) set to an extreme
        if (b.length >= at + 4) b.writeUInt32LE(pick(rng, [0xffffffff, 0x7fffffff, 0x80000000, 0x10000000, 0, 1, 1433 * 1000]), at);
        break;
      case 2: // insert an opcode run
        b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(rng, ['(', 'N'.repeat(64), '\x85'.repeat(2000), ')', ']', '}', 'h\x00h\x01\x85R', 'c__builtin__\nlist\n', 'cos\nsystem\n', 'q\xff', '\x8b\xff\xff\xff\x7f', 'X\xff\xff\xff\x7f', '.']), 'latin1'), b.subarray(at)]);
        break;
      case 3: // delete a slice
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(64)))]);
        break;
      case 4: // duplicate a slice in place
        {
          const s = b.subarray(at, Math.min(b.length, at + 1 + rng.int(256)));
          b = Buffer.concat([b.subarray(0, at), s, s, b.subarray(at + s.length)]);
        }
        break;
      case 5: // truncate
        b = b.subarray(0, at);
        break;
      default: // a random byte inserted
        b = Buffer.concat([b.subarray(0, at), Buffer.from([rng.int(256)]), b.subarray(at)]);
    }
  }
  return b;
}

// ---- the child: many mutations in one bounded process ----

interface FuzzReport {
  tried: number;
  accepted: number;
  refused: number;
  failures: string[];
  maxRssMB: number;
}

function configChild(dir: string): FuzzReport {
  const marker = path.join(dir, 'PAYLOAD-RAN');
  const rng = new Rng(SEED);
  const sources = fs.readdirSync(path.join(repoRoot, 'configs')).filter((f) => f.endsWith('.yaml')).map((f) => fs.readFileSync(path.join(repoRoot, 'configs', f), 'utf8'));
  const r: FuzzReport = { tried: 0, accepted: 0, refused: 0, failures: [], maxRssMB: 0 };
  const toString = Object.prototype.toString;
  for (let i = 0; i < CONFIG_MUTATIONS; i++) {
    const file = path.join(dir, `m${i}.yaml`);
    const text = mutateConfig(pick(rng, sources), rng, marker);
    fs.writeFileSync(file, text);
    r.tried++;
    try {
      loadConfigFile(file);
      checkRequest({ experiment: file, backend: 'wasm' });
      r.accepted++;
    } catch (err) {
      r.refused++;
      if (err instanceof ConfigError) {
        const bad = err.message.split('\n').find((l) => !l.startsWith(`${file}:`) || !/^[^:]+:\d+:\d+: \S/.test(l));
        if (bad !== undefined) r.failures.push(`m${i}: a line without file:line:column: ${JSON.stringify(bad.slice(0, 200))}`);
      } else if (!(err instanceof RunError && err.kind === 'bad-config')) {
        r.failures.push(`m${i}: ${String(err).slice(0, 300)}`);
      }
    }
    if (({} as Record<string, unknown>).polluted !== undefined || Object.prototype.toString !== toString) r.failures.push(`m${i}: Object.prototype was changed`);
    if (fs.existsSync(marker)) r.failures.push(`m${i}: a payload ran`);
    fs.rmSync(file);
  }
  r.maxRssMB = process.resourceUsage().maxRSS / 1024;
  return r;
}

function pickleChild(dir: string): FuzzReport {
  const rng = new Rng(SEED);
  const names = ['x', 'y', 'tx', 'ty', 'allx', 'ally', 'graph'];
  const files = new Map(names.map((s) => [s, fs.readFileSync(path.join(planetoidDir, `ind.cora.${s}`))]));
  const r: FuzzReport = { tried: 0, accepted: 0, refused: 0, failures: [], maxRssMB: 0 };
  const ownError = (err: unknown, name: string, i: number, cls: typeof PickleError | typeof PlanetoidError) => {
    if (!(err instanceof cls)) r.failures.push(`p${i} ${name}: ${String(err).slice(0, 300)}`);
    else if (!err.message.startsWith(`${name}`)) r.failures.push(`p${i} ${name}: the error does not name the file: ${err.message.slice(0, 200)}`);
  };
  for (let i = 0; i < PICKLE_MUTATIONS; i++) {
    const s = pick(rng, names);
    const name = `ind.cora.${s}`;
    const buf = mutatePickle(files.get(s)!, rng);
    r.tried++;
    try {
      const v = loadPickle(buf, name);
      if (s === 'graph') toAdjacency(v, name);
      else toDense2D(v, name);
      r.accepted++;
    } catch (err) {
      r.refused++;
      ownError(err, name, i, PickleError);
    }
  }
  // The whole loader on a copy of the data with one mutated file: PlanetoidError or data.
  const data = path.join(dir, 'cora');
  fs.mkdirSync(data);
  for (const f of fs.readdirSync(planetoidDir)) if (f.startsWith('ind.cora.')) fs.copyFileSync(path.join(planetoidDir, f), path.join(data, f));
  for (let i = 0; i < PLANETOID_MUTATIONS; i++) {
    const s = pick(rng, [...names, 'test.index']);
    const orig = path.join(planetoidDir, `ind.cora.${s}`);
    const target = path.join(data, `ind.cora.${s}`);
    fs.chmodSync(target, 0o644);
    fs.writeFileSync(target, s === 'test.index' ? mutateConfig(fs.readFileSync(orig, 'utf8'), rng, path.join(dir, 'PAYLOAD-RAN')) : mutatePickle(fs.readFileSync(orig), rng));
    r.tried++;
    try {
      loadPlanetoid(data, 'cora');
      r.accepted++;
    } catch (err) {
      r.refused++;
      ownError(err, `ind.cora.`, i, PlanetoidError);
    }
    fs.copyFileSync(orig, target);
  }
  r.maxRssMB = process.resourceUsage().maxRSS / 1024;
  return r;
}

const CHILD = process.env.RBP_FUZZ_CHILD;
if (CHILD) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rbp-fuzz-${CHILD}-`));
  const report = CHILD === 'config' ? configChild(dir) : pickleChild(dir);
  process.stdout.write(JSON.stringify(report) + '\n');
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

/** Run one fuzz kind in a child with a 256 MB V8 heap and a time limit; its report. */
function fuzzInChild(kind: 'config' | 'pickle'): FuzzReport {
  const r = spawnSync(process.execPath, ['--max-old-space-size=256', __filename], { env: { ...process.env, RBP_FUZZ_CHILD: kind }, encoding: 'utf8', timeout: 240000, maxBuffer: 2 ** 24 });
  assert.equal(r.signal, null, `the ${kind} fuzz child was killed (${r.signal}): over its time limit\n${r.stderr.slice(-2000)}`);
  assert.equal(r.status, 0, `the ${kind} fuzz child failed (a 256 MB heap exhausted?):\n${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as FuzzReport;
}

// Without the Cora files a local run skips the pickle fuzz (and the CLI test leaves out its Cora
// folders); a CI run fails (coraSkip). Before, only ind.cora.graph was looked for and CI skipped silently.
const skipCora = coraSkip();
const HAVE_DATA = !skipCora;

if (!CHILD) {
  test(`config loader: ${CONFIG_MUTATIONS} mutations of configs/*.yaml give a config or one error per problem with file:line:column; nothing polluted, run or written; heap bounded`, () => {
    const r = fuzzInChild('config');
    assert.deepEqual(r.failures, [], `seed ${SEED}`);
    assert.equal(r.tried, CONFIG_MUTATIONS);
    assert.ok(r.refused > CONFIG_MUTATIONS / 3, `most mutations are refused (${r.refused}), so the checks above were exercised`);
    assert.ok(r.maxRssMB < 1024, `peak RSS ${r.maxRssMB.toFixed(0)} MB`);
  });

  test(`pickle reader: ${PICKLE_MUTATIONS} mutations of the Cora pickles and ${PLANETOID_MUTATIONS} of a Cora folder give data or a PickleError / PlanetoidError naming the file; heap bounded`, { skip: skipCora }, () => {
    const r = fuzzInChild('pickle');
    assert.deepEqual(r.failures, [], `seed ${SEED}`);
    assert.equal(r.tried, PICKLE_MUTATIONS + PLANETOID_MUTATIONS);
    assert.ok(r.refused > r.tried / 3, `most mutations are refused (${r.refused})`);
    assert.ok(r.maxRssMB < 2048, `peak RSS ${r.maxRssMB.toFixed(0)} MB`);
  });

  test('refused mutations through the CLI: exit 2, one escaped line per problem, nothing written outside the run\'s own new folder, no process left', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-fuzz-cli-'));
    const work = path.join(root, 'cwd');
    fs.mkdirSync(work);
    const marker = path.join(root, 'PAYLOAD-RAN');
    const rng = new Rng(SEED + 1);
    const sources = ['hopfield', 'cora', 'hypergrad'].map((n) => fs.readFileSync(path.join(repoRoot, 'configs', `${n}.yaml`), 'utf8'));
    // Mutated configs the loader refuses (found in-process, cheaply), each then run by the CLI.
    const inputs: { args: string[]; file: string }[] = [];
    for (let i = 0; inputs.length < 6 && i < 500; i++) {
      const file = path.join(root, `c${i}.yaml`);
      fs.writeFileSync(file, mutateConfig(pick(rng, sources), rng, marker));
      try {
        loadConfigFile(file);
        checkRequest({ experiment: file, backend: 'wasm' });
        fs.rmSync(file);
      } catch {
        inputs.push({ args: ['run', file, '--steps', '1', '--backend', 'wasm', '--out', path.join(root, `rec-c${i}`)], file });
      }
    }
    // A Cora folder with a mutated pickle the loader refuses: the run is recorded as failed in its own folder.
    const dataDirs: string[] = [];
    if (HAVE_DATA) {
      for (let i = 0; dataDirs.length < 2 && i < 200; i++) {
        const s = pick(rng, ['y', 'ty', 'graph', 'tx']);
        const buf = mutatePickle(fs.readFileSync(path.join(planetoidDir, `ind.cora.${s}`)), rng);
        try {
          const v = loadPickle(buf, s);
          if (s === 'graph') toAdjacency(v, s);
          else toDense2D(v, s);
          continue;
        } catch {
          const data = path.join(root, `data${i}`);
          fs.mkdirSync(data);
          for (const f of fs.readdirSync(planetoidDir)) if (f.startsWith('ind.cora.')) fs.copyFileSync(path.join(planetoidDir, f), path.join(data, f));
          fs.chmodSync(path.join(data, `ind.cora.${s}`), 0o644);
          fs.writeFileSync(path.join(data, `ind.cora.${s}`), buf);
          dataDirs.push(data);
          inputs.push({ args: ['run', 'cora', '--data', data, '--steps', '1', '--backend', 'wasm', '--out', path.join(root, `rec-data${i}`)], file: `ind.cora.${s}` });
        }
      }
    }
    assert.ok(inputs.length >= 6, `refused mutations found: ${inputs.length}`);
    const listing = (): string[] => {
      const out: string[] = [];
      const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          out.push(`${p}:${e.isDirectory() ? 'dir' : fs.statSync(p).size}`);
          if (e.isDirectory()) walk(p);
        }
      };
      walk(root);
      return out.sort();
    };
    for (const { args, file } of inputs) {
      const before = listing();
      const out = args[args.indexOf('--out') + 1];
      const child = spawn(process.execPath, ['--max-old-space-size=512', cli, ...args], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      clearTimeout(timer);
      assert.equal(code, 2, `${args.join(' ')}\n${stderr}`);
      const lines = stderr.trim().split('\n');
      assert.ok(lines[0].startsWith('rbp: '), stderr);
      assert.doesNotMatch(stderr, CONTROL, 'escaped');
      assert.doesNotMatch(stderr, /internal error|\n\s+at /);
      if (args[1] !== 'cora') {
        // A config: every line names the file with line and column; the request is refused before any folder is made.
        for (const l of lines) assert.match(l.replace(/^rbp: /, ''), new RegExp(`^${file.replace(/[/.]/g, '\\$&')}:\\d+:\\d+: `), l);
        assert.deepEqual(listing(), before, 'nothing written');
      } else {
        assert.equal(lines.length, 1, stderr);
        assert.match(lines[0], new RegExp(file.replace(/\./g, '\\.')));
        // Only the run's own new folder appeared, and it says why the run failed.
        const added = listing().filter((l) => !before.includes(l));
        assert.ok(added.every((l) => l.startsWith(`${out}`)), added.join('\n'));
        assert.equal(readRun(out).description?.status, 'failed');
      }
      assert.deepEqual(fs.readdirSync(work), [], 'nothing in the working directory');
    }
    // No process of ours is left (each child exited; nothing it started outlives it).
    const left = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(root);
      } catch {
        return false;
      }
    });
    assert.deepEqual(left, []);
    assert.equal(fs.existsSync(marker), false, 'no payload ran');
  });
}
