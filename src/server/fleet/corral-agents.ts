/**
 * Which agents can run deployments: Corral agents (by the service.name they
 * report), not revoked, matched by a deployment's selector. One place for
 * the offer builders, deployment status and rollouts.
 */
import { CORRAL_AGENT_SERVICE_NAME } from '../../protocol/index.js';
import type { AgentRecord } from '../store/index.js';
import { selectableAttributes } from './agent-labels.js';
import { matchesSelector, parseSelector, type Selector } from './selector.js';
import { CLAIM_PREFIX } from '../auth/label-rules.js';

export { CORRAL_AGENT_SERVICE_NAME };

/**
 * A selector narrowed to Corral agents: what a deployment's selector means.
 * Being a Corral agent is a claim (the service.name it reports): it says
 * whether the agent can run services at all, never which ones it may get;
 * that is the deployment's own selector, over trusted labels.
 */
export function corralAgentsOf(selector: Selector): Selector {
  return { ...selector, requirements: [...selector.requirements, { op: 'eq', key: `${CLAIM_PREFIX}service.name`, value: CORRAL_AGENT_SERVICE_NAME }] };
}

/** The agents a deployment targets: Corral agents, not revoked, not waiting for approval, that its selector matches. */
export function deploymentTargets(d: { selector: string }, agents: AgentRecord[]): AgentRecord[] {
  const selector = corralAgentsOf(parseSelector(d.selector));
  return agents.filter((a) => a.status !== 'revoked' && a.approval !== 'pending' && matchesSelector(selector, selectableAttributes(a)));
}
