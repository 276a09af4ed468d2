/**
 * The Corral agent's own package as an OpAMP offer.
 *
 * A deployment whose package is `kind: agent` is not a service: it is offered
 * to the Corral agents its selector matches as the top-level package in
 * `ServerToAgent.packages_available` (key `''`, type TopLevel), never as a
 * deployment config file. When several such deployments match one agent, the
 * one whose name sorts last wins (as with config files). Hashes cover what
 * the agent installs (version, artifact sha256 and signature), not the
 * per-agent download header, so an unchanged offer hashes the same for every
 * agent and is not sent again.
 */
import {
  PackageType,
  PackagesAvailableSchema,
  TOP_LEVEL_PACKAGE_NAME,
  create,
  type PackagesAvailable,
} from '../../protocol/index.js';
import type { DeploymentRecord, PackageRecord, Store } from '../store/index.js';
import { matchesSelector, parseSelector, type Selector } from '../fleet/selector.js';
import { corralAgentsOf } from '../fleet/corral-agents.js';
import { lengthPrefixedSha256 as lengthPrefixed } from '../fleet/remote-config.js';
import { isAgentDeployment, isAgentPackage } from '../fleet/agent-package.js';


export interface AgentPackageDeployment {
  record: DeploymentRecord;
  /** The deployment's selector, restricted to Corral agents. */
  selector: Selector;
  /** The published artifacts of the deployment's package, every version and platform. */
  artifacts: PackageRecord[];
}

export { isAgentDeployment, isAgentPackage };

/** The `kind: agent` deployments, sorted by name, with their selectors and artifacts. */
export function compileAgentDeployments(deployments: DeploymentRecord[], packages: PackageRecord[]): AgentPackageDeployment[] {
  return deployments
    .filter((d) => isAgentDeployment(d, packages))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((record) => {
      const selector = parseSelector(record.selector);
      return {
        record,
        selector: corralAgentsOf(selector),
        artifacts: packages.filter((p) => p.name === record.package),
      };
    });
}

export async function loadAgentDeployments(store: Store): Promise<AgentPackageDeployment[]> {
  const [deployments, packages] = await Promise.all([store.listDeployments(), store.listPackages()]);
  return compileAgentDeployments(deployments, packages);
}

/** The artifact for a platform: an exact arch match, else one built for any arch. */
export function agentArtifactFor(artifacts: PackageRecord[], os: string, arch: string): PackageRecord | undefined {
  return artifacts.find((a) => a.os === os && a.arch === arch) ?? artifacts.find((a) => a.os === os && a.arch === 'any');
}

/**
 * The version and artifact an agent with these attributes (labels and
 * description, including `os.type` and `host.arch`) should run; null when no
 * agent deployment matches, the agent is not due any version of it yet
 * (`versionOf` gives the version a rollout released to it), or there is no
 * artifact for its platform.
 */
export function agentPackageFor(
  compiled: AgentPackageDeployment[],
  attributes: Record<string, string>,
  versionOf: (d: DeploymentRecord) => string | null = (d) => d.version,
): { deployment: DeploymentRecord; version: string; artifact: PackageRecord } | null {
  for (let i = compiled.length - 1; i >= 0; i--) {
    const c = compiled[i]!;
    if (!matchesSelector(c.selector, attributes)) continue;
    const version = versionOf(c.record);
    if (version === null) return null;
    const artifact = agentArtifactFor(
      c.artifacts.filter((a) => a.version === version),
      attributes['os.type'] ?? '',
      attributes['host.arch'] ?? '',
    );
    return artifact ? { deployment: c.record, version, artifact } : null;
  }
  return null;
}

/**
 * The PackagesAvailable offer of one agent package artifact.
 * `baseUrl` is the server's public http(s) base; `authorization` the header
 * the agent should send with the download (its own credential), if known.
 * Returns the offer and its all_packages_hash (hex).
 */
export function topLevelPackageOffer(
  deployment: Pick<DeploymentRecord, 'version'>,
  artifact: Pick<PackageRecord, 'sha256' | 'signature' | 'publisherSignature'>,
  opts: { baseUrl: string; authorization?: string | undefined },
): { offer: PackagesAvailable; allPackagesHash: string } {
  // The file's signature is the server's ed25519 signature, followed by the publisher's when there is one (64 + 64 bytes).
  const signatures = artifact.signature + (artifact.publisherSignature ?? '');
  const packageHash = lengthPrefixed([TOP_LEVEL_PACKAGE_NAME, 'TopLevel', deployment.version, artifact.sha256, artifact.signature, ...(artifact.publisherSignature ? [artifact.publisherSignature] : [])]);
  const allPackagesHash = lengthPrefixed([TOP_LEVEL_PACKAGE_NAME, packageHash.toString('hex')]);
  const offer = create(PackagesAvailableSchema, {
    packages: {
      [TOP_LEVEL_PACKAGE_NAME]: {
        type: PackageType.PackageType_TopLevel,
        version: deployment.version,
        hash: packageHash,
        file: {
          downloadUrl: `${opts.baseUrl}/api/v1/artifacts/${artifact.sha256}`,
          contentHash: Buffer.from(artifact.sha256, 'hex'),
          signature: Buffer.from(signatures, 'hex'),
          ...(opts.authorization ? { headers: { headers: [{ key: 'Authorization', value: opts.authorization }] } } : {}),
        },
      },
    },
    allPackagesHash,
  });
  return { offer, allPackagesHash: allPackagesHash.toString('hex') };
}
