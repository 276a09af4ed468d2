/**
 * What a selector sees of an agent: its description attributes, then its own
 * labels (`corral.label.<key>` attributes a corral agent reports from its
 * `--label` flags), then operator labels, later sources winning.
 */
import type { AgentRecord } from '../store/index.js';

export const AGENT_LABEL_PREFIX = 'corral.label.';

/** Labels the agent reported about itself (from `corral.label.*` attributes). */
export function agentOwnLabels(agent: Pick<AgentRecord, 'nonIdentifyingAttributes'>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(agent.nonIdentifyingAttributes)) {
    if (k.startsWith(AGENT_LABEL_PREFIX)) labels[k.slice(AGENT_LABEL_PREFIX.length)] = v;
  }
  return labels;
}

/** The agent's labels: its own, overridden by the operator's. */
export function effectiveLabels(agent: Pick<AgentRecord, 'nonIdentifyingAttributes' | 'labels'>): Record<string, string> {
  return { ...agentOwnLabels(agent), ...agent.labels };
}

/** Everything a selector matches against. */
export function selectableAttributes(
  agent: Pick<AgentRecord, 'identifyingAttributes' | 'nonIdentifyingAttributes' | 'labels'>,
): Record<string, string> {
  return { ...agent.identifyingAttributes, ...agent.nonIdentifyingAttributes, ...effectiveLabels(agent) };
}
