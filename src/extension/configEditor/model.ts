/**
 * The vscode-free half of the config editor: which YAML files are experiment configs, what the
 * Problems panel shows, where the CodeLens and the inline notes go. Beside it: `lines.ts`
 * (positions), `dataFolder.ts` (the missing-data check), `digest.ts` (runs → notes),
 * `sparkline.ts` and `hover.ts`. index.ts turns these into CodeLens, diagnostics, decorations and
 * hovers; test/extension/configEditor.test.ts tests them.
 */
import { parseConfigText, type ParsedConfig } from '../../config/load';
import { RUNNERS, type RunnerName } from '../../config/schema';
import type { InlineNote } from '../../config/inline';
import { LineIndex, issueSpan, type Span } from './lines';
import { dataFolderProblem, type DataFolderOptions } from './dataFolder';
import { resolveModuleFile } from '../../config/modulePath';

/** A top-level `runner:` naming one of the authors' runners marks a YAML file as an RBP Lab config. */
const RUNNER_RE = new RegExp(`^runner:[ \\t]*["']?(${RUNNERS.join('|')})["']?[ \\t]*(?:#.*)?$`, 'm');

export function detectRunner(text: string): RunnerName | undefined {
  const m = RUNNER_RE.exec(text);
  return m ? (m[1] as RunnerName) : undefined;
}

export type Severity = 'error' | 'warning' | 'information' | 'hint';

export interface ConfigDiagnostic {
  span: Span;
  severity: Severity;
  message: string;
  /** Dotted config path ('' for syntax errors). */
  path: string;
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
  // ModuleRunner: the model module must exist (relative to the config's folder); it is never loaded here.
  if (data?.configDir && parsed.config.runner === 'ModuleRunner' && !parsed.issues.some((i) => i.severity === 'error' && i.path.startsWith('model'))) {
    const r = resolveModuleFile((parsed.config.model as Record<string, unknown> | undefined)?.module, data.configDir);
    if ('problem' in r) {
      const pos = parsed.positions['model.module'] ?? parsed.positions.model ?? parsed.positions.runner;
      const span = pos ? issueSpan(idx, { offset: valueOffset(idx, pos), line: pos.line, column: pos.column }) : { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } };
      diagnostics.push({ span, severity: 'error', message: r.problem, path: 'model.module' });
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
