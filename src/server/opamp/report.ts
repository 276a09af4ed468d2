/**
 * Converts what an agent reports in an AgentToServer into store records.
 * Agent input is hostile: sizes are bounded by the transport (64 MiB), and
 * here every string is taken as data, never interpreted.
 */
import {
  PackageStatusEnum,
  RemoteConfigStatuses,
  keyValuesToRecord,
  type AgentToServer,
  type ComponentHealth,
} from '../../protocol/index.js';
import { CORRAL_AGENT_SERVICE_NAME } from '../fleet/corral-agents.js';
import type { AgentReportPatch, HealthRecord, PackageStatusRecord, RemoteConfigStatusRecord } from '../store/index.js';

const MAX_HEALTH_DEPTH = 16;

const nanosToMs = (n: bigint): number => Number(n / 1_000_000n);

export function healthRecord(h: ComponentHealth, depth = 0): HealthRecord {
  const components: Record<string, HealthRecord> = {};
  if (depth < MAX_HEALTH_DEPTH) {
    for (const [name, c] of Object.entries(h.componentHealthMap)) components[name] = healthRecord(c, depth + 1);
  }
  return {
    healthy: h.healthy,
    startTimeMs: nanosToMs(h.startTimeUnixNano),
    lastError: h.lastError,
    status: h.status,
    statusTimeMs: nanosToMs(h.statusTimeUnixNano),
    components,
  };
}

const REMOTE_CONFIG_STATE: Record<number, RemoteConfigStatusRecord['status']> = {
  [RemoteConfigStatuses.RemoteConfigStatuses_UNSET]: 'UNSET',
  [RemoteConfigStatuses.RemoteConfigStatuses_APPLIED]: 'APPLIED',
  [RemoteConfigStatuses.RemoteConfigStatuses_APPLYING]: 'APPLYING',
  [RemoteConfigStatuses.RemoteConfigStatuses_FAILED]: 'FAILED',
};

const PACKAGE_STATUS: Record<number, string> = {
  [PackageStatusEnum.PackageStatusEnum_Installed]: 'installed',
  [PackageStatusEnum.PackageStatusEnum_InstallPending]: 'install-pending',
  [PackageStatusEnum.PackageStatusEnum_Installing]: 'installing',
  [PackageStatusEnum.PackageStatusEnum_InstallFailed]: 'install-failed',
  [PackageStatusEnum.PackageStatusEnum_Downloading]: 'downloading',
};

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

/** The store patch for everything this message carries; empty for a bare heartbeat. */
export function reportPatch(msg: AgentToServer): AgentReportPatch {
  const patch: AgentReportPatch = {};
  if (msg.agentDescription) {
    const identifying = keyValuesToRecord(msg.agentDescription.identifyingAttributes);
    const nonIdentifying = keyValuesToRecord(msg.agentDescription.nonIdentifyingAttributes);
    patch.identifyingAttributes = identifying;
    patch.nonIdentifyingAttributes = nonIdentifying;
    patch.kind = identifying['service.name'] === CORRAL_AGENT_SERVICE_NAME ? 'corral' : 'opamp';
    patch.name =
      nonIdentifying['corral.agent.name'] ??
      nonIdentifying['host.name'] ??
      identifying['host.name'] ??
      identifying['service.name'] ??
      '';
  }
  if (msg.health) patch.health = healthRecord(msg.health);
  if (msg.effectiveConfig) {
    const files: Record<string, { contentType: string; body: string }> = {};
    for (const [name, f] of Object.entries(msg.effectiveConfig.configMap?.configMap ?? {})) {
      files[name] = { contentType: f.contentType, body: text(f.body) };
    }
    patch.effectiveConfig = { files };
  }
  if (msg.remoteConfigStatus) {
    patch.remoteConfigStatus = {
      hash: hex(msg.remoteConfigStatus.lastRemoteConfigHash),
      status: REMOTE_CONFIG_STATE[msg.remoteConfigStatus.status] ?? 'UNSET',
      errorMessage: msg.remoteConfigStatus.errorMessage,
    };
  }
  if (msg.packageStatuses) {
    const packages: PackageStatusRecord[] = Object.entries(msg.packageStatuses.packages).map(([name, p]) => ({
      name: p.name || name,
      agentHasVersion: p.agentHasVersion,
      agentHasHash: hex(p.agentHasHash),
      serverOfferedVersion: p.serverOfferedVersion,
      serverOfferedHash: hex(p.serverOfferedHash),
      status: PACKAGE_STATUS[p.status] ?? `unknown(${p.status})`,
      errorMessage: p.errorMessage,
      downloadPercent: p.downloadDetails ? p.downloadDetails.downloadPercent : null,
    }));
    patch.packageStatuses = packages;
  }
  if (msg.capabilities !== 0n) patch.capabilities = Number(msg.capabilities & 0xffff_ffffn);
  return patch;
}

/** True when a patch carries more than the capabilities every message repeats. */
export function patchHasNews(patch: AgentReportPatch): boolean {
  return Object.keys(patch).some((k) => k !== 'capabilities');
}
