/**
 * Turns stored agents into what the API shows: trusted labels (and where
 * they came from) apart from what the agent claims about itself, the
 * commonly wanted attributes lifted out, and the config status relative to
 * what the server currently offers.
 */
import { TOP_LEVEL_PACKAGE_NAME } from '../../protocol/index.js';
import type { AgentRecord } from '../store/index.js';
import { agentOwnLabels, selectableAttributes, trustedLabels } from './agent-labels.js';
import type { DesiredState } from './desired-state.js';
import { scrubEffectiveConfig } from '../secrets/effective-config-scrub.js';

export type ConfigState = 'NONE' | 'PENDING' | 'APPLYING' | 'APPLIED' | 'FAILED';

export interface AgentConfigState {
  desiredHash: string | null;
  reportedHash: string | null;
  status: ConfigState;
  errorMessage: string;
}

/**
 * PENDING: offered but the agent has not reported this hash yet.
 * NONE: no config matches and the agent reports none.
 */
export function configState(agent: AgentRecord, state: DesiredState): AgentConfigState {
  const { desired } = state.forAgent(agent.id, selectableAttributes(agent));
  const reported = agent.remoteConfigStatus;
  const reportedHash = reported && reported.hash !== '' ? reported.hash : null;
  const desiredHash = desired?.hash ?? null;
  if (desiredHash === null) {
    return { desiredHash, reportedHash, status: 'NONE', errorMessage: '' };
  }
  if (reported && reportedHash === desiredHash && reported.status !== 'UNSET') {
    return { desiredHash, reportedHash, status: reported.status, errorMessage: reported.errorMessage };
  }
  return { desiredHash, reportedHash, status: 'PENDING', errorMessage: '' };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The agent's own package (the OpAMP top-level package, key ''), as the
 * agent last reported it: the version it runs, the version offered, and
 * installed / installing / downloading / install-failed with the reason.
 * Null when the agent reports no top-level package (no upgrade offered yet).
 */
export function agentPackageState(agent: AgentRecord) {
  const p = agent.packageStatuses?.find((s) => s.name === TOP_LEVEL_PACKAGE_NAME);
  if (!p) return null;
  return { version: p.agentHasVersion, offeredVersion: p.serverOfferedVersion, status: p.status, error: p.errorMessage, downloadPercent: p.downloadPercent };
}

export function agentSummary(agent: AgentRecord, configs: DesiredState) {
  const attrs = { ...agent.identifyingAttributes, ...agent.nonIdentifyingAttributes };
  return {
    id: agent.id,
    name: agent.name,
    kind: agent.kind,
    status: agent.status,
    labels: trustedLabels(agent),
    operatorLabels: agent.labels,
    boundLabels: agent.boundLabels,
    claimedLabels: agentOwnLabels(agent),
    approval: agent.approval,
    enrollmentTokenId: agent.enrollmentTokenId,
    identifyingAttributes: agent.identifyingAttributes,
    nonIdentifyingAttributes: agent.nonIdentifyingAttributes,
    os: attrs['os.type'] ?? '',
    arch: attrs['host.arch'] ?? '',
    agentVersion: attrs['service.version'] ?? '',
    firstSeenAt: iso(agent.firstSeenAt),
    lastSeenAt: iso(agent.lastSeenAt),
    health: agent.health
      ? { healthy: agent.health.healthy, status: agent.health.status, lastError: agent.health.lastError }
      : null,
    config: configState(agent, configs),
    agentPackage: agentPackageState(agent),
  };
}

export function agentDetail(agent: AgentRecord, configs: DesiredState) {
  return {
    ...agentSummary(agent, configs),
    capabilities: agent.capabilities,
    healthTree: agent.health,
    // Masked when stored too; again here, for what a replica stored before it learnt of a new secret.
    effectiveConfig: agent.effectiveConfig ? scrubEffectiveConfig(agent.effectiveConfig, configs.secrets) : null,
    packageStatuses: agent.packageStatuses as unknown as Record<string, unknown>[] | null,
  };
}
