/**
 * Who may speak for an instance uid. An enrolled agent (one that holds its
 * own credential) is reachable only through that credential: a peer that
 * presents its uid with an enrollment token is treated as OpAMP's duplicate
 * instance uid case and told to use a new uid (ServerToAgent
 * `agent_identification.new_instance_uid`), with nothing else in the reply —
 * no credential, no config, no packages — and no session, so it never
 * replaces the real agent's connection nor answers its requests.
 *
 * Why a new uid rather than a refusal: the spec's duplicate-uid handling is
 * exactly this, it gives an attacker nothing the enrollment token did not
 * already give (enrolling as a new agent), and a legitimate agent that lost
 * its credential reply (or was cloned from an enrolled host's image) can
 * carry on as a new agent instead of being locked out.
 */
import { randomBytes } from 'node:crypto';
import { ServerErrorResponseType, ServerToAgentSchema, create, type ServerToAgent } from '../../protocol/index.js';
import type { AgentRecord, Store } from '../store/index.js';
import type { Principal } from '../auth/principal.js';
import { AgentRevokedError, TokenRevokedError } from '../errors.js';
import { inactiveEnrollmentTokens } from './token-sessions.js';
import type { Transport } from './session.js';

/** True when `principal` may not act as this agent: an enrollment token presenting the uid of an enrolled agent. */
export function claimsEnrolledIdentity(principal: Principal, known: Pick<AgentRecord, 'credentialHash'> | null): boolean {
  return principal.kind === 'enrollment' && known !== null && known.credentialHash !== null;
}

/**
 * Checks an enrollment-token peer before it may speak for `agentId`: on
 * every HTTP request and on the first message of a WebSocket connection
 * (later messages on it are the same peer). `refused`: the uid belongs to
 * an enrolled agent (reply with `reassignedReply`). `known`: the agent's
 * record when it was read (undefined when not checked). Throws
 * AgentRevokedError for a revoked agent, and TokenRevokedError when the
 * connection's token was revoked after it authenticated.
 */
export async function guardIdentity(
  store: Store,
  ctx: { principal: Principal; transport: Transport; bound?: unknown },
  agentId: string,
): Promise<{ known?: AgentRecord | null; refused?: true }> {
  if (ctx.principal.kind !== 'enrollment' || ctx.bound) return {};
  const known = await store.getAgent(agentId);
  if (known?.status === 'revoked') throw new AgentRevokedError(agentId);
  if (claimsEnrolledIdentity(ctx.principal, known)) return { known, refused: true };
  // HTTP requests are authenticated one by one; a WebSocket was authenticated at its upgrade, maybe before a revocation.
  if (ctx.transport === 'ws' && (await inactiveEnrollmentTokens(store, [ctx.principal])).size > 0) throw new TokenRevokedError(ctx.principal.tokenId);
  return { known };
}

/** A fresh 16-byte instance uid (UUID v4 layout). */
export function newInstanceUid(): Uint8Array {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return new Uint8Array(b);
}

/** A BAD_REQUEST error response: the message names what was wrong with the identity presented. */
export function errorReply(instanceUid: Uint8Array, message: string): ServerToAgent {
  return create(ServerToAgentSchema, {
    instanceUid,
    errorResponse: { type: ServerErrorResponseType.ServerErrorResponseType_BadRequest, errorMessage: message },
  });
}

/** The whole reply to a claim on an enrolled agent's uid: use this new uid from now on. */
export function reassignedReply(instanceUid: Uint8Array, capabilities: bigint): ServerToAgent {
  return create(ServerToAgentSchema, {
    instanceUid,
    capabilities,
    agentIdentification: { newInstanceUid: newInstanceUid() },
  });
}
