// The .vsix holds what the extension needs and nothing else: the four bundles, the wasm binaries,
// the webview's css and codicons, configs/, media/ — and no sources, tests, maps or node_modules.
//   node test/e2e/vsix-contents.mjs            packs with `vsce package` into a temp dir, then checks
//   node test/e2e/vsix-contents.mjs x.vsix     checks an existing package
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** File names in a zip, from its central directory. */
export function zipEntries(file) {
  const buf = fs.readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const names = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory');
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    names.push(buf.toString('utf8', p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

/** Throws with every problem found; returns the extension's file list. */
export function checkVsix(file) {
  const files = zipEntries(file)
    .filter((f) => f.startsWith('extension/'))
    .map((f) => f.slice('extension/'.length));
  const problems = [];
  const required = ['package.json', 'dist/extension.js', 'dist/worker.js', 'dist/webview.js', 'dist/cli.js', 'dist/webview.css', 'dist/codicon.css', 'dist/codicon.ttf', 'dist/tfjs-backend-wasm.wasm', 'dist/tfjs-backend-wasm-simd.wasm', 'dist/tfjs-backend-wasm-threaded-simd.wasm', 'dist/tfjs-backend-wasm-threaded-simd.js', 'dist/tfjs-backend-wasm-threaded-simd.worker.js', 'dist/mnist-digits.bin', 'media/rbp-lab.svg', 'schemas/rbp-config.schema.json', 'native/gpu/package.json', 'native/gpu/package-lock.json', 'native/webgpu/package.json', 'native/webgpu/package-lock.json', 'templates/deq-two-moons/deq_two_moons.mjs', 'templates/deq-two-moons/deq_two_moons.rbp.yaml', 'dist/types/model.d.ts'];
  for (const f of required) if (!files.includes(f)) problems.push(`missing ${f}`);
  const configs = fs.existsSync(path.join(repo, 'configs')) ? fs.readdirSync(path.join(repo, 'configs')).filter((f) => /\.ya?ml$/.test(f)) : [];
  for (const c of configs) if (!files.includes(`configs/${c}`)) problems.push(`missing configs/${c}`);
  if (!configs.length) problems.push('configs/ has no .yaml files to ship');
  const forbidden = [/^src\//, /^test\//, /^webview\//, /^out\//, /^bench\//, /^scripts\//, /^node_modules\//, /\.map$/, /(?<!\.d)\.ts$/, /^\.ci\//, /^tmp\//, /^test-results\//, /^\.rbp-lab\//, /tsconfig/, /eslint/];
  for (const f of files) if (forbidden.some((re) => re.test(f))) problems.push(`should not ship ${f}`);
  if (problems.length) throw new Error(`${path.basename(file)}:\n  ${problems.join('\n  ')}`);
  return files;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let file = process.argv[2];
  if (!file) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-vsix-'));
    file = path.join(dir, 'rbp-lab.vsix');
    execFileSync(process.execPath, [path.join(repo, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--out', file], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  try {
    const files = checkVsix(file);
    console.log(`vsix ok: ${files.length} files, ${(fs.statSync(file).size / 1e6).toFixed(1)} MB\n  ${files.join('\n  ')}`);
  } catch (err) {
    console.error(`vsix check failed: ${err.message}`);
    process.exit(1);
  }
}
