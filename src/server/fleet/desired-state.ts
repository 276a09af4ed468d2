/**
 * Everything an agent should be offered, as config entries: the operator's
 * named configs, plus one entry per deployment (for Corral agents only),
 * carrying the deployment spec of the revision that agent is at and its
 * per-platform artifacts.
 *
 * Which revision: the one a rollout released to the agent (kept per agent
 * in the store), else the deployment's stable revision (the last one fully
 * rolled out), else none — a deployment whose first rollout has not reached
 * an agent yet offers it nothing.
 */
import { DEPLOYMENT_CONTENT_TYPE, deploymentFileName, type DeploymentSpec } from '../../protocol/index.js';
import type { DeploymentRecord, PackageRecord, RevisionRecord, Store } from '../store/index.js';
import { compileConfigs, hashConfigFiles, mergeConfigs, type CompiledConfig, type DesiredConfig } from './remote-config.js';
import { matchesSelector, parseSelector, type Selector } from './selector.js';
import { corralAgentsOf } from './corral-agents.js';
import { isAgentDeployment } from './agent-package.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { openDeploymentSecrets } from '../secrets/secret-fields.js';
import { unpackResources } from './deployment-resources.js';


/**
 * The spec an agent gets for revision `r`. `secretValues` are the
 * revision's secrets opened (only ever for the agents it is offered to):
 * templates see them as values.
 */
export function deploymentSpec(d: DeploymentRecord, r: RevisionRecord, packages: PackageRecord[], secretValues: Record<string, string> = {}): DeploymentSpec {
  const { values, resources } = unpackResources(r.values);
  return {
    apiVersion: 'corral.io/v1',
    name: d.name,
    revision: r.revision,
    package: r.package,
    version: r.version,
    desiredState: d.desiredState,
    values: { ...values, ...secretValues },
    ...(resources ? { resources } : {}),
    artifacts: packages
      .filter((p) => p.name === r.package && p.version === r.version)
      .map((p) => ({
        os: p.os,
        arch: p.arch,
        sha256: p.sha256,
        signature: p.signature,
        ...(p.publisherSignature ? { publisherSignature: p.publisherSignature } : {}),
        size: p.size,
        path: `/api/v1/artifacts/${p.sha256}`,
      })),
  };
}

interface CompiledDeployment {
  name: string;
  /** The deployment's selector, narrowed to Corral agents (only they run services). */
  selector: Selector;
  defaultRevision: number | null;
  variants: Map<number, CompiledConfig>;
}

function compileDeployment(d: DeploymentRecord, revisions: RevisionRecord[], packages: PackageRecord[], secrets: SecretBox | null): CompiledDeployment {
  const selector = parseSelector(d.selector);
  const variants = new Map<number, CompiledConfig>();
  for (const r of revisions) {
    if (!packages.some((p) => p.name === r.package && p.version === r.version)) continue;
    const spec = deploymentSpec(d, r, packages, openDeploymentSecrets(secrets, d.name, r.secretValues, ` (revision ${r.revision})`));
    if (spec.artifacts.length === 0) continue;
    const files = { [deploymentFileName(d.name)]: { contentType: DEPLOYMENT_CONTENT_TYPE, body: JSON.stringify(spec) } };
    variants.set(r.revision, {
      record: { name: `deployment/${d.name}@${r.revision}`, selector: d.selector, files, hash: hashConfigFiles(files), createdAt: d.createdAt, updatedAt: d.updatedAt },
      selector,
    });
  }
  return {
    name: d.name,
    selector: corralAgentsOf(selector),
    defaultRevision: d.stableRevision,
    variants,
  };
}

export class DesiredState {
  private readonly cache = new Map<string, DesiredConfig | null>();

  constructor(
    private readonly configs: CompiledConfig[],
    private readonly deployments: CompiledDeployment[],
    /** `${deployment}\0${agentId}` → revision released to that agent. */
    private readonly agentRevisions: Map<string, number>,
    /** Every deployment (agent packages included): its stable revision and its revisions. */
    private readonly revisions: Map<string, { stable: number | null; byNumber: Map<number, RevisionRecord> }>,
    /** What agents echo back that is secret: see `secretsIn`. */
    private readonly secretNames: { files: Set<string>; values: Map<string, Set<string>> } = { files: new Set(), values: new Map() },
  ) {}

  /** Names of secret config files (any config), and per deployment the keys of its secret values (any revision). */
  get secrets(): { files: ReadonlySet<string>; values: ReadonlyMap<string, ReadonlySet<string>> } {
    return this.secretNames;
  }

  /** The revision of a deployment (of any kind) an agent is offered, or null for none. */
  revisionFor(deployment: string, agentId: string): RevisionRecord | null {
    const d = this.revisions.get(deployment);
    const n = d ? (this.agentRevisions.get(`${deployment}\0${agentId}`) ?? d.stable) : null;
    return n === null ? null : (d?.byNumber.get(n) ?? null);
  }

  /**
   * The merged config for an agent, with a key naming exactly what went in,
   * so agents matching the same entries share one merged result.
   */
  forAgent(agentId: string, attributes: Record<string, string>): { key: string; desired: DesiredConfig | null } {
    const matched = this.configs.filter((c) => matchesSelector(c.selector, attributes));
    for (const d of this.deployments) {
      if (!matchesSelector(d.selector, attributes)) continue;
      const revision = this.agentRevisions.get(`${d.name}\0${agentId}`) ?? d.defaultRevision;
      const variant = revision === null ? undefined : d.variants.get(revision);
      if (variant) matched.push(variant);
    }
    matched.sort((a, b) => (a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0));
    const key = matched.map((c) => c.record.name).join('\0');
    let desired = this.cache.get(key);
    if (desired === undefined) {
      desired = matched.length === 0 ? null : mergeConfigs(matched);
      this.cache.set(key, desired);
    }
    return { key, desired };
  }
}

/**
 * Builds the desired state. Secrets are opened with `secrets`; throws
 * SecretsKeyMissingError / SecretUnreadableError naming the first one that
 * cannot be (callers keep what they had: nothing is half-applied).
 */
export function compileDesiredState(input: {
  configs: Parameters<typeof compileConfigs>[0];
  deployments: DeploymentRecord[];
  revisions: RevisionRecord[];
  packages: PackageRecord[];
  agentRevisions: { deployment: string; agentId: string; revision: number }[];
  secrets?: SecretBox | null;
}): DesiredState {
  const secrets = input.secrets ?? null;
  const byDeployment = new Map<string, RevisionRecord[]>();
  for (const r of input.revisions) byDeployment.set(r.deployment, [...(byDeployment.get(r.deployment) ?? []), r]);
  const revisions = new Map(
    input.deployments.map((d) => [d.name, { stable: d.stableRevision, byNumber: new Map((byDeployment.get(d.name) ?? []).map((r) => [r.revision, r])) }]),
  );
  const secretNames = { files: new Set<string>(), values: new Map<string, Set<string>>() };
  for (const c of input.configs) for (const [name, f] of Object.entries(c.files)) if (f.secret) secretNames.files.add(name);
  for (const d of input.deployments) {
    const keys = new Set([...Object.keys(d.secretValues), ...(byDeployment.get(d.name) ?? []).flatMap((r) => Object.keys(r.secretValues))]);
    if (keys.size > 0) secretNames.values.set(d.name, keys);
  }
  return new DesiredState(
    compileConfigs(input.configs, secrets),
    // The agent's own package travels as an OpAMP top-level package offer (opamp/package-offer.ts), not as a file.
    input.deployments.filter((d) => !isAgentDeployment(d, input.packages)).map((d) => compileDeployment(d, byDeployment.get(d.name) ?? [], input.packages, secrets)),
    new Map(input.agentRevisions.map((a) => [`${a.deployment}\0${a.agentId}`, a.revision])),
    revisions,
    secretNames,
  );
}

/**
 * Loads and compiles the desired state; `secrets` opens secret values and files (see compileDesiredState);
 * `agentIds` narrows the per-agent revisions read to those agents.
 */
export async function loadDesiredState(store: Store, secrets: SecretBox | null, agentIds?: readonly string[]): Promise<DesiredState> {
  const [configs, deployments, revisions, packages, agentRevisions] = await Promise.all([
    store.listConfigs(),
    store.listDeployments(),
    store.rollouts.listRevisions(),
    store.listPackages(),
    store.rollouts.listAgentRevisions(agentIds),
  ]);
  return compileDesiredState({ configs, deployments, revisions, packages, agentRevisions, secrets });
}
