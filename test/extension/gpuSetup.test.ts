/**
 * "RBP Lab: Set Up GPU Backend" failure paths: npm cannot reach its registry (no network), no
 * usable Node; and how npm / loader output is explained (no CUDA, wrong Node).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { setUpGpuBackend, setUpWebgpu, nativeSearchPaths, WEBGPU_NPM, classifyNpmFailure, classifyLoadFailure, findNpm, readPin } from '../../src/extension/gpuSetup';
import { resolveNative } from '../../src/core/backend';
import { WEBGPU_PACKAGE_VERSION } from '../../src/core/webgpu';
import { findOnPath, MIN_NODE_MAJOR } from '../../src/extension/workerHost';
import { repoRoot } from '../helpers/setup';

const pinDir = path.join(repoRoot, 'native', 'gpu');

const node = findOnPath('node') ?? process.execPath;

test('install with no network fails with a clear no-network error, and its output was streamed', async () => {
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-gpu-storage-'));
  const lines: string[] = [];
  const t0 = Date.now();
  const r = await setUpGpuBackend({
    storageDir: storage,
    nodePath: node,
    pinDir,
    log: (l) => lines.push(l),
    timeoutMs: 120_000,
    env: {
      // An unreachable registry, an empty cache, no retries: what a machine without network sees.
      npm_config_registry: 'http://127.0.0.1:9/',
      npm_config_cache: path.join(storage, 'npm-cache'),
      npm_config_fetch_retries: '0',
      npm_config_fetch_timeout: '5000',
      npm_config_prefer_online: 'true',
      npm_config_update_notifier: 'false',
    },
  });
  assert.equal(r.ok, false);
  assert.equal(r.failure, 'no-network', r.message);
  assert.match(r.message, /no network/);
  assert.match(r.message, /registry/);
  assert.ok(lines.some((l) => l.includes('npm') || l.includes('install')), 'the npm command and its output are logged');
  assert.ok(!fs.existsSync(path.join(storage, 'node_modules', '@tensorflow', 'tfjs-node-gpu', 'package.json')));
  // Its install script (the libtensorflow download) is allowed for npm 11.
  const manifest = JSON.parse(fs.readFileSync(path.join(storage, 'package.json'), 'utf8'));
  assert.equal(manifest.allowScripts['@tensorflow/tfjs-node-gpu'], true);
  // What it installs is pinned: the shipped lockfile, installed with npm ci (no resolution).
  assert.equal(manifest.dependencies['@tensorflow/tfjs-node-gpu'], '4.22.0');
  assert.equal(fs.readFileSync(path.join(storage, 'package-lock.json'), 'utf8'), fs.readFileSync(path.join(pinDir, 'package-lock.json'), 'utf8'));
  assert.ok(lines.some((l) => /^\$ .* ci --prefix /.test(l)), lines.join('\n'));
  assert.ok(Date.now() - t0 < 120_000);
});

test('a Node that does not exist fails as no-node', async () => {
  const r = await setUpGpuBackend({ storageDir: fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-gpu-')), nodePath: '/nonexistent/node', pinDir, log: () => {} });
  assert.equal(r.ok, false);
  assert.equal(r.failure, 'no-node');
  assert.match(r.message, /rbpLab\.nodePath/);
});

test('npm is found next to the system node', () => {
  const npm = findNpm(node);
  assert.ok(npm, 'npm next to node or on PATH');
});

test('failures are explained: network, wrong Node, missing CUDA 11.2 / cuDNN 8', () => {
  assert.equal(classifyNpmFailure('npm error code ENOTFOUND\nnpm error network request to https://registry.npmjs.org failed').failure, 'no-network');
  const bin = classifyNpmFailure('node-pre-gyp ERR! install request to https://storage.googleapis.com/tf-builds/libtensorflow.tar.gz failed, reason: getaddrinfo EAI_AGAIN');
  assert.equal(bin.failure, 'no-network');
  assert.match(bin.message, /libtensorflow binary/);
  assert.equal(classifyNpmFailure('npm warn EBADENGINE Unsupported engine').failure, 'wrong-node');
  assert.equal(classifyNpmFailure('npm error code E404').failure, 'npm-failed');
  const cuda = classifyLoadFailure('Error: libcudart.so.11.0: cannot open shared object file: No such file or directory');
  assert.equal(cuda.failure, 'no-cuda');
  assert.match(cuda.message, /CUDA 11\.2 \/ cuDNN 8/);
  assert.equal(classifyLoadFailure('Error: The module was compiled against a different Node.js version using NODE_MODULE_VERSION 108').failure, 'wrong-node');
});

test('the GPU package is pinned: one exact version, locked with its integrity; anything looser is refused', async () => {
  const pin = readPin(pinDir);
  assert.equal(pin.version, '4.22.0');
  const lock = JSON.parse(pin.lock) as { packages: Record<string, { version?: string; integrity?: string }> };
  for (const [name, p] of Object.entries(lock.packages)) if (name) assert.ok(p.version && p.integrity, `${name} is locked with an integrity hash`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-pin-'));
  const write = (deps: Record<string, string>, lockText: string) => {
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'x', dependencies: deps }));
    fs.writeFileSync(path.join(dir, 'package-lock.json'), lockText);
  };
  // Mutant check: with the old set-up (npm install --save @4.22.0) every dependency was resolved anew.
  write({ '@tensorflow/tfjs-node-gpu': '^4.22.0' }, pin.lock);
  assert.throws(() => readPin(dir), /not pinned to one exact, locked version/);
  write({ '@tensorflow/tfjs-node-gpu': '4.21.0' }, pin.lock);
  assert.throws(() => readPin(dir), /not pinned/);
  const r = await setUpGpuBackend({ storageDir: fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-gpu-')), nodePath: node, pinDir: path.join(dir, 'nope'), log: () => {} });
  assert.equal(r.failure, 'no-pin');
});

test('a system Node older than package.json’s engines.node is refused, naming the version needed', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string } };
  assert.equal(pkg.engines.node, `>=${MIN_NODE_MAJOR}`, 'MIN_NODE_MAJOR is engines.node');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-old-node-'));
  const fake = path.join(dir, 'node');
  fs.writeFileSync(fake, '#!/bin/sh\necho "v18.19.0 linux x64"\n', { mode: 0o755 });
  const r = await setUpGpuBackend({ storageDir: dir, nodePath: fake, pinDir, log: () => undefined });
  assert.equal(r.ok, false);
  assert.equal(r.failure, 'wrong-node', r.message);
  assert.match(r.message, new RegExp(`v18\\.19\\.0 .* needs Node\\.js ${MIN_NODE_MAJOR} or later`));
});

// ---- webgpu (Dawn) through Set Up GPU Backend, without the network ----

const webgpuPin = path.join(repoRoot, 'native', 'webgpu');

test('the webgpu pin: native/webgpu locks webgpu at the version the backend asks for and the project installs', () => {
  const pin = readPin(webgpuPin, WEBGPU_NPM);
  assert.equal(pin.version, WEBGPU_PACKAGE_VERSION);
  const root = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  assert.equal(root.optionalDependencies?.webgpu ?? root.dependencies?.webgpu, pin.version);
  assert.match(JSON.parse(pin.lock).packages['node_modules/webgpu'].integrity, /^sha512-/);
  assert.throws(() => readPin(webgpuPin), /@tensorflow\/tfjs-node-gpu is not pinned/, 'each pin names its own package');
});

/** An npm stand-in (run as `node fake-npm.js ci --prefix DIR …`): records its arguments, installs a webgpu whose index.js is `body`. */
function fakeNpm(dir: string, body: string): string {
  const file = path.join(dir, 'fake-npm.js');
  fs.writeFileSync(
    file,
    `const fs = require('fs'), path = require('path');
const args = process.argv.slice(2);
const prefix = args[args.indexOf('--prefix') + 1];
fs.writeFileSync(path.join(${JSON.stringify(dir)}, 'npm-args.json'), JSON.stringify({ args, cwd: process.cwd(), lock: fs.readFileSync(path.join(prefix, 'package-lock.json'), 'utf8') }));
const pkg = path.join(prefix, 'node_modules', 'webgpu');
fs.mkdirSync(pkg, { recursive: true });
fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'webgpu', version: '0.6.2', type: 'module', main: 'index.js' }));
fs.writeFileSync(path.join(pkg, 'index.js'), ${JSON.stringify(body)});
console.log('added 4 packages');
`,
  );
  return file;
}

test('Set Up GPU Backend installs webgpu with npm ci into <storage>/webgpu from the shipped lockfile, leaves tfjs-node-gpu alone, and the worker resolves it there', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-webgpu-setup-'));
  const storage = path.join(dir, 'storage');
  // What an earlier set-up of tfjs-node-gpu left in the storage: untouched by the webgpu install.
  const tfgpu = path.join(storage, 'node_modules', '@tensorflow', 'tfjs-node-gpu');
  fs.mkdirSync(tfgpu, { recursive: true });
  fs.writeFileSync(path.join(tfgpu, 'package.json'), '{"name":"@tensorflow/tfjs-node-gpu"}');
  const lines: string[] = [];
  const r = await setUpWebgpu({ storageDir: storage, nodePath: node, npm: fakeNpm(dir, 'export function create() {}\n'), pinDir: webgpuPin, log: (l) => lines.push(l) });
  assert.equal(r.ok, true, r.message);
  const prefix = path.join(storage, 'webgpu');
  assert.equal(r.installedAt, path.join(prefix, 'node_modules', 'webgpu'));
  assert.match(r.message, /^webgpu@0\.6\.2 is installed and loads with /);
  const npm = JSON.parse(fs.readFileSync(path.join(dir, 'npm-args.json'), 'utf8'));
  assert.deepEqual(npm.args, ['ci', '--prefix', prefix, '--no-audit', '--no-fund'], 'npm ci: the locked tree, nothing resolved anew');
  assert.equal(npm.cwd, prefix);
  assert.equal(npm.lock, fs.readFileSync(path.join(webgpuPin, 'package-lock.json'), 'utf8'), 'the shipped lockfile');
  assert.equal(JSON.parse(fs.readFileSync(path.join(prefix, 'package.json'), 'utf8')).allowScripts.webgpu, true);
  assert.ok(lines.some((l) => /^\$ .* ci --prefix .*storage\/webgpu /.test(l)), lines.join('\n'));
  assert.ok(fs.existsSync(path.join(tfgpu, 'package.json')), 'the tfjs-node-gpu tree is left alone');
  // The worker's module resolution (the extension passes nativeSearchPaths as RunSpec.nativeSearchPaths).
  // Mutant caught: nativeSearchPaths without <storage>/webgpu → resolveNative finds the project's own copy or none.
  assert.equal(resolveNative(WEBGPU_NPM, nativeSearchPaths(storage, '/nonexistent-ws')), r.installedAt);
  assert.deepEqual(nativeSearchPaths(storage, '/ws'), [storage, prefix, '/ws']);
  assert.equal(resolveNative('@tensorflow/tfjs-node-gpu', nativeSearchPaths(storage)), tfgpu);
});

test('a webgpu that installs but does not load is load-failed, naming the package and the Node', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-webgpu-setup-'));
  const r = await setUpWebgpu({ storageDir: path.join(dir, 'storage'), nodePath: node, npm: fakeNpm(dir, "throw new Error('dawn.node: cannot open shared object file');\n"), pinDir: webgpuPin, log: () => {} });
  assert.equal(r.ok, false);
  assert.equal(r.failure, 'load-failed');
  assert.match(r.message, /^webgpu is installed but its dawn\.node does not load with .*: .*cannot open shared object file/);
});

test('webgpu with no network: no-network, naming webgpu and the registry', async () => {
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-webgpu-storage-'));
  const r = await setUpWebgpu({
    storageDir: storage,
    nodePath: node,
    pinDir: webgpuPin,
    log: () => {},
    timeoutMs: 120_000,
    env: { npm_config_registry: 'http://127.0.0.1:9/', npm_config_cache: path.join(storage, 'npm-cache'), npm_config_fetch_retries: '0', npm_config_fetch_timeout: '5000', npm_config_prefer_online: 'true', npm_config_update_notifier: 'false' },
  });
  assert.equal(r.ok, false);
  assert.equal(r.failure, 'no-network', r.message);
  assert.match(r.message, /could not reach its registry to download webgpu/);
});
