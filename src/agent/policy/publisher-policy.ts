/**
 * Whether an artifact may be installed, by the publisher keys the local
 * policy pins (packages.publisherKeys): with none pinned, the server's own
 * signature (checked at download) is enough; with any pinned, the artifact
 * must carry a publisher signature of its sha256 that one of them verifies.
 * Checked before download and on every apply, so a key pinned later also
 * holds for versions already on disk.
 */
import { publisherSigned } from '../../protocol/index.js';
import type { AgentPolicy } from './agent-policy.js';
import { PolicyRefusedError } from './exec-policy.js';

export function checkPublisher(policy: AgentPolicy, artifact: { sha256: string; publisherSignature?: string | undefined }, what: string): void {
  const keys = policy.packages.publisherKeys;
  if (keys.length === 0) return;
  const where = policy.source ? `this agent's policy (${policy.source})` : "this agent's policy";
  if (!artifact.publisherSignature) throw new PolicyRefusedError(`${what} is not signed by a publisher, and ${where} pins publisher keys (sign it with corral package sign)`);
  if (!keys.some((k) => publisherSigned(k, artifact.sha256, artifact.publisherSignature!))) {
    throw new PolicyRefusedError(`${what}: its publisher signature is not from any key ${where} pins`);
  }
}
