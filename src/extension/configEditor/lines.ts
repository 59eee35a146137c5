/** Positions in a config's text: offsets to 0-based line/character (as vscode.TextDocument does), and the span an issue covers. */
import type { ConfigIssue } from '../../config/load';

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
