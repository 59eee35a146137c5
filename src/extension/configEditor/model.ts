/**
 * The vscode-free half of the config editor: which YAML files are experiment configs, where the
 * parser's issues and the inline notes sit in the text, the missing-data-folder check, the
 * residual sparkline, and the hover's markdown. index.ts turns these into CodeLens, diagnostics,
 * decorations and hovers; test/extension/configEditor.test.ts tests them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseConfigText, type ParsedConfig, type ConfigIssue } from '../../config/load';
import { RUNNERS, type RunnerName } from '../../config/schema';
import { EXPERIMENTS, experimentInfo } from '../../experiments/catalog';
import type { InlineNote } from '../../config/inline';
import type { GradcheckReport } from '../../run/gradcheck';
import type { Envelope } from '../../protocol/messages';
import { methodLabel, parseMethodName, takesK } from '../../core/gradients/catalog';

/** A top-level `runner:` naming one of the authors' runners marks a YAML file as an RBP Lab config. */
const RUNNER_RE = new RegExp(`^runner:[ \\t]*["']?(${RUNNERS.join('|')})["']?[ \\t]*(?:#.*)?$`, 'm');

export function detectRunner(text: string): RunnerName | undefined {
  const m = RUNNER_RE.exec(text);
  return m ? (m[1] as RunnerName) : undefined;
}

export function isConfigFileName(fileName: string): boolean {
  return /\.ya?ml$/i.test(fileName);
}

// ---- positions ----

export interface Pos {
  line: number;
  character: number;
}
export interface Span {
  start: Pos;
  end: Pos;
}

/** Offsets → 0-based line/character, as vscode.TextDocument.positionAt does. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  get lineCount(): number {
    return this.starts.length;
  }
  positionAt(offset: number): Pos {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: o - this.starts[lo] };
  }
  lineText(line: number): string {
    const s = this.starts[line] ?? this.text.length;
    const e = line + 1 < this.starts.length ? this.starts[line + 1] - 1 : this.text.length;
    return this.text.slice(s, e).replace(/\r$/, '');
  }
}

/** The text range of an issue: its key/value; an empty one widens to the rest of its line's word (or the whole line). */
export function issueSpan(idx: LineIndex, issue: Pick<ConfigIssue, 'offset' | 'line' | 'column'>): Span {
  let [s, e] = issue.offset;
  if (e < s) [s, e] = [e, s];
  let start = idx.positionAt(s);
  let end = idx.positionAt(e);
  // A value's range can run past its line end (into the next key's indentation): clip it.
  if (end.line > start.line) {
    const lt = idx.lineText(start.line);
    end = { line: start.line, character: lt.length };
    if (end.character <= start.character) end = { line: start.line, character: start.character + 1 };
  }
  if (end.line === start.line && end.character === start.character) {
    const lt = idx.lineText(start.line);
    if (!lt.trim()) return { start, end };
    const word = /[^\s:]+/.exec(lt.slice(start.character));
    if (word && word.index === 0) end = { line: start.line, character: start.character + word[0].length };
    else {
      const first = lt.length - lt.trimStart().length;
      start = { line: start.line, character: first };
      end = { line: start.line, character: lt.trimEnd().length };
    }
  }
  return { start, end };
}

// ---- diagnostics ----

export type Severity = 'error' | 'warning' | 'information' | 'hint';

export interface ConfigDiagnostic {
  span: Span;
  severity: Severity;
  message: string;
  /** Dotted config path ('' for syntax errors). */
  path: string;
}

export interface DataFolderOptions {
  /** The rbpLab.dataDir setting, already resolved (absolute) or ''. */
  dataDir?: string;
  /** Folders a relative dataset.path may be relative to: the workspace folder, the config's folder. */
  baseDirs: string[];
  /** $RBP_DATA_DIR */
  envDataDir?: string;
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

/** What the Problems panel shows for a config: the parser's issues (the CLI's messages) plus the data-folder check. */
export function configDiagnostics(text: string, data?: DataFolderOptions): { parsed: ParsedConfig; diagnostics: ConfigDiagnostic[] } {
  const parsed = parseConfigText(text);
  const idx = new LineIndex(text);
  const diagnostics: ConfigDiagnostic[] = parsed.issues.map((i) => ({
    span: issueSpan(idx, i),
    severity: i.severity === 'error' ? 'error' : /accepted and ignored/.test(i.message) ? 'hint' : 'information',
    message: i.message,
    path: i.path,
  }));
  if (data && !parsed.issues.some((i) => i.severity === 'error' && i.path.startsWith('dataset'))) {
    const p = dataFolderProblem(parsed, data);
    if (p) {
      const pos = parsed.positions[p.path];
      const span = pos ? issueSpan(idx, { offset: valueOffset(idx, pos), line: pos.line, column: pos.column }) : { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } };
      diagnostics.push({ span, severity: 'warning', message: p.message, path: p.path });
    }
  }
  return { parsed, diagnostics };
}

/** The key's line from the key on (key: value), for a diagnostic on a whole field. */
function valueOffset(idx: LineIndex, pos: { line: number; column: number; offset: [number, number] }): [number, number] {
  const lt = idx.lineText(pos.line - 1);
  const start = pos.offset[0];
  return [start, start + Math.max(1, lt.trimEnd().length - (pos.column - 1))];
}

// ---- CodeLens and notes placement ----

/** 0-based line of the `model:` section, where the CodeLens go (else the runner line, else 0). */
export function lensLine(parsed: ParsedConfig): number {
  const p = parsed.positions['model'] ?? parsed.positions['runner'];
  return p ? p.line - 1 : 0;
}

export interface LineNote extends InlineNote {
  /** 0-based line the note is drawn at the end of. */
  line: number;
}

/** Put each note at its field's line; a field the file does not set falls back to the model: line. */
export function placeNotes(parsed: ParsedConfig, notes: readonly InlineNote[]): LineNote[] {
  const fallback = parsed.positions['model'];
  const out: LineNote[] = [];
  for (const n of notes) {
    const p = parsed.positions[n.path] ?? fallback;
    if (p) out.push({ ...n, line: p.line - 1 });
  }
  return out;
}

const LEVEL_RANK = { info: 0, ok: 1, warn: 2, bad: 3 } as const;

/** One decoration per line: the notes of a line joined, at the worst level among them. */
export function lineDecorations(notes: readonly LineNote[]): { line: number; text: string; level: InlineNote['level']; notes: LineNote[] }[] {
  const by = new Map<number, LineNote[]>();
  for (const n of notes) by.set(n.line, [...(by.get(n.line) ?? []), n]);
  return [...by.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([line, ns]) => ({ line, notes: ns, text: ns.map((n) => n.text).join('  ·  '), level: ns.reduce<InlineNote['level']>((w, n) => (LEVEL_RANK[n.level] > LEVEL_RANK[w] ? n.level : w), 'info') }));
}

// ---- notes from a run ----

export interface InlineFns {
  notesFromGradcheck(runner: RunnerName, method: string, K: number, r: GradcheckReport): InlineNote[];
  notesFromRun(runner: RunnerName, events: readonly Envelope[]): InlineNote[];
}

/** What the notes and charts need of a run: the last event of each kind (a long run's history is not kept) and the gradient-check rows done. */
export interface RunDigest {
  events: Envelope[];
  rows: number;
}

const SKIP = new Set<string>(['metrics', 'memory', 'log']);

export function digestEvents(events: readonly Envelope[]): RunDigest {
  const d: RunDigest = { events: [], rows: 0 };
  for (const e of events) foldEvent(d, e);
  return d;
}

/** Fold one more event into a digest (in place). */
export function foldEvent(d: RunDigest, e: Envelope): void {
  if (SKIP.has(e.type)) return;
  if (e.type === 'gradcheck/row') {
    d.rows++;
    return;
  }
  d.events = [...d.events.filter((x) => x.type !== e.type), e];
}

export interface ConfigModel {
  runner: RunnerName;
  method: string;
  K: number;
}

export function configModel(parsed: ParsedConfig): ConfigModel | undefined {
  const runner = parsed.config.runner as RunnerName;
  if (!(RUNNERS as readonly string[]).includes(runner)) return undefined;
  const m = (parsed.config.model ?? {}) as Record<string, unknown>;
  const K = typeof m.truncate_iter === 'number' && Number.isInteger(m.truncate_iter) && m.truncate_iter >= 1 ? m.truncate_iter : 20;
  return { runner, method: typeof m.grad_method === 'string' ? m.grad_method : 'BPTT', K };
}

/** The K of a report closest to the config's K (the config's own when the report has it). */
export function nearestK(Ks: readonly number[], K: number): number | undefined {
  return [...Ks].sort((a, b) => Math.abs(a - K) - Math.abs(b - K) || a - b)[0];
}

export interface RunNotes {
  notes: InlineNote[];
  /** Forward relative residual per solver step of the last forward pass. */
  forward?: (number | null)[];
  /** Adjoint residual per backward iteration (the run's last backward pass, or the gradient check's row). */
  backward?: { label: string; values: (number | null)[] };
  kind: 'train' | 'gradcheck';
  status: 'running' | 'completed' | 'cancelled' | 'failed';
}

/** Notes (and chart data) for a config from one of its runs, given as compact events. */
export function notesForRun(cfg: ConfigModel, digest: RunDigest, fns: InlineFns): RunNotes {
  const events = digest.events;
  const find = <T extends Envelope['type']>(t: T) => events.find((e) => e.type === t) as Extract<Envelope, { type: T }> | undefined;
  const started = find('run/started');
  const result = find('gradcheck/result');
  const failed = find('run/failed');
  const finished = find('run/finished');
  const status: RunNotes['status'] = failed ? 'failed' : finished ? finished.status : 'running';
  const kind = started?.method === 'gradcheck' || result ? 'gradcheck' : 'train';
  const out: RunNotes = { notes: [], kind, status };
  if (result) {
    const r = result.report;
    const K = nearestK(r.Ks, cfg.K) ?? cfg.K;
    out.notes = fns.notesFromGradcheck(cfg.runner, cfg.method, K, r);
    const m = takesK(cfg.method) ? parseMethodName(cfg.method) : 'Neumann_RBP';
    const row = r.rows.find((x) => x.method === m && x.K === K && x.residualTrace.some((v) => v !== null)) ?? r.rows.find((x) => x.K === K && x.residualTrace.some((v) => v !== null));
    if (row) out.backward = { label: `${methodLabel(row.method)} adjoint residual, K = ${K} (gradient check)`, values: row.residualTrace };
  } else if (kind === 'train') {
    out.notes = fns.notesFromRun(cfg.runner, events);
    const fwd = find('trace/forward');
    if (fwd) out.forward = fwd.rel;
    const bwd = find('trace/backward');
    if (bwd && bwd.residual.some((v) => v !== null)) out.backward = { label: `${methodLabel(bwd.method)} adjoint residual per iteration (step ${bwd.step + 1})`, values: bwd.residual };
  } else if (status === 'running') {
    out.notes = [{ path: 'model.grad_method', level: 'info', text: `⋯ gradient check running (${digest.rows}/${started?.steps ?? '?'} rows)`, hover: '**Gradient check** in progress.' }];
  }
  if (failed) out.notes.push({ path: 'model.grad_method', level: 'bad', text: `✗ last ${kind === 'gradcheck' ? 'gradient check' : 'run'} failed (${failed.kind}): ${failed.reason.slice(0, 160)}`, hover: `**Last ${kind === 'gradcheck' ? 'gradient check' : 'run'} failed** (${failed.kind}): ${failed.reason}` });
  else if (status === 'running' && kind === 'train' && out.notes.length) {
    // Mark live values as such.
    out.notes = out.notes.map((n) => ({ ...n, text: n.text.replace('(last run', '(running') }));
  }
  return out;
}

/** The T field of a runner, for the hover that goes with it. */
export function tPath(runner: RunnerName): string {
  return `model.${EXPERIMENTS[runner].tField}`;
}

// ---- sparkline ----

export interface SparklineOptions {
  width?: number;
  height?: number;
  /** A dashed reference line (e.g. the 1e-4 tolerance). */
  tol?: number;
  color?: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function expLabel(v: number): string {
  const e = Math.round(v);
  return `1e${e}`;
}

/**
 * An SVG sparkline of a residual per step on a log10 scale. Non-positive and null values are left
 * out (a gap), so a series that hits exact zero still draws. Undefined when nothing is drawable.
 */
export function sparklineSvg(values: readonly (number | null)[], opts: SparklineOptions = {}): string | undefined {
  const W = opts.width ?? 260;
  const H = opts.height ?? 70;
  const padL = 34;
  const padR = 6;
  const padT = 6;
  const padB = 14;
  const pts = values.map((v, i) => (v !== null && Number.isFinite(v) && v > 0 ? ([i, Math.log10(v)] as const) : undefined));
  const ok = pts.filter((p): p is readonly [number, number] => p !== undefined);
  if (!ok.length) return undefined;
  let lo = Math.min(...ok.map((p) => p[1]));
  let hi = Math.max(...ok.map((p) => p[1]));
  if (opts.tol && opts.tol > 0) {
    lo = Math.min(lo, Math.log10(opts.tol));
    hi = Math.max(hi, Math.log10(opts.tol));
  }
  lo = Math.floor(lo);
  hi = Math.ceil(hi);
  if (hi - lo < 1) hi = lo + 1;
  const n = Math.max(1, values.length - 1);
  const x = (i: number) => padL + ((W - padL - padR) * i) / n;
  const y = (l: number) => padT + ((H - padT - padB) * (hi - l)) / (hi - lo);
  const segs: string[] = [];
  let cur: string[] = [];
  for (const p of pts) {
    if (!p) {
      if (cur.length) segs.push(cur.join(' '));
      cur = [];
    } else cur.push(`${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`);
  }
  if (cur.length) segs.push(cur.join(' '));
  const color = opts.color ?? '#3794ff';
  const grey = '#8b8b8b';
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect x="${padL}" y="${padT}" width="${W - padL - padR}" height="${H - padT - padB}" fill="none" stroke="${grey}" stroke-opacity="0.4"/>`,
    `<text x="${padL - 3}" y="${padT + 8}" font-family="sans-serif" font-size="9" fill="${grey}" text-anchor="end">${esc(expLabel(hi))}</text>`,
    `<text x="${padL - 3}" y="${H - padB}" font-family="sans-serif" font-size="9" fill="${grey}" text-anchor="end">${esc(expLabel(lo))}</text>`,
    `<text x="${padL}" y="${H - 3}" font-family="sans-serif" font-size="9" fill="${grey}">1</text>`,
    `<text x="${W - padR}" y="${H - 3}" font-family="sans-serif" font-size="9" fill="${grey}" text-anchor="end">${values.length}</text>`,
  ];
  if (opts.tol && opts.tol > 0) parts.push(`<line x1="${padL}" x2="${W - padR}" y1="${y(Math.log10(opts.tol)).toFixed(1)}" y2="${y(Math.log10(opts.tol)).toFixed(1)}" stroke="${grey}" stroke-dasharray="3,3"/>`);
  for (const s of segs) {
    if (s.includes(' ')) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${s}"/>`);
    else {
      const [cx, cy] = s.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="1.5" fill="${color}"/>`);
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

export function svgDataUri(svg: string): string {
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}

/** The command link that opens the dashboard at a run (trusted for this one command only). */
export function openDashboardLink(runId: string): string {
  return `command:rbpLab.openDashboard?${encodeURIComponent(JSON.stringify([runId]))}`;
}

/** The hover of a noted line: the notes, a residual chart of the run, and a link to the dashboard. */
export function hoverMarkdown(notes: readonly InlineNote[], run: { runId: string; notes: RunNotes }, which: 'forward' | 'backward'): string {
  const lines: string[] = [];
  for (const n of notes) lines.push(n.hover);
  const fwd = run.notes.forward;
  const bwd = run.notes.backward;
  const chart = which === 'backward' ? (bwd ? { title: bwd.label, values: bwd.values } : fwd ? { title: 'Forward relative residual per step (last run)', values: fwd } : undefined) : fwd ? { title: 'Forward relative residual per step (last run)', values: fwd } : bwd ? { title: bwd.label, values: bwd.values } : undefined;
  if (chart) {
    const svg = sparklineSvg(chart.values, { tol: 1e-4 });
    if (svg) lines.push(`${chart.title}, log scale (dashed: 1e-4):\n\n![${chart.title}](${svgDataUri(svg)})`);
  }
  lines.push(`[$(graph-line) Open ${run.runId} in the dashboard](${openDashboardLink(run.runId)})`);
  return lines.join('\n\n');
}
