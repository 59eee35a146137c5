/**
 * The webgpu backend: Dawn's Node bindings (npm `webgpu`, a native `dawn.node` loaded at run time
 * from where it is installed) in a GPU thread (`./server`, `./bridge`), under tfjs's webgpu
 * backend (`./tfjsBackend`, bundled). This module finds the package and the driver, lists the
 * adapters, picks one (hardware first; software adapters such as SwiftShader only when webgpu is
 * asked for by name) and says why when there is none.
 */
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../tf';
import { WebGpuBridge, GPU_CONSTANTS, ProxyBuffer, ProxyTexture } from './bridge';
import type { AdapterInfo } from './bridge';

export type { AdapterInfo } from './bridge';

export const WEBGPU_PACKAGE = 'webgpu';
export const WEBGPU_PACKAGE_VERSION = '0.6.2';

/** An adapter and whether it is a software one (a CPU emulation: correct, never fast). */
export interface GpuAdapter extends AdapterInfo {
  software: boolean;
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render|\bwarp\b/i;

export function isSoftwareAdapter(a: AdapterInfo): boolean {
  return a.isFallbackAdapter || SOFTWARE.test(`${a.vendor} ${a.architecture} ${a.device} ${a.description}`);
}

/** "SwiftShader driver 5.0.0 (google swiftshader, software adapter)". */
export function describeAdapter(a: GpuAdapter): string {
  const id = [a.vendor, a.architecture].filter(Boolean).join(' ');
  const name = a.description || a.device || id || 'unnamed adapter';
  return `${name} (${id ? `${id}, ` : ''}${a.software ? 'software' : 'hardware'} adapter)`;
}

/** `dist/<platform>-<arch>/dawn.node` of the installed package (macOS: one universal build). */
export function dawnBinary(pkgDir: string, platform = process.platform, arch = process.arch): string {
  return path.join(pkgDir, 'dist', `${platform}-${platform === 'darwin' ? 'universal' : arch}`, 'dawn.node');
}

export function packageVersion(pkgDir: string): string | undefined {
  try {
    return String(JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version);
  } catch {
    return undefined;
  }
}

// ---- what decides whether Vulkan has a driver (Linux) ----

export interface VulkanEnvironment {
  /** VK_ICD_FILENAMES or VK_DRIVER_FILES, as set. */
  icdVariable?: { name: string; value: string; missing: string[] };
  /** The loader library (libvulkan.so.1) where it was found. */
  loader?: string;
  /** Driver manifests in the loader's standard folders. */
  icdFiles: string[];
  /** Driver manifests in known places outside them (Chromium's SwiftShader, NVIDIA's container path). */
  otherIcdFiles: string[];
}

const ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/local/etc/vulkan/icd.d', '/etc/xdg/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
const OTHER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json', '/opt/google/chrome/vk_swiftshader_icd.json', '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json'];
/** Chromium's SwiftShader driver (Debian's chromium package), the software adapter the tests use. */
export const SWIFTSHADER_ICD = OTHER_ICDS[0];

function jsonFiles(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

export function vulkanEnvironment(env: NodeJS.ProcessEnv = process.env): VulkanEnvironment {
  const name = env.VK_DRIVER_FILES ? 'VK_DRIVER_FILES' : env.VK_ICD_FILENAMES ? 'VK_ICD_FILENAMES' : undefined;
  const value = name ? env[name]! : undefined;
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const libDirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), `/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib64', '/usr/lib64', '/usr/local/lib', '/usr/lib', '/lib'];
  const loader = libDirs.map((d) => path.join(d, 'libvulkan.so.1')).find((f) => fs.existsSync(f));
  const xdgDirs = (env.XDG_DATA_DIRS ?? '').split(':').filter(Boolean).map((d) => path.join(d, 'vulkan', 'icd.d'));
  const icdFiles = [...new Set([...ICD_DIRS, ...xdgDirs].flatMap(jsonFiles))];
  const listed = value ? value.split(':').filter(Boolean) : [];
  return {
    icdVariable: name ? { name, value: value!, missing: listed.filter((f) => !fs.existsSync(f)) } : undefined,
    loader,
    icdFiles,
    otherIcdFiles: OTHER_ICDS.filter((f) => fs.existsSync(f) && !icdFiles.includes(f) && !listed.includes(f)),
  };
}

/** Why Dawn found no adapter, from what decides it. */
export function noAdapterReason(env = vulkanEnvironment()): string {
  if (process.platform !== 'linux') return `Dawn found no ${process.platform === 'darwin' ? 'Metal' : 'D3D12 or Vulkan'} adapter`;
  const hint = env.otherIcdFiles.length ? `; a driver is at ${env.otherIcdFiles.join(', ')}: set VK_ICD_FILENAMES to it` : '';
  if (!env.loader) return `no Vulkan loader: libvulkan.so.1 was not found (Debian/Ubuntu: apt-get install libvulkan1)${hint}`;
  if (env.icdVariable) {
    const v = env.icdVariable;
    if (v.missing.length) return `${v.name} names driver files that do not exist: ${v.missing.join(', ')}`;
    return `Dawn found no usable adapter with ${v.name}=${v.value}`;
  }
  if (!env.icdFiles.length) return `no Vulkan driver: VK_ICD_FILENAMES is not set and no driver manifest is in ${ICD_DIRS.join(', ')}${hint}`;
  return `Dawn found no usable adapter among the Vulkan drivers ${env.icdFiles.map((f) => path.basename(f)).join(', ')} (Mesa's lavapipe, for one, lacks a feature Dawn needs)${hint}`;
}

// ---- the GPU thread and the chosen adapter ----

let bridge: { dawnPath: string; bridge: WebGpuBridge; adapters: GpuAdapter[] } | undefined;
let active: { dawnPath: string; key: string } | undefined;

/** The adapters Dawn offers through the package in `pkgDir` (one GPU thread per process, reused). */
export async function listAdapters(pkgDir: string): Promise<{ ok: true; adapters: GpuAdapter[] } | { ok: false; reason: string }> {
  if (process.versions.electron) {
    return { ok: false, reason: "Dawn cannot run in VS Code's own runtime (Electron refuses the external buffers dawn.node creates): the worker needs a system Node (on PATH, or the rbpLab.nodePath setting)" };
  }
  const dawnPath = dawnBinary(pkgDir);
  if (!fs.existsSync(dawnPath)) return { ok: false, reason: `${WEBGPU_PACKAGE} is installed at ${pkgDir} but has no build for ${process.platform}-${process.arch} (${path.relative(pkgDir, dawnPath)} is missing)` };
  if (bridge && bridge.dawnPath !== dawnPath) await closeWebgpu();
  if (!bridge) {
    const b = new WebGpuBridge(dawnPath);
    try {
      const adapters = (await b.probe()).map((a) => ({ ...a, software: isSoftwareAdapter(a) }));
      bridge = { dawnPath, bridge: b, adapters };
    } catch (err) {
      await b.close();
      return { ok: false, reason: `${WEBGPU_PACKAGE} (${pkgDir}) failed: ${(err as Error).message}` };
    }
  }
  return { ok: true, adapters: bridge.adapters };
}

/** End the GPU thread (when webgpu was probed but not chosen, so that it holds no driver). */
export async function closeWebgpu(): Promise<void> {
  if (active) return; // the active tfjs backend still uses it
  const b = bridge;
  bridge = undefined;
  await b?.bridge.close();
}

/** The bridge stands in for WebGPU's globals in this (main) thread, which never loads Dawn itself. */
function installGlobals(): void {
  const g = globalThis as unknown as Record<string, unknown> & { navigator?: Record<string, unknown> };
  Object.assign(g, GPU_CONSTANTS, { GPUBuffer: ProxyBuffer, GPUTexture: ProxyTexture });
  // tfjs checks `navigator.gpu` before it makes its backend; the bridge does the GPU's work.
  const gpu = { rbpLabBridge: true };
  if (g.navigator && typeof g.navigator === 'object') Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else g.navigator = { gpu };
}

/**
 * Make tfjs's 'webgpu' backend the active one, on the first hardware adapter, else (when
 * `allowSoftware`) on a software one. Returns the adapter, or the reason it cannot.
 */
export async function useWebgpu(pkgDir: string, allowSoftware: boolean): Promise<{ ok: true; adapter: GpuAdapter } | { ok: false; reason: string }> {
  const listed = await listAdapters(pkgDir);
  if (!listed.ok) return listed;
  const { adapters } = listed;
  if (!adapters.length) return { ok: false, reason: `no WebGPU adapter: ${noAdapterReason()}` };
  let index = adapters.findIndex((a) => !a.software);
  if (index < 0) {
    if (!allowSoftware) return { ok: false, reason: `only a software adapter was found (${adapters.map(describeAdapter).join('; ')}); auto never picks one, ask for it with backend webgpu` };
    index = 0;
  }
  const adapter = adapters[index];
  const key = JSON.stringify(adapter);
  const current = bridge!;
  if (!active || active.key !== key || active.dawnPath !== current.dawnPath || !tf.findBackend('webgpu')) {
    try {
      const device = await current.bridge.open(index);
      installGlobals();
      const { registerWebgpuBackend } = await import('./tfjsBackend');
      registerWebgpuBackend(device, adapter);
      active = { dawnPath: current.dawnPath, key };
      // tfjs picks its workgroup-reduction matMul for small outputs; a software adapter emulates
      // workgroup barriers on CPU threads, which made that program ~40× slower than the packed
      // one there (tanh(h·W) for [2, 12]·[12, 12]: 54 vs 1.1 ms on SwiftShader). Hardware keeps
      // tfjs's own choice; RBP_WEBGPU_MATMUL_PROGRAM (0-3) overrides both.
      const program = Number(process.env.RBP_WEBGPU_MATMUL_PROGRAM ?? (adapter.software ? 3 : -1));
      tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', Number.isInteger(program) ? program : -1);
    } catch (err) {
      return { ok: false, reason: `the WebGPU device on ${describeAdapter(adapter)} failed: ${(err as Error).message}` };
    }
  }
  try {
    const ok = await tf.setBackend('webgpu');
    if (!ok || tf.getBackend() !== 'webgpu') return { ok: false, reason: `tfjs's webgpu backend failed to initialise on ${describeAdapter(adapter)}` };
  } catch (err) {
    return { ok: false, reason: `tfjs's webgpu backend failed on ${describeAdapter(adapter)}: ${String((err as Error).message ?? err).split('\n')[0]}` };
  }
  return { ok: true, adapter };
}
