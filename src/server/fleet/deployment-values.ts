/**
 * Deploy-time check of a deployment's values against what its package's
 * manifest fills from them outside config files: the health check's
 * placeholders (`{{ port }}` in an http url or tcp port). Config templates
 * are checked by the agent when it installs (the server does not open
 * archives at deploy time); a missing health-check value is refused here,
 * before any agent is offered the change.
 */
import { PackageManifestSchema, healthValuesProblem } from '../../protocol/index.js';
import type { PackageRecord } from '../store/index.js';
import { ValidationError } from '../errors.js';
import { scrubText } from '../secrets/secret-fields.js';

/**
 * Throws ValidationError (field `values`) naming the package, the field and
 * the missing value. Secret values fill placeholders as values do; a message
 * that would quote one shows the mask instead.
 */
export function checkDeploymentValues(pkg: PackageRecord, values: Readonly<Record<string, string>>, secretValues: Readonly<Record<string, string>> = {}): void {
  const manifest = PackageManifestSchema.safeParse(pkg.manifest);
  // An agent package (or a manifest this server version cannot read) has no service health check to fill.
  if (!manifest.success) return;
  const problem = healthValuesProblem(manifest.data.health, { ...values, ...secretValues });
  if (problem) throw new ValidationError(`${pkg.name}@${pkg.version}: ${scrubText(problem, Object.values(secretValues))}`, 'values');
}
