/**
 * The package manifest's JSON Schema, generated from the zod schemas the
 * code validates with (package-manifest.ts), so editors, docs and the
 * validator cannot drift. `docs/corral.schema.json` is this, written by
 * `npm run gen:docs`; the server serves it at /api/v1/manifest.schema.json.
 * Checks zod cannot express in JSON Schema (a relative path without "..",
 * a URL once placeholders are filled) are enforced by corral itself.
 */
import { z } from 'zod';
import { AgentPackageManifestSchema, PackageManifestSchema } from './package-manifest.js';

export const MANIFEST_SCHEMA_ID = 'https://corral.io/schemas/corral.schema.json';

type JsonSchema = Record<string, unknown>;

const schemaOf = (schema: z.ZodType): JsonSchema => {
  // io: input — what a person writes, so fields with defaults are optional.
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

/** The JSON Schema of corral.yaml: a service package, or (kind: agent) the Corral agent itself. */
export function manifestJsonSchema(): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: MANIFEST_SCHEMA_ID,
    title: 'Corral package manifest (corral.yaml)',
    description: 'corral.yaml at the root of a Corral package tar.gz. Generated from the schema Corral validates with; see docs/packages.md.',
    anyOf: [
      { title: 'A service package', ...schemaOf(PackageManifestSchema) },
      { title: 'An agent package (kind: agent)', ...schemaOf(AgentPackageManifestSchema) },
    ],
  };
}
