/**
 * A deployment's `resources` override (limits merged over the package
 * manifest's, field by field), kept with its revision's values.
 *
 * Stored inside the values map under the reserved key `@resources` (its
 * JSON), which no operator value can use (value names start with a letter
 * or _): so it is versioned with the revision, a change of it goes out as a
 * rollout and a rollback restores it, with no schema change. Only this file
 * knows the key: records are unpacked before they leave the server (API
 * views, the spec agents are offered).
 */
import { compileResources, effectiveResources, PackageManifestSchema, ResourcesError, type Resources } from '../../protocol/index.js';
import type { PackageRecord } from '../store/index.js';
import { ValidationError } from '../errors.js';

const KEY = '@resources';

/** Values with the override folded in (none, or an empty one: the values as they are). */
export function packResources(values: Record<string, string>, resources: Resources | undefined): Record<string, string> {
  const { [KEY]: _old, ...rest } = values;
  if (!resources || Object.keys(resources).length === 0) return rest;
  return { ...rest, [KEY]: JSON.stringify(resources) };
}

/** The operator's values and the override, apart. A stored override that no longer parses is dropped (the manifest's limits apply). */
export function unpackResources(values: Record<string, string>): { values: Record<string, string>; resources?: Resources } {
  const { [KEY]: packed, ...rest } = values;
  if (packed === undefined) return { values: rest };
  try {
    const resources = JSON.parse(packed) as Resources;
    compileResources(resources);
    return { values: rest, resources };
  } catch {
    return { values: rest };
  }
}

/** Throws ValidationError (field `resources`) when the override is invalid, alone or merged over the package's own limits. */
export function checkDeploymentResources(pkg: PackageRecord, resources: Resources | undefined): void {
  if (!resources) return;
  const manifest = PackageManifestSchema.safeParse(pkg.manifest);
  try {
    compileResources(resources);
    if (manifest.success) effectiveResources(manifest.data.resources, resources);
  } catch (e) {
    if (e instanceof ResourcesError) throw new ValidationError(`${pkg.name}@${pkg.version}: ${e.message}`, 'resources');
    throw e;
  }
}
