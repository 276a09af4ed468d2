/**
 * When an agent is offered its remote config (again): the decision follows
 * what the agent reports, not only what this server process remembers
 * having sent, so an agent that lost an offer (a restart, a lost HTTP reply)
 * gets it again on either transport.
 *
 * - `sequence_num` tells a continuing agent from a new instance of it: a
 *   number that goes back (or to 0) is a restart, which starts the session
 *   over (nothing offered yet, nothing known to be applied); a jump forward
 *   is a gap (we may have missed its messages, it may have missed our
 *   replies), after which everything due is offered again.
 * - A remote config status naming another config than the one last offered
 *   means the agent does not run what it was offered: the offer is due again.
 * - An offer is never repeated while the agent's reports are consistent with
 *   it, so a steady agent is not sent its config on every heartbeat.
 */
import { hashConfigFiles, type DesiredConfig } from '../fleet/remote-config.js';
import type { AgentReportPatch, DeploymentRecord, PackageRecord } from '../store/index.js';
import { configOffer } from './offers.js';
import { topLevelPackageOffer } from './package-offer.js';
import type { Session } from './session.js';

/** first: no earlier message known; next: sequence_num + 1; gap: a jump or repeat; restart: back to 0 or below the last one. */
export type SequenceStep = 'first' | 'next' | 'gap' | 'restart';

export function classifySequence(lastSeq: bigint | null, seq: bigint): SequenceStep {
  if (lastSeq === null) return 'first';
  if (seq === lastSeq + 1n) return 'next';
  if (seq === 0n || seq < lastSeq) return 'restart';
  return 'gap';
}

/**
 * Forgets what the session believed was offered (and, on a restart, what
 * the agent had reported): a new instance of the agent starts from nothing,
 * and what it has, it reports in this message or its full state.
 */
export function startOver(session: Session, step: SequenceStep, patch: AgentReportPatch): void {
  if (step !== 'gap' && step !== 'restart') return;
  session.offeredConfigHash = null;
  session.offeredPackagesHash = null;
  if (step === 'restart') {
    session.reportedConfigHash = null;
    session.reportedPackagesHash = null;
    session.capabilitiesSent = false;
    // The store forgets the old instance's statuses too, unless this message reports new ones.
    patch.remoteConfigStatus ??= null;
    patch.packageStatuses ??= null;
  }
}

/** The agent reported the remote config it has (hex hash, '' for none). */
export function noteReportedConfig(session: Session, hash: string): void {
  session.reportedConfigHash = hash;
  // It reports something other than our last offer: it did not take it, so the offer is due again.
  if (session.offeredConfigHash !== null && hash !== session.offeredConfigHash) session.offeredConfigHash = null;
}

/** The hash of "no config": what an agent reports after it dropped its config. */
export const EMPTY_CONFIG_HASH = hashConfigFiles({});

/**
 * The remote config to send now, if any: when the agent should have
 * `desired` (null: no config) but reports something else, and it has not
 * been offered it since its last report said otherwise.
 */
export function pendingConfigOffer(session: Session, desired: DesiredConfig | null, acceptsRemoteConfig: boolean) {
  if (!acceptsRemoteConfig) return undefined;
  const desiredHash = desired?.hash ?? EMPTY_CONFIG_HASH;
  const reported = session.reportedConfigHash ?? '';
  if (desiredHash === session.offeredConfigHash) return undefined;
  if (desiredHash === reported) return undefined;
  // Nothing to run and nothing reported: nothing to drop.
  if (!desired && (reported === '' || reported === EMPTY_CONFIG_HASH)) return undefined;
  session.offeredConfigHash = desiredHash;
  return configOffer(desired);
}

/**
 * The agent's own package to offer (`chosen`: what it should run, from
 * `agentPackageFor`), unless it was sent this offer since it last reported
 * otherwise or it reports having it (installed or failed). Only to agents on
 * their own credential: an enrolling agent reconnects with it first, and the
 * offer carries that credential for the download. `baseUrl`: the server's
 * public http(s) base.
 */
export function pendingPackagesOffer(
  session: Session,
  chosen: { version: string; artifact: Pick<PackageRecord, 'sha256' | 'signature'>; deployment: DeploymentRecord } | null,
  baseUrl: string,
) {
  if (!chosen || session.principal.kind !== 'agent') return undefined;
  const { offer, allPackagesHash } = topLevelPackageOffer({ version: chosen.version }, chosen.artifact, { baseUrl, authorization: session.principal.authorization });
  if (allPackagesHash === session.offeredPackagesHash || allPackagesHash === session.reportedPackagesHash) return undefined;
  session.offeredPackagesHash = allPackagesHash;
  return offer;
}
