/**
 * Who is calling `/v1/opamp`: an agent with its own credential or a client
 * certificate signed by the agent CA (mTLS), or anyone holding an active
 * enrollment token. Anything else is refused (HTTP 401); an expired
 * enrollment token throws EnrollmentRefusedError (401, saying so).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Store } from '../store/index.js';
import type { Principal } from './principal.js';
import { bearerToken, hashSecret } from './tokens.js';
import { enrollmentRefusal } from './enrollment-scope.js';
import { agentIdOfCertificate } from '../agent-ca.js';

export async function authenticateAgent(store: Store, authorization: string | undefined, now = Date.now(), socket?: Socket): Promise<Principal | null> {
  const certified = certifiedAgentId(socket);
  const byBearer = await authenticateBearer(store, authorization, now);
  if (certified === null) return byBearer;
  // A certificate names one agent: a bearer sent with it must name the same one (never an enrollment token, never another agent).
  if (authorization !== undefined && (byBearer?.kind !== 'agent' || byBearer.agentId !== certified)) return null;
  const agent = await store.getAgent(certified);
  if (!agent || agent.status === 'revoked') return null;
  return byBearer?.kind === 'agent' ? { ...byBearer, clientCertificate: true } : { kind: 'agent', agentId: certified, clientCertificate: true };
}

/**
 * The agent id of a client certificate the TLS layer verified against the
 * agent CA (`authorized`); null without TLS, without a certificate, or with
 * one from another CA (those peers authenticate with a bearer token only).
 */
function certifiedAgentId(socket: Socket | undefined): string | null {
  const tls = socket as TLSSocket | undefined;
  if (!tls || typeof tls.getPeerCertificate !== 'function' || !tls.authorized) return null;
  const peer = tls.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return null;
  return agentIdOfCertificate(typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined, peer.subjectaltname);
}

async function authenticateBearer(store: Store, authorization: string | undefined, now: number): Promise<Principal | null> {
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
