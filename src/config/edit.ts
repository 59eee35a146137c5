/**
 * One config field set in the YAML text with the smallest edit: the value's own characters
 * replaced (its comment, the other lines and their formatting untouched), or, for a field the file
 * does not set, one line added at the end of its section, indented like the section's other keys.
 * The yaml package's Document API finds the nodes and their ranges; the edit is plain text, so the
 * extension turns it into one WorkspaceEdit (undoable, and what a quick fix applies).
 */
import { parseDocument, isMap, isScalar, isPair, stringify, type Pair, type YAMLMap } from 'yaml';

export interface TextEdit {
  /** Character offset and length of the text replaced (length 0: an insertion). */
  offset: number;
  length: number;
  text: string;
}

/** A scalar as YAML writes it on one line (strings that need quoting get it). */
function scalarText(value: string | number | boolean): string {
  return stringify(value).trimEnd();
}

/** The edit that sets `key` ('section.field') to `value` in `text`; throws when the file has no such section map. */
export function configEdit(text: string, key: string, value: string | number | boolean): TextEdit {
  const [sectionName, field] = key.split('.');
  if (!sectionName || !field) throw new Error(`config key '${key}' is not section.field`);
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length) throw new Error(`the config does not parse as YAML: ${doc.errors[0].message}`);
  const root = doc.contents;
  if (!isMap(root)) throw new Error('the config is not a YAML map');
  const sectionPair = root.items.find((p) => isScalar(p.key) && p.key.value === sectionName) as Pair | undefined;
  const section = sectionPair?.value;
  if (!isMap(section)) throw new Error(`the config has no '${sectionName}:' section`);
  const pair = (section as YAMLMap).items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === field) as Pair | undefined;
  const newText = scalarText(value);
  if (pair && isScalar(pair.value) && pair.value.range) {
    const [start, end] = pair.value.range;
    return { offset: start, length: end - start, text: newText };
  }
  if (pair) throw new Error(`'${key}' holds a ${pair.value === null ? 'missing value' : 'collection'}, not a plain value`);
  // Not set: a new line after the section's last item, indented as its first key.
  const first = section.items[0];
  const keyStart = isScalar(first?.key) && first.key.range ? first.key.range[0] : undefined;
  if (keyStart === undefined || !section.range) throw new Error(`the '${sectionName}:' section is empty or not a block map`);
  const lineStart = text.lastIndexOf('\n', keyStart - 1) + 1;
  const indent = text.slice(lineStart, keyStart);
  if (!/^[ \t]*$/.test(indent)) throw new Error(`the '${sectionName}:' section is not a block map`);
  // The end of the section's last content line (a trailing comment block of the file stays below).
  const last = section.items[section.items.length - 1];
  let lastEnd = (last.value as { range?: [number, number, number] } | null)?.range?.[1] ?? section.range[1];
  // A nested block map's range runs on to the next key's line: back to its last character.
  while (lastEnd > 0 && /\s/.test(text[lastEnd - 1])) lastEnd--;
  const eol = text.indexOf('\n', lastEnd);
  const at = eol < 0 ? text.length : eol;
  return { offset: at, length: 0, text: `\n${indent}${field}: ${newText}` };
}

/** `text` with the edit applied. */
export function applyEdit(text: string, e: TextEdit): string {
  return text.slice(0, e.offset) + e.text + text.slice(e.offset + e.length);
}
