/**
 * The field reference of docs/packages.md, rendered from the manifest's JSON
 * Schema (itself generated from the zod schema the code validates with).
 * Used by `npm run gen:docs` to write the marked section, and by a test
 * that checks the docs are current and list every field.
 */
import { manifestJsonSchema } from '../src/protocol/index.js';

type JsonSchema = {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  title?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
};

/** One documented field: its dotted path (`[]` for array items), the variant it belongs to, if any, and what the schema says. */
export interface ManifestField {
  path: string;
  /** e.g. `type: http` for a field of one health-check variant; null when it always applies. */
  when: string | null;
  type: string;
  required: boolean;
  default: unknown;
  description: string;
}

export const BEGIN_MARK = '<!-- BEGIN GENERATED: manifest fields. Edit src/protocol/package-manifest.ts, then run npm run gen:docs -->';
export const END_MARK = '<!-- END GENERATED: manifest fields -->';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  const variants = s.anyOf ?? s.oneOf;
  if (variants) {
    const consts = variants.map((v) => v.properties?.type?.const);
    if (consts.every((c) => typeof c === 'string')) return `one of ${consts.length} check types (see \`type\`)`;
    return variants.map(typeOf).join(' or ');
  }
  const bounds: string[] = [];
  if (s.minimum !== undefined) bounds.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) bounds.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum !== MAX_SAFE) bounds.push(`≤ ${s.maximum}`);
  const range = bounds.length > 0 ? ` (${bounds.join(', ')})` : '';
  switch (s.type) {
    case 'array':
      return `list of ${s.items ? typeOf(s.items) : 'any'}`;
    case 'object':
      return s.properties ? 'object' : `map of name → ${typeof s.additionalProperties === 'object' ? typeOf(s.additionalProperties) : 'any'}`;
    case 'integer':
      return `integer${range}`;
    case 'number':
      return `number${range}`;
    case 'string':
      return 'string';
    default:
      return s.type ?? 'any';
  }
}

/** Every field of a manifest schema, depth first, in the schema's order. */
export function manifestFields(schema: JsonSchema, prefix = '', when: string | null = null): ManifestField[] {
  const out: ManifestField[] = [];
  const required = new Set(schema.required ?? []);
  for (const [key, field] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    out.push({ path, when, type: typeOf(field), required: required.has(key), default: field.default, description: field.description ?? '' });
    out.push(...childFields(field, path, when));
  }
  return out;
}

function childFields(field: JsonSchema, path: string, when: string | null): ManifestField[] {
  if (field.type === 'array' && field.items?.properties) return manifestFields(field.items, `${path}[]`, when);
  if (field.properties) return manifestFields(field, path, when);
  const variants = field.oneOf ?? field.anyOf;
  if (!variants?.every((v) => v.properties)) return [];
  // Variants told apart by `type`: fields all of them share once, the rest under "type: X".
  const all = variants.map((v) => manifestFields(v, path, `type: ${String(v.properties?.type?.const)}`));
  const key = (f: ManifestField) => JSON.stringify({ ...f, when: null });
  const shared = all[0]!.filter((f) => all.every((fields) => fields.some((g) => key(g) === key(f))));
  const sharedKeys = new Set(shared.map(key));
  const typeRow = shared.find((f) => f.path === `${path}.type`);
  const rows = shared.filter((f) => f !== typeRow).map((f) => ({ ...f, when }));
  const types = all.flatMap((fields) => fields.filter((f) => f.path === `${path}.type`));
  const merged: ManifestField[] = [
    {
      path: `${path}.type`,
      when,
      type: types.map((t) => t.type).join(' \\| '),
      required: true,
      default: undefined,
      description: types.map((t) => t.description).join(' '),
    },
  ];
  for (const fields of all) merged.push(...fields.filter((f) => f.path !== `${path}.type` && !sharedKeys.has(key(f))));
  return [...merged, ...rows];
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function table(fields: ManifestField[]): string {
  const lines = ['| field | type | default | what it does |', '|---|---|---|---|'];
  for (const f of fields) {
    const name = `\`${f.path}\`${f.when ? ` (${f.when})` : ''}`;
    const dflt = f.required ? '**required**' : f.default === undefined ? '—' : `\`${JSON.stringify(f.default)}\``;
    lines.push(`| ${name} | ${f.type.includes('\\|') ? f.type : cell(f.type)} | ${cell(dflt)} | ${cell(f.description)} |`);
  }
  return lines.join('\n');
}

/** The generated section of docs/packages.md, marks included. */
export function manifestReference(): string {
  const [service, agent] = (manifestJsonSchema().anyOf as JsonSchema[]).map((s) => manifestFields(s));
  return [
    BEGIN_MARK,
    '',
    '### A service package (`kind: service`, the default)',
    '',
    table(service!),
    '',
    '### An agent package (`kind: agent`)',
    '',
    table(agent!),
    '',
    END_MARK,
  ].join('\n');
}

/** `text` with its generated section replaced by `section`. Throws when the marks are missing. */
export function replaceGenerated(text: string, section: string): string {
  const begin = text.indexOf(BEGIN_MARK);
  const end = text.indexOf(END_MARK);
  if (begin < 0 || end < begin) throw new Error(`docs/packages.md has no generated section (between "${BEGIN_MARK}" and "${END_MARK}")`);
  return text.slice(0, begin) + section + text.slice(end + END_MARK.length);
}
