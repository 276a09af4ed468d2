/**
 * OpAMP's CSR flow (ConnectionSettingsRequest.opamp.certificate_request): an
 * agent authenticated as itself (its credential or its client certificate,
 * never an enrollment token alone) sends a PEM CSR; the server answers with a
 * certificate signed by the agent CA in `connection_settings.opamp.certificate`
 * (cert and CA, never a private key). Refusals are recorded as the event
 * `agent.certificate_refused` and logged; the rest of the reply is unaffected
 * (an error response would make the agent drop it).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { ConnectionSettingsOffersSchema, TLSCertificateSchema, create, type AgentToServer, type ServerToAgent } from '../../protocol/index.js';
import type { Principal } from '../auth/principal.js';
import { CsrRefusedError, type AgentCa } from '../agent-ca.js';
import type { EventSink } from './agent-event-budget.js';

export interface CertificateRequestDeps {
  /** null: the server has no --agent-ca-cert; requests are refused saying so. */
  ca: AgentCa | null;
  events: EventSink;
  log: Logger;
}

/** Answers the message's certificate request, if it has one, by filling `reply`. */
export async function answerCertificateRequest(deps: CertificateRequestDeps, msg: AgentToServer, principal: Principal, agentId: string, reply: ServerToAgent): Promise<void> {
  const csr = msg.connectionSettingsRequest?.opamp?.certificateRequest?.csr;
  if (!csr || csr.length === 0) return;
  const refuse = (why: string) => {
    deps.events.record('agent.certificate_refused', agentId, { error: why });
    deps.log.warn({ agentId, reason: why }, 'refused a certificate request');
  };
  if (!deps.ca) return refuse('this server signs no agent certificates (no --agent-ca-cert)');
  if (principal.kind !== 'agent') return refuse('an enrollment token cannot request a certificate: connect with the agent credential first');
  try {
    const issued = await deps.ca.issue(agentId, Buffer.from(csr).toString('utf8'));
    const certificate = { cert: Buffer.from(issued.certPem, 'utf8'), caCert: Buffer.from(issued.caPem, 'utf8') };
    if (reply.connectionSettings?.opamp) reply.connectionSettings.opamp.certificate = create(TLSCertificateSchema, certificate);
    else {
      reply.connectionSettings = create(ConnectionSettingsOffersSchema, {
        hash: createHash('sha256').update(issued.certPem).digest(),
        opamp: { certificate },
      });
    }
    deps.events.record('agent.certificate_issued', agentId, { serialNumber: issued.serialNumber, notAfter: issued.notAfter.toISOString() });
  } catch (e) {
    if (e instanceof CsrRefusedError) return refuse(e.message);
    throw e;
  }
}
