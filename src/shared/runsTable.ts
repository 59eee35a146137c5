/**
 * The runs table, as `rbp runs` prints it and the dashboard draws it: one row per recorded run,
 * the columns every run has, and — as further columns — every config key whose value differs
 * between the listed runs. Pure (no fs, no DOM, no vscode): rows in, sorted/filtered rows and
 * the rows in view out, so the CLI, the host and the webview share one model.
 */

export type RunStatusWord = 'running' | 'completed' | 'failed' | 'stopped';
export type ConfigValue = string | number | boolean | null;

export interface RunRow {
  runId: string;
  /** The user's label, else the run id. */
  name: string;
  experiment: string;
  status: RunStatusWord;
  /** Why the run.json could not be read: the row is listed, with nothing else known. */
  unreadable?: string;
  /** Why a run failed (an interrupted process included). */
  reason?: string;
  method: string;
  K: number | null;
  T: number | null;
  lr: number | null;
  seed: number | null;
  stepsDone: number | null;
  stepsPlanned: number | null;
  durationMs: number | null;
  startedAt: string;
  finalLoss: { step: number; value: number } | null;
  finalEval: { step: number; name: string; value: number } | null;
  lastRho: { step: number; value: number | null; verdict: string | null } | null;
  lastProbe: { step: number; relErrExact: number | null; method: string } | null;
  /** Whether the run has checkpoints (Compare at this step). */
  checkpoints: number[];
  /** The run's config, flattened to `section.field` keys (lists as JSON). */
  config: Record<string, ConfigValue>;
}

/** `{ model: { T: 5 } }` → `{ 'model.T': 5 }`; lists and other objects as JSON text. */
export function flattenConfig(config: Record<string, unknown>, prefix = ''): Record<string, ConfigValue> {
  const out: Record<string, ConfigValue> = {};
  for (const [k, v] of Object.entries(config)) {
    const key = prefix + k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flattenConfig(v as Record<string, unknown>, key + '.'));
    else if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[key] = v;
    else out[key] = JSON.stringify(v) ?? String(v);
  }
  return out;
}

/** Config keys already shown as columns of their own (method, K, lr, seed) or that name the run rather than set it. */
const SHOWN_KEYS = new Set(['seed', 'train.lr', 'train.meta_lr', 'model.grad_method', 'model.truncate_iter', 'exp_name', 'exp_dir']);

/** Config keys whose value differs between the rows (a key some runs lack differs), sorted; unreadable rows take no part. */
export function differingKeys(rows: readonly RunRow[]): string[] {
  const readable = rows.filter((r) => r.unreadable === undefined);
  if (readable.length < 2) return [];
  const keys = new Set(readable.flatMap((r) => Object.keys(r.config)));
  const out: string[] = [];
  for (const k of keys) {
    if (SHOWN_KEYS.has(k)) continue;
    const first = readable[0].config[k];
    if (readable.some((r) => r.config[k] !== first)) out.push(k);
  }
  return out.sort();
}

/** Two runs' configs side by side: every key of either, `differs` where the values are not the same. */
export function configDiff(a: RunRow, b: RunRow): { key: string; a: ConfigValue | undefined; b: ConfigValue | undefined; differs: boolean }[] {
  const keys = [...new Set([...Object.keys(a.config), ...Object.keys(b.config)])].sort();
  return keys.map((key) => ({ key, a: a.config[key], b: b.config[key], differs: a.config[key] !== b.config[key] }));
}

/** The fixed columns, in order: id, header, and the value sorted by. */
export interface Column {
  id: string;
  header: string;
  value(r: RunRow): string | number | null;
}

export const FIXED_COLUMNS: readonly Column[] = [
  { id: 'name', header: 'name', value: (r) => r.name },
  { id: 'experiment', header: 'experiment', value: (r) => r.experiment },
  { id: 'status', header: 'status', value: (r) => (r.unreadable !== undefined ? 'unreadable' : r.status) },
  { id: 'method', header: 'method', value: (r) => r.method },
  { id: 'K', header: 'K', value: (r) => r.K },
  { id: 'T', header: 'T', value: (r) => r.T },
  { id: 'lr', header: 'lr', value: (r) => r.lr },
  { id: 'seed', header: 'seed', value: (r) => r.seed },
  { id: 'steps', header: 'steps', value: (r) => r.stepsDone },
  { id: 'duration', header: 'duration', value: (r) => r.durationMs },
  { id: 'loss', header: 'final loss', value: (r) => r.finalLoss?.value ?? null },
  { id: 'eval', header: 'final eval', value: (r) => r.finalEval?.value ?? null },
  { id: 'rho', header: 'ρ(J) @ step', value: (r) => r.lastRho?.value ?? null },
  { id: 'probe', header: 'grad err vs exact @ step', value: (r) => r.lastProbe?.relErrExact ?? null },
];

/** A differing config key as a column. */
export function configColumn(key: string): Column {
  return { id: `config:${key}`, header: key, value: (r) => (r.unreadable !== undefined ? null : normalise(r.config[key])) };
}

function normalise(v: ConfigValue | undefined): string | number | null {
  return v === undefined || v === null ? null : typeof v === 'boolean' ? String(v) : v;
}

/** The columns for these rows: the fixed ones, then one per differing config key. */
export function columnsFor(rows: readonly RunRow[]): Column[] {
  return [...FIXED_COLUMNS, ...differingKeys(rows).map(configColumn)];
}

export interface SortSpec {
  column: string;
  dir: 'asc' | 'desc';
}

/** Sorted copy: numbers by value, text by locale order; empty cells last in either direction; ties by start, newest first. */
export function sortRows(rows: readonly RunRow[], sort: SortSpec, columns: readonly Column[] = columnsFor(rows)): RunRow[] {
  const col = columns.find((c) => c.id === sort.column) ?? (sort.column.startsWith('config:') ? configColumn(sort.column.slice(7)) : undefined);
  if (!col) return rows.slice();
  const sign = sort.dir === 'asc' ? 1 : -1;
  const keyed = rows.map((r) => ({ r, v: col.value(r) }));
  keyed.sort((a, b) => {
    const an = a.v === null || (typeof a.v === 'number' && Number.isNaN(a.v));
    const bn = b.v === null || (typeof b.v === 'number' && Number.isNaN(b.v));
    if (an || bn) return an && bn ? b.r.startedAt.localeCompare(a.r.startedAt) : an ? 1 : -1;
    const c = typeof a.v === 'number' && typeof b.v === 'number' ? a.v - b.v : String(a.v).localeCompare(String(b.v), undefined, { numeric: true });
    return c !== 0 ? sign * c : b.r.startedAt.localeCompare(a.r.startedAt);
  });
  return keyed.map((k) => k.r);
}

/** Rows whose cells (any column, the run id, the config's values) contain every word of `text`, case-insensitively. */
export function filterRows(rows: readonly RunRow[], text: string, columns: readonly Column[] = columnsFor(rows)): RunRow[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return rows.slice();
  return rows.filter((r) => {
    const hay = [r.runId, ...columns.map((c) => formatCell(c, r)), ...Object.entries(r.config).map(([k, v]) => `${k}=${String(v)}`)].join(' ').toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/**
 * Which rows a scrolled list shows: from the first row whose bottom is below `scrollTop` to the
 * last whose top is above the viewport's end, plus `overscan` on each side.
 */
export function rowsInView(total: number, scrollTop: number, viewportPx: number, rowPx: number, overscan = 5): { first: number; last: number } {
  if (total <= 0) return { first: 0, last: -1 };
  const first = Math.max(0, Math.floor(scrollTop / rowPx) - overscan);
  const last = Math.min(total - 1, Math.ceil((scrollTop + viewportPx) / rowPx) - 1 + overscan);
  return { first, last: Math.max(first - 1, last) };
}

/** 4 significant digits; small and large numbers in exponent form. */
export function fmtValue(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** "12.3 s", "4 min 05 s", "1 h 02 min". */
export function fmtDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '–';
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** A cell as text (the same words in the CLI and the dashboard). */
export function formatCell(col: Column, r: RunRow): string {
  switch (col.id) {
    case 'steps':
      return r.stepsDone === null ? '–' : `${r.stepsDone}/${r.stepsPlanned ?? '?'}`;
    case 'duration':
      return fmtDuration(r.durationMs);
    case 'loss':
      return r.finalLoss ? fmtValue(r.finalLoss.value) : '–';
    case 'eval':
      return r.finalEval ? `${r.finalEval.name} ${fmtValue(r.finalEval.value)}` : '–';
    case 'rho':
      return r.lastRho ? `${fmtValue(r.lastRho.value)} @ ${r.lastRho.step}` : '–';
    case 'probe':
      return r.lastProbe ? `${fmtValue(r.lastProbe.relErrExact)} @ ${r.lastProbe.step}` : '–';
    default: {
      const v = col.value(r);
      return v === null ? '–' : typeof v === 'number' ? fmtValue(v) : v;
    }
  }
}

/** The table as aligned text (`rbp runs`): a header line, then one line per row. */
export function formatRunsTable(rows: readonly RunRow[]): string {
  const cols = columnsFor(rows);
  const cells = [cols.map((c) => c.header), ...rows.map((r) => cols.map((c) => formatCell(c, r)))];
  const widths = cols.map((_, j) => Math.max(...cells.map((line) => line[j].length)));
  return cells.map((line) => line.map((c, j) => c.padEnd(widths[j])).join('  ').trimEnd()).join('\n');
}
