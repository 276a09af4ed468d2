/**
 * Trusted labels and claims: the two things a selector can see of an agent.
 *
 * - Trusted labels come from whoever the server trusts to say where an agent
 *   belongs: the enrollment token it enrolled with (`boundLabels`), overridden
 *   by an operator (`labels`, set with `corral label`). A plain selector term
 *   (`env=prod`, `!canary`) matches these only.
 * - Claims are what the agent reports about itself: every description
 *   attribute (`host.arch`, `service.name`, ...) and the labels a Corral
 *   agent reports from its own `--label` flags (`corral.label.<key>`
 *   attributes, also claimable as `<key>`). A selector matches them only
 *   through the explicit `claim.` form (`claim.host.arch=arm64`,
 *   `claim.env=prod`), so no report can ever set or override a trusted key.
 */
import type { AgentRecord } from '../store/index.js';
import { CLAIM_PREFIX, SERVER_FACT_PREFIX } from '../auth/label-rules.js';

export const AGENT_LABEL_PREFIX = 'corral.label.';
/** Selector key for the agent's id (its instance uid, which the server assigned or verified): `corral.io/id in (a,b)`. */
export const AGENT_ID_KEY = `${SERVER_FACT_PREFIX}id`;

type Labelled = Pick<AgentRecord, 'labels' | 'boundLabels'>;
type Described = Pick<AgentRecord, 'identifyingAttributes' | 'nonIdentifyingAttributes'>;

/** Labels the agent reported about itself (from `corral.label.*` attributes): claims. */
export function agentOwnLabels(agent: Pick<AgentRecord, 'nonIdentifyingAttributes'>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(agent.nonIdentifyingAttributes)) {
    if (k.startsWith(AGENT_LABEL_PREFIX)) labels[k.slice(AGENT_LABEL_PREFIX.length)] = v;
  }
  return labels;
}

/** The agent's trusted labels: bound by its enrollment token, overridden by the operator's. */
export function trustedLabels(agent: Labelled): Record<string, string> {
  return { ...agent.boundLabels, ...agent.labels };
}

/** Everything the agent claims about itself: description attributes, then its own labels. */
export function agentClaims(agent: Described): Record<string, string> {
  return { ...agent.identifyingAttributes, ...agent.nonIdentifyingAttributes, ...agentOwnLabels(agent) };
}

/**
 * What a selector matches against: trusted labels under their own keys,
 * claims under `claim.<key>`, and the agent's id under `corral.io/id`.
 * Label keys never start with `claim.` or `corral.io/`
 * (auth/label-rules.ts), so none of them can collide.
 */
export function selectableAttributes(agent: Labelled & Described & Pick<AgentRecord, 'id'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(agentClaims(agent))) out[CLAIM_PREFIX + k] = v;
  for (const [k, v] of Object.entries(trustedLabels(agent))) {
    // Stored before label rules existed, or written around the API: never let it pass for a claim or a server fact.
    if (!k.startsWith(CLAIM_PREFIX) && !k.startsWith(SERVER_FACT_PREFIX)) out[k] = v;
  }
  out[AGENT_ID_KEY] = agent.id;
  return out;
}
