/**
 * A JSON Schema (draft-07) for experiment configs, generated from the schema table, so YAML
 * editors (e.g. Red Hat's YAML extension through `yamlValidation`) complete and check fields.
 * `schemas/rbp-config.schema.json` is this function's output (a test keeps them identical).
 */
import { SCHEMA, RUNNERS, FieldSpec, SectionSpec, RunnerName } from './schema';

function fieldSchema(f: FieldSpec): Record<string, unknown> {
  const s: Record<string, unknown> = { description: f.ignored ? `${f.description} (accepted and ignored: ${f.ignored})` : f.description };
  switch (f.type) {
    case 'string':
      if (f.enum && f.caseInsensitive) {
        // Completion offers the canonical spellings; any case and '_'/'-' variant is valid.
        s.anyOf = [{ enum: [...f.enum] }, { type: 'string', pattern: f.enum.map(insensitivePattern).join('|') }];
      } else {
        s.type = 'string';
        if (f.enum) s.enum = [...f.enum];
      }
      break;
    case 'int':
      s.type = 'integer';
      break;
    case 'number':
      s.type = 'number';
      break;
    case 'bool':
      s.type = 'boolean';
      break;
    case 'int[]':
      // The bounds hold for every item.
      s.type = 'array';
      s.items = { type: 'integer', ...bounds(f) };
      return s;
    case 'map':
      s.type = 'object';
      break;
    case 'any':
      break;
  }
  return { ...s, ...bounds(f) };
}

function bounds(f: FieldSpec): Record<string, number> {
  return { ...(f.min !== undefined ? { minimum: f.min } : {}), ...(f.max !== undefined ? { maximum: f.max } : {}) };
}

/** '^[Nn][Ee]…[_-]?…$' for a name, ignoring case and '_'/'-' (JSON Schema regexes have no /i). */
function insensitivePattern(name: string): string {
  const body = [...name.replace(/[_-]/g, '')].map((c) => (/[a-z]/i.test(c) ? `[${c.toUpperCase()}${c.toLowerCase()}]` : c)).join('[_-]?');
  return `^${body}$`;
}

function section(spec: SectionSpec): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, properties: Object.fromEntries(Object.entries(spec).map(([k, f]) => [k, fieldSchema(f)])) };
}

function runnerSchema(r: RunnerName): Record<string, unknown> {
  const spec = SCHEMA[r];
  const props: Record<string, unknown> = Object.fromEntries(Object.entries(spec.top).map(([k, f]) => [k, fieldSchema(f)]));
  props.runner = { const: r, description: spec.top.runner.description };
  props.dataset = section(spec.dataset);
  props.model = section(spec.model);
  props.train = section(spec.train);
  props.test = { type: 'object', description: 'evaluation settings (not used by this runner)' };
  return { if: { properties: { runner: { const: r } }, required: ['runner'] }, then: { properties: props, additionalProperties: false } };
}

export function configJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'rbp-lab/rbp-config.schema.json',
    title: 'RBP Lab experiment config (the authors\' schema of "Reviving and Improving Recurrent Back-Propagation")',
    type: 'object',
    required: ['runner'],
    properties: { runner: { enum: [...RUNNERS], description: 'which experiment runs' } },
    allOf: RUNNERS.map(runnerSchema),
  };
}
