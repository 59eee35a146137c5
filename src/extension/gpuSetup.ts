/**
 * "RBP Lab: Set Up GPU Backend", without `vscode`: install @tensorflow/tfjs-node-gpu with the
 * system Node's own npm into the extension's global storage, then check that it loads, and explain
 * the usual failures (no network, wrong Node, no CUDA 11.2 / cuDNN 8). What it installs is pinned:
 * the extension ships `native/gpu/package.json` and its `package-lock.json` (exact versions and
 * integrity hashes of the package and every dependency), copied into the storage folder and
 * installed with `npm ci`.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { findOnPath, MIN_NODE_MAJOR } from './workerHost';

export const GPU_PACKAGE = '@tensorflow/tfjs-node-gpu';
/** npm `webgpu` (Dawn's Node bindings), pinned in the extension's native/webgpu, installed into `<storage>/webgpu`. */
export const WEBGPU_NPM = 'webgpu';
export const WEBGPU_SUBDIR = 'webgpu';

/**
 * Where the worker looks for native packages (`<base>/node_modules/<pkg>`), first to last: the
 * extension's global storage (tfjs-node-gpu), its webgpu folder (Set Up GPU Backend installs
 * webgpu there, apart, so that each `npm ci` leaves the other's tree alone), the workspace folder.
 */
export function nativeSearchPaths(storageDir: string, workspace?: string): string[] {
  return [storageDir, path.join(storageDir, WEBGPU_SUBDIR), ...(workspace ? [workspace] : [])];
}

/** The pinned package manifest and lockfile in `pinDir`; throws when they are missing or disagree. */
export function readPin(pinDir: string, pkg = GPU_PACKAGE): { manifest: Record<string, unknown>; lock: string; version: string } {
  const manifest = JSON.parse(fs.readFileSync(path.join(pinDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const lock = fs.readFileSync(path.join(pinDir, 'package-lock.json'), 'utf8');
  const version = manifest.dependencies?.[pkg];
  const locked = (JSON.parse(lock) as { packages?: Record<string, { version?: string; integrity?: string }> }).packages?.[`node_modules/${pkg}`];
  if (!version || !/^\d+\.\d+\.\d+$/.test(version) || locked?.version !== version || !locked.integrity) throw new Error(`${pinDir}: ${pkg} is not pinned to one exact, locked version`);
  return { manifest, lock, version };
}

export type GpuSetupFailure = 'no-pin' | 'no-node' | 'no-npm' | 'unsupported' | 'no-network' | 'wrong-node' | 'no-cuda' | 'npm-failed' | 'load-failed';

export interface GpuSetupOptions {
  /** The extension's global storage: the package goes to `<storageDir>/node_modules`. */
  storageDir: string;
  /** The Node the worker will use (the system `node`): its npm installs, it must load the addon. */
  nodePath: string;
  /** npm-cli.js or an npm executable; found next to `nodePath` when omitted. */
  npm?: string;
  /** The folder with the pinned package.json and package-lock.json (the extension's native/gpu). */
  pinDir: string;
  env?: Record<string, string>;
  log(line: string): void;
  /** Give up after this long (default 15 minutes). */
  timeoutMs?: number;
  /** Set to abort the install. */
  signal?: AbortSignal;
}

export interface GpuSetupResult {
  ok: boolean;
  failure?: GpuSetupFailure;
  message: string;
  installedAt?: string;
}

interface Proc {
  code: number | null;
  output: string;
  error?: NodeJS.ErrnoException;
}

function run(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; log?: (l: string) => void; timeoutMs?: number; signal?: AbortSignal }): Promise<Proc> {
  return new Promise((resolve) => {
    let output = '';
    let settled = false;
    const done = (p: Proc) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(p);
      }
    };
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal });
    const onData = (d: Buffer) => {
      const text = d.toString();
      output = (output + text).slice(-20000);
      for (const line of text.split(/\r?\n/)) if (line.trim()) opts.log?.(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      output += `\n(timed out after ${(opts.timeoutMs ?? 0) / 1000} s)`;
    }, opts.timeoutMs ?? 15 * 60_000);
    child.on('error', (error: NodeJS.ErrnoException) => done({ code: null, output, error }));
    child.on('close', (code) => done({ code, output }));
  });
}

/** npm for a given node: its npm-cli.js (so npm runs on that very Node), else `npm` on PATH. */
export function findNpm(nodePath: string): { cmd: string; args: string[] } | undefined {
  const bin = path.dirname(nodePath);
  for (const cli of [path.join(bin, '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'), path.join(bin, 'node_modules', 'npm', 'bin', 'npm-cli.js')]) {
    if (fs.existsSync(cli)) return { cmd: nodePath, args: [cli] };
  }
  const npm = findOnPath('npm');
  return npm ? { cmd: npm, args: [] } : undefined;
}

/** Explain a failed `npm install` from its output. */
export function classifyNpmFailure(output: string): { failure: GpuSetupFailure; message: string } {
  const last = output.trim().split('\n').filter((l) => l.trim()).slice(-3).join(' | ').slice(0, 400);
  if (/ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|ENETUNREACH|EHOSTUNREACH|network|socket hang up|getaddrinfo/i.test(output)) {
    const binary = /node-pre-gyp|storage\.googleapis\.com|libtensorflow/i.test(output);
    return {
      failure: 'no-network',
      message: binary
        ? `no network: the package installed but its libtensorflow binary could not be downloaded (storage.googleapis.com is unreachable). ${last}`
        : `no network: npm could not reach its registry to download ${GPU_PACKAGE}. Check your connection or proxy (npm config get registry / https-proxy). ${last}`,
    };
  }
  if (/NODE_MODULE_VERSION|Unsupported engine|EBADENGINE|node-gyp/i.test(output)) return { failure: 'wrong-node', message: `this Node.js cannot build or load ${GPU_PACKAGE} (it needs a Node with prebuilt tfjs-node binaries, Linux x64): ${last}` };
  return { failure: 'npm-failed', message: `npm install ${GPU_PACKAGE} failed: ${last}` };
}

/** Explain why the installed package does not load. */
export function classifyLoadFailure(output: string): { failure: GpuSetupFailure; message: string } {
  const first = output.trim().split('\n').find((l) => /Error|error/.test(l))?.trim().slice(0, 300) ?? output.trim().slice(0, 300);
  if (/libcudart|libcudnn|libcublas|libcufft|libcurand|libcusolver|libcusparse|libcuda\b|libcuda\.so/i.test(output))
    return { failure: 'no-cuda', message: `${GPU_PACKAGE} is installed but the CUDA 11.2 / cuDNN 8 libraries it needs are missing (install them and make sure LD_LIBRARY_PATH finds them): ${first}` };
  if (/NODE_MODULE_VERSION|compiled against a different Node/i.test(output)) return { failure: 'wrong-node', message: `${GPU_PACKAGE} was built for another Node.js version than the worker's: ${first}` };
  return { failure: 'load-failed', message: `${GPU_PACKAGE} is installed but does not load: ${first}` };
}

export async function setUpGpuBackend(o: GpuSetupOptions): Promise<GpuSetupResult> {
  let pin: ReturnType<typeof readPin>;
  try {
    pin = readPin(o.pinDir);
  } catch (err) {
    return { ok: false, failure: 'no-pin', message: `the pinned GPU package list is missing or broken (reinstall RBP Lab): ${(err as Error).message}` };
  }
  const version = pin.version;
  o.log(`Setting up ${GPU_PACKAGE}@${version} for ${o.nodePath} in ${o.storageDir}`);
  const probe = await run(o.nodePath, ['-p', 'process.version + " " + process.platform + " " + process.arch'], { env: o.env, timeoutMs: 30_000 });
  if (probe.error || probe.code !== 0) {
    return { ok: false, failure: 'no-node', message: `cannot run Node at '${o.nodePath}' (${probe.error?.code ?? `exit code ${probe.code}`}): install Node.js ${MIN_NODE_MAJOR}+ on PATH or set rbpLab.nodePath` };
  }
  const [nodeVersion, platform, arch] = probe.output.trim().split(/\s+/);
  o.log(`Node ${nodeVersion} on ${platform}-${arch}`);
  const major = Number(/^v(\d+)/.exec(nodeVersion)?.[1] ?? 0);
  if (major < MIN_NODE_MAJOR) return { ok: false, failure: 'wrong-node', message: `Node ${nodeVersion} at ${o.nodePath} is too old: RBP Lab's worker needs Node.js ${MIN_NODE_MAJOR} or later` };
  if (platform !== 'linux' || arch !== 'x64') return { ok: false, failure: 'unsupported', message: `${GPU_PACKAGE} ships CUDA binaries for Linux x64 only; this Node is ${platform}-${arch}. The wasm backend still works.` };
  const npm = o.npm ? (o.npm.endsWith('.js') ? { cmd: o.nodePath, args: [o.npm] } : { cmd: o.npm, args: [] }) : findNpm(o.nodePath);
  if (!npm) return { ok: false, failure: 'no-npm', message: `no npm found next to ${o.nodePath} nor on PATH` };
  fs.mkdirSync(o.storageDir, { recursive: true });
  // The pinned manifest and its lockfile replace whatever the storage held: npm ci installs
  // exactly the locked tree (and fails rather than resolve anything anew).
  // npm 11 runs a dependency's install script only when package.json allows it; tfjs-node-gpu's
  // downloads libtensorflow. (Older npm ignores the field.)
  const manifest = { ...pin.manifest, allowScripts: { [GPU_PACKAGE]: true } };
  fs.writeFileSync(path.join(o.storageDir, 'package.json'), JSON.stringify(manifest, null, 2));
  fs.writeFileSync(path.join(o.storageDir, 'package-lock.json'), pin.lock);
  const args = [...npm.args, 'ci', '--prefix', o.storageDir, '--no-audit', '--no-fund'];
  o.log(`$ ${npm.cmd} ${args.join(' ')}`);
  // The npm script shim must find this very Node first.
  const env = { PATH: `${path.dirname(o.nodePath)}${path.delimiter}${process.env.PATH ?? ''}`, ...o.env };
  const inst = await run(npm.cmd, args, { env, cwd: o.storageDir, log: o.log, timeoutMs: o.timeoutMs, signal: o.signal });
  if (inst.error) return { ok: false, failure: 'no-npm', message: `could not run npm (${npm.cmd}): ${inst.error.message}` };
  if (inst.code !== 0) return { ok: false, ...classifyNpmFailure(inst.output) };
  const dir = path.join(o.storageDir, 'node_modules', ...GPU_PACKAGE.split('/'));
  o.log(`Checking that ${dir} loads…`);
  const load = await run(o.nodePath, ['-e', `require(${JSON.stringify(dir)}); console.log('loaded')`], { env: o.env, timeoutMs: 120_000, log: o.log });
  if (load.code !== 0) return { ok: false, installedAt: dir, ...classifyLoadFailure(load.output) };
  return { ok: true, installedAt: dir, message: `${GPU_PACKAGE}@${version} is installed and loads with ${o.nodePath}; new runs with backend auto or tensorflow-gpu will use it` };
}

/**
 * Install the pinned npm `webgpu` (native/webgpu: package.json and its lockfile) with the system
 * Node's npm into `<storageDir>/webgpu` (`npm ci`: only the registry is needed, no other download),
 * then check that its `dawn.node` loads with that Node. Which adapters it finds is for `rbp doctor`
 * and the run's first line to say (a driver, not this package, decides that).
 */
export async function setUpWebgpu(o: GpuSetupOptions): Promise<GpuSetupResult> {
  let pin: ReturnType<typeof readPin>;
  try {
    pin = readPin(o.pinDir, WEBGPU_NPM);
  } catch (err) {
    return { ok: false, failure: 'no-pin', message: `the pinned webgpu package list is missing or broken (reinstall RBP Lab): ${(err as Error).message}` };
  }
  const probe = await run(o.nodePath, ['-p', 'process.version'], { env: o.env, timeoutMs: 30_000 });
  if (probe.error || probe.code !== 0) return { ok: false, failure: 'no-node', message: `cannot run Node at '${o.nodePath}' (${probe.error?.code ?? `exit code ${probe.code}`}): install Node.js ${MIN_NODE_MAJOR}+ on PATH or set rbpLab.nodePath` };
  const npm = o.npm ? (o.npm.endsWith('.js') ? { cmd: o.nodePath, args: [o.npm] } : { cmd: o.npm, args: [] }) : findNpm(o.nodePath);
  if (!npm) return { ok: false, failure: 'no-npm', message: `no npm found next to ${o.nodePath} nor on PATH` };
  const prefix = path.join(o.storageDir, WEBGPU_SUBDIR);
  fs.mkdirSync(prefix, { recursive: true });
  // Its postinstall only clears macOS's quarantine flag on dawn.node (npm 11 runs it only when allowed).
  fs.writeFileSync(path.join(prefix, 'package.json'), JSON.stringify({ ...pin.manifest, allowScripts: { [WEBGPU_NPM]: true } }, null, 2));
  fs.writeFileSync(path.join(prefix, 'package-lock.json'), pin.lock);
  const args = [...npm.args, 'ci', '--prefix', prefix, '--no-audit', '--no-fund'];
  o.log(`Setting up ${WEBGPU_NPM}@${pin.version} for ${o.nodePath} in ${prefix}`);
  o.log(`$ ${npm.cmd} ${args.join(' ')}`);
  const env = { PATH: `${path.dirname(o.nodePath)}${path.delimiter}${process.env.PATH ?? ''}`, ...o.env };
  const inst = await run(npm.cmd, args, { env, cwd: prefix, log: o.log, timeoutMs: o.timeoutMs, signal: o.signal });
  if (inst.error) return { ok: false, failure: 'no-npm', message: `could not run npm (${npm.cmd}): ${inst.error.message}` };
  if (inst.code !== 0) {
    const c = classifyNpmFailure(inst.output);
    return { ok: false, failure: c.failure, message: c.message.split(GPU_PACKAGE).join(WEBGPU_NPM) };
  }
  const dir = path.join(prefix, 'node_modules', WEBGPU_NPM);
  o.log(`Checking that ${dir} loads…`);
  const check = `import(require('url').pathToFileURL(require('path').join(${JSON.stringify(dir)}, 'index.js')).href).then((m) => { if (typeof m.create !== 'function') throw new Error('no create()'); console.log('loaded'); })`;
  const load = await run(o.nodePath, ['-e', check], { env: o.env, timeoutMs: 60_000, log: o.log });
  const first = load.output.trim().split('\n').find((l) => /Error/.test(l))?.trim().slice(0, 300) ?? load.output.trim().slice(0, 300);
  if (load.code !== 0) return { ok: false, failure: 'load-failed', installedAt: dir, message: `${WEBGPU_NPM} is installed but its dawn.node does not load with ${o.nodePath}: ${first}` };
  return { ok: true, installedAt: dir, message: `${WEBGPU_NPM}@${pin.version} is installed and loads with ${o.nodePath}; runs with backend webgpu (or auto, on a hardware adapter) will use it` };
}
