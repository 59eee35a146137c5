/**
 * `rbp doctor`: what decides the backend on this machine: the packages found, the Vulkan
 * environment (loader, VK_ICD_FILENAMES, driver manifests), the WebGPU adapters Dawn offers, and
 * the backend `auto` picks with the reason each one before it was passed over.
 */
import * as fs from 'fs';
import * as path from 'path';
import { selectBackend, describeChoice, findWasmDir, resolveNative, BackendChoice } from '../core/backend';
import { listAdapters, vulkanEnvironment, noAdapterReason, describeAdapter, dawnBinary, packageVersion, WEBGPU_PACKAGE } from '../core/webgpu';
import type { GpuAdapter, VulkanEnvironment } from '../core/webgpu';

export interface DoctorReport {
  node: string;
  platform: string;
  packages: { name: string; dir: string | null; version: string | null; note?: string }[];
  vulkan: VulkanEnvironment | null;
  adapters: GpuAdapter[];
  /** Why no adapter was listed (package missing, Dawn failed, no driver), if none was. */
  adapterNote?: string;
  auto: { name: string; description: string; skipped: BackendChoice['skipped'] } | { error: string };
}

export async function doctor(searchPaths: string[] = []): Promise<DoctorReport> {
  const packages: DoctorReport['packages'] = [];
  for (const name of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', WEBGPU_PACKAGE]) {
    const dir = resolveNative(name, searchPaths) ?? null;
    const entry: DoctorReport['packages'][number] = { name, dir, version: dir ? (packageVersion(dir) ?? null) : null };
    if (dir && name === WEBGPU_PACKAGE) {
      const bin = dawnBinary(dir);
      entry.note = fs.existsSync(bin) ? `dawn.node: ${bin}` : `no dawn.node for ${process.platform}-${process.arch} (${bin})`;
    }
    packages.push(entry);
  }
  const wasm = findWasmDir();
  packages.push({ name: 'tfjs-backend-wasm (.wasm files)', dir: wasm ?? null, version: null });

  const report: DoctorReport = {
    node: `${process.version} (${process.execPath})`,
    platform: `${process.platform}-${process.arch}`,
    packages,
    vulkan: process.platform === 'linux' ? vulkanEnvironment() : null,
    adapters: [],
    auto: { error: 'not tried' },
  };
  const webgpuDir = packages.find((p) => p.name === WEBGPU_PACKAGE)?.dir;
  if (!webgpuDir) report.adapterNote = `the ${WEBGPU_PACKAGE} package is not installed`;
  else {
    const listed = await listAdapters(webgpuDir);
    if (!listed.ok) report.adapterNote = listed.reason;
    else {
      report.adapters = listed.adapters;
      if (!listed.adapters.length) report.adapterNote = noAdapterReason();
    }
  }
  try {
    const c = await selectBackend('auto', { searchPaths });
    report.auto = { name: c.name, description: describeChoice(c), skipped: c.skipped };
  } catch (err) {
    report.auto = { error: (err as Error).message };
  }
  return report;
}

export function formatDoctor(r: DoctorReport): string {
  const out: string[] = [`Node ${r.node} on ${r.platform}`, '', 'packages:'];
  for (const p of r.packages) out.push(`  ${p.name}: ${p.dir ? `${p.dir}${p.version ? ` (${p.version})` : ''}` : 'not found'}${p.note ? `; ${p.note}` : ''}`);
  if (r.vulkan) {
    const v = r.vulkan;
    out.push('', 'Vulkan (what Dawn uses on Linux):');
    out.push(`  loader libvulkan.so.1: ${v.loader ?? 'not found (Debian/Ubuntu: apt-get install libvulkan1)'}`);
    out.push(`  ${v.icdVariable ? `${v.icdVariable.name}=${v.icdVariable.value}${v.icdVariable.missing.length ? ` (missing: ${v.icdVariable.missing.join(', ')})` : ''}` : 'VK_ICD_FILENAMES / VK_DRIVER_FILES: not set (the loader reads the standard folders)'}`);
    out.push(`  driver manifests in the standard folders: ${v.icdFiles.length ? v.icdFiles.join(', ') : 'none'}`);
    if (v.otherIcdFiles.length) out.push(`  other drivers found (used only when VK_ICD_FILENAMES names them): ${v.otherIcdFiles.map((f) => path.normalize(f)).join(', ')}`);
  }
  out.push('', 'WebGPU adapters:');
  if (r.adapters.length) for (const a of r.adapters) out.push(`  ${describeAdapter(a)}${a.software ? ' — used only with --backend webgpu, never by auto' : ''}`);
  else out.push(`  none: ${r.adapterNote ?? 'none found'}`);
  out.push('', 'auto picks:');
  if ('error' in r.auto) out.push(`  nothing: ${r.auto.error}`);
  else {
    out.push(`  ${r.auto.name}${r.auto.description.startsWith(r.auto.name) ? r.auto.description.slice(r.auto.name.length).split(' — ')[0] : ''}`);
    for (const s of r.auto.skipped) out.push(`  passed over ${s.name}: ${s.reason}`);
  }
  return out.join('\n');
}
