/**
 * docs/packages.md and docs/corral.schema.json come from the manifest's zod
 * schema (npm run gen:docs): they must be current, and the docs must list
 * every field the schema has.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { manifestJsonSchema } from '../../src/protocol/index.js';
import { BEGIN_MARK, END_MARK, manifestReference } from '../../scripts/manifest-reference.js';

const docsDir = join(import.meta.dirname, '..', '..', 'docs');
const packagesMd = readFileSync(join(docsDir, 'packages.md'), 'utf8');

type Schema = { properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; oneOf?: Schema[]; allOf?: Schema[] };

/** Every property path in a JSON Schema, found without the renderer's logic: properties, array items, and every variant. */
function allPaths(s: Schema, prefix = ''): Set<string> {
  const out = new Set<string>();
  for (const [key, child] of Object.entries(s.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    out.add(path);
    for (const p of allPaths(child, path)) out.add(p);
  }
  if (s.items) for (const p of allPaths(s.items, `${prefix}[]`)) out.add(p);
  for (const v of [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])]) for (const p of allPaths(v, prefix)) out.add(p);
  return out;
}

describe('package manifest docs', () => {
  it('lists every field of the manifest schema in docs/packages.md', () => {
    const section = packagesMd.slice(packagesMd.indexOf(BEGIN_MARK), packagesMd.indexOf(END_MARK));
    const paths = allPaths(manifestJsonSchema() as Schema);
    assert.ok(paths.has('health.url') && paths.has('config.files[].template') && paths.has('agent.entry'), 'the walk reaches nested, array and variant fields');
    const missing = [...paths].filter((p) => !section.includes(`| \`${p}\``));
    assert.deepEqual(missing, [], `docs/packages.md lacks fields: run npm run gen:docs`);
  });

  it('has a generated section that is current', () => {
    assert.ok(packagesMd.includes(manifestReference()), 'docs/packages.md is out of date: run npm run gen:docs');
  });

  it('publishes the current JSON Schema in docs/corral.schema.json', () => {
    assert.deepEqual(JSON.parse(readFileSync(join(docsDir, 'corral.schema.json'), 'utf8')), manifestJsonSchema(), 'docs/corral.schema.json is out of date: run npm run gen:docs');
  });
});
