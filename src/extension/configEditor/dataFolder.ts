/** The missing-data-folder check of the Problems panel, for an experiment that reads one (the experiment catalog names its files). */
import * as fs from 'fs';
import * as path from 'path';
import type { ParsedConfig } from '../../config/load';
import { experimentInfo } from '../../experiments/catalog';

export interface DataFolderOptions {
  /** The rbpLab.dataDir setting, already resolved (absolute) or ''. */
  dataDir?: string;
  /** Folders a relative dataset.path may be relative to: the workspace folder, the config's folder. */
  baseDirs: string[];
  /** $RBP_DATA_DIR */
  envDataDir?: string;
  /** The config file's folder (`model.module` of a ModuleRunner config is relative to it). */
  configDir?: string;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * For an experiment that reads a data folder (the citation GNN's Planetoid files): a warning when
 * neither the rbpLab.dataDir setting, nor dataset.path (relative to the workspace or the config's
 * folder), nor $RBP_DATA_DIR is a folder holding every file the config needs.
 */
export function dataFolderProblem(parsed: ParsedConfig, opts: DataFolderOptions): { path: string; message: string } | undefined {
  const need = experimentInfo(parsed.config.runner)?.dataFiles?.(parsed.config);
  if (!need) return undefined;
  const ds = (parsed.config.dataset ?? {}) as Record<string, unknown>;
  const { dataset: name, files } = need;
  const tried: string[] = [];
  const candidates: { dir: string; from: string }[] = [];
  if (opts.dataDir) candidates.push({ dir: opts.dataDir, from: 'rbpLab.dataDir' });
  const p = typeof ds.path === 'string' ? ds.path : undefined;
  if (p) {
    if (path.isAbsolute(p)) candidates.push({ dir: p, from: 'dataset.path' });
    else for (const b of opts.baseDirs) candidates.push({ dir: path.join(b, p), from: 'dataset.path' });
  }
  if (opts.envDataDir) candidates.push({ dir: opts.envDataDir, from: '$RBP_DATA_DIR' });
  for (const c of candidates) {
    if (!isDir(c.dir)) {
      tried.push(`${c.dir} (${c.from}): folder does not exist`);
      continue;
    }
    const missing = files.filter((f) => !fs.existsSync(path.join(c.dir, f)));
    if (!missing.length) return undefined;
    tried.push(`${c.dir} (${c.from}): ${missing.length === files.length ? `no ${need.pattern} files` : `${missing.join(', ')} not found`}`);
  }
  const how = `download ${files.join(', ')} (${need.source}) and point dataset.path or the rbpLab.dataDir setting at that folder`;
  return {
    path: parsed.positions['dataset.path'] ? 'dataset.path' : parsed.positions['dataset.name'] ? 'dataset.name' : 'dataset',
    message: `the ${name} data files were not found${tried.length ? `. Looked in: ${tried.join('; ')}` : ''}. To fix: ${how}`,
  };
}
