/**
 * Which packages are the Corral agent itself (`kind: agent` in the
 * manifest). A deployment of one is not a service: it upgrades the agents
 * it selects (offered as OpAMP's top-level package, see
 * opamp/package-offer.ts), and rollouts count it healthy differently.
 */
import type { DeploymentRecord, PackageRecord } from '../store/index.js';

export function isAgentPackage(p: Pick<PackageRecord, 'manifest'>): boolean {
  return p.manifest.kind === 'agent';
}

/** True when the deployment's package version is a `kind: agent` package. */
export function isAgentDeployment(d: Pick<DeploymentRecord, 'package' | 'version'>, packages: PackageRecord[]): boolean {
  return packages.some((p) => p.name === d.package && p.version === d.version && isAgentPackage(p));
}
