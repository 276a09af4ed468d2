/**
 * Who is calling `/v1/opamp`: an agent with its own credential, or anyone
 * holding an active enrollment token. Anything else is refused (HTTP 401);
 * an expired enrollment token throws EnrollmentRefusedError (401, saying so).
 */
import type { Store } from '../store/index.js';
import type { Principal } from './principal.js';
import { bearerToken, hashSecret } from './tokens.js';
import { enrollmentRefusal } from './enrollment-scope.js';

export async function authenticateAgent(store: Store, authorization: string | undefined, now = Date.now()): Promise<Principal | null> {
  const token = bearerToken(authorization);
  if (!token) return null;
  const hash = hashSecret(token);
  const agent = await store.findAgentByCredentialHash(hash);
  if (agent) return agent.status === 'revoked' ? null : { kind: 'agent', agentId: agent.id, authorization: `Bearer ${token}` };
  // A credential replaced by a rotation works until its grace window ends (the agent is then offered a new one again).
  const rotated = await store.credentials.findAgentByPreviousCredentialHash(hash, now);
  if (rotated) return { kind: 'agent', agentId: rotated, authorization: `Bearer ${token}`, previousCredential: true };
  const record = await store.findActiveTokenByHash(hash);
  if (record?.kind !== 'enrollment') return null;
  const refusal = enrollmentRefusal(record, now);
  if (refusal) throw refusal;
  return { kind: 'enrollment', tokenId: record.id, tokenName: record.name, maxAgents: record.maxAgents };
}
