/**
 * Which package artifacts (sha256) are offered to one agent right now: the
 * artifacts of the deployment revisions in its desired config (every
 * platform of each, as its deployment files list them) and the artifact of
 * its own package when a `kind: agent` deployment offers it one. An agent's
 * credential downloads these and nothing else. The hub checks against the
 * desired state it holds; on a miss it first reads the store's fleet
 * version (one read) and reloads if another replica changed something, so
 * an agent is never refused what it was just offered elsewhere.
 */
import { DEPLOYMENT_CONTENT_TYPE } from '../../protocol/index.js';
import type { DesiredState } from '../fleet/desired-state.js';
import { agentPackageFor, type AgentPackageDeployment } from './package-offer.js';

export function offeredArtifacts(
  desired: DesiredState,
  agentPackages: AgentPackageDeployment[],
  agentId: string,
  attributes: Record<string, string>,
): Set<string> {
  const offered = new Set<string>();
  for (const file of Object.values(desired.forAgent(agentId, attributes).desired?.files ?? {})) {
    if (file.contentType !== DEPLOYMENT_CONTENT_TYPE) continue;
    // The server wrote these files itself (desired-state.ts); a deployment spec lists its artifacts.
    const spec = JSON.parse(file.body) as { artifacts?: { sha256?: unknown }[] };
    for (const a of spec.artifacts ?? []) if (typeof a.sha256 === 'string') offered.add(a.sha256);
  }
  const own = ownPackageOf(desired, agentPackages, agentId, attributes);
  if (own) offered.add(own.artifact.sha256);
  return offered;
}

/** The version and artifact of its own package an agent should run: the one a rollout released to it, else the deployment's stable one. */
export function ownPackageOf(desired: DesiredState, agentPackages: AgentPackageDeployment[], agentId: string, attributes: Record<string, string>) {
  return agentPackageFor(agentPackages, attributes, (d) => desired.revisionFor(d.name, agentId)?.version ?? null);
}
