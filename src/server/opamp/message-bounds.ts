/**
 * The size and count bounds every AgentToServer must keep before anything
 * of it is looked at further (stored, turned into events, relayed to a job
 * or a log follower). The limits live in limits.ts; this checks them and
 * says which one a message broke, so the agent's error response and the
 * server's event name it.
 */
import { keyValuesToRecord, type AgentToServer, type ComponentHealth, type KeyValue } from '../../protocol/index.js';
import { AGENT_LABEL_PREFIX } from '../fleet/agent-labels.js';
import {
  MAX_AGENT_LABELS,
  MAX_ATTRIBUTE_KEY_BYTES,
  MAX_ATTRIBUTE_VALUE_BYTES,
  MAX_CSR_BYTES,
  MAX_CUSTOM_CAPABILITIES,
  MAX_CUSTOM_MESSAGE_BYTES,
  MAX_CUSTOM_NAME_BYTES,
  MAX_DESCRIPTION_ATTRIBUTES,
  MAX_DESCRIPTION_BYTES,
  MAX_EFFECTIVE_CONFIG_BYTES,
  MAX_HEALTH_COMPONENTS,
  MAX_HEALTH_TEXT_BYTES,
  MAX_LABEL_KEY_BYTES,
  MAX_LABEL_VALUE_BYTES,
  MAX_PACKAGE_STATUSES,
  MAX_STATUS_TEXT_BYTES,
} from './limits.js';

/** A broken bound: which one (`limit`, stable, for events and metrics) and a sentence for the agent. */
export interface BoundViolation {
  limit: string;
  message: string;
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

function over(limit: string, what: string, actual: number, max: number, unit: string): BoundViolation {
  return { limit, message: `${what} is ${actual} ${unit}, over the limit of ${max} ${unit} (${limit})` };
}

function checkAttributes(list: readonly KeyValue[], which: string, total: { bytes: number; labels: number }): BoundViolation | null {
  if (list.length > MAX_DESCRIPTION_ATTRIBUTES) return over('MAX_DESCRIPTION_ATTRIBUTES', `agent_description.${which}`, list.length, MAX_DESCRIPTION_ATTRIBUTES, 'attributes');
  // Keys are bounded before values are converted to text (a nested value could be large).
  for (const kv of list) {
    if (bytes(kv.key) > MAX_ATTRIBUTE_KEY_BYTES) return over('MAX_ATTRIBUTE_KEY_BYTES', `a key in agent_description.${which}`, bytes(kv.key), MAX_ATTRIBUTE_KEY_BYTES, 'bytes');
  }
  for (const [key, value] of Object.entries(keyValuesToRecord(list))) {
    const v = bytes(value);
    if (v > MAX_ATTRIBUTE_VALUE_BYTES) return over('MAX_ATTRIBUTE_VALUE_BYTES', `agent_description.${which}["${key.slice(0, 64)}"]`, v, MAX_ATTRIBUTE_VALUE_BYTES, 'bytes');
    total.bytes += bytes(key) + v;
    if (key.startsWith(AGENT_LABEL_PREFIX)) {
      total.labels++;
      const label = key.slice(AGENT_LABEL_PREFIX.length);
      if (bytes(label) > MAX_LABEL_KEY_BYTES) return over('MAX_LABEL_KEY_BYTES', `label key "${label.slice(0, 64)}"`, bytes(label), MAX_LABEL_KEY_BYTES, 'bytes');
      if (v > MAX_LABEL_VALUE_BYTES) return over('MAX_LABEL_VALUE_BYTES', `label "${label}"`, v, MAX_LABEL_VALUE_BYTES, 'bytes');
    }
  }
  return null;
}

function checkHealth(h: ComponentHealth, count: { n: number }): BoundViolation | null {
  if (++count.n > MAX_HEALTH_COMPONENTS) return over('MAX_HEALTH_COMPONENTS', 'the health tree', count.n, MAX_HEALTH_COMPONENTS, 'components or more');
  if (bytes(h.lastError) > MAX_HEALTH_TEXT_BYTES) return over('MAX_HEALTH_TEXT_BYTES', 'a health last_error', bytes(h.lastError), MAX_HEALTH_TEXT_BYTES, 'bytes');
  if (bytes(h.status) > MAX_HEALTH_TEXT_BYTES) return over('MAX_HEALTH_TEXT_BYTES', 'a health status', bytes(h.status), MAX_HEALTH_TEXT_BYTES, 'bytes');
  for (const [name, c] of Object.entries(h.componentHealthMap)) {
    if (bytes(name) > MAX_ATTRIBUTE_KEY_BYTES) return over('MAX_ATTRIBUTE_KEY_BYTES', 'a health component name', bytes(name), MAX_ATTRIBUTE_KEY_BYTES, 'bytes');
    const bad = checkHealth(c, count);
    if (bad) return bad;
  }
  return null;
}

/** Null when `msg` keeps every bound; else the first bound it breaks. */
export function checkAgentMessage(msg: AgentToServer): BoundViolation | null {
  const d = msg.agentDescription;
  if (d) {
    const total = { bytes: 0, labels: 0 };
    const bad = checkAttributes(d.identifyingAttributes, 'identifying_attributes', total) ?? checkAttributes(d.nonIdentifyingAttributes, 'non_identifying_attributes', total);
    if (bad) return bad;
    if (total.bytes > MAX_DESCRIPTION_BYTES) return over('MAX_DESCRIPTION_BYTES', 'agent_description', total.bytes, MAX_DESCRIPTION_BYTES, 'bytes');
    if (total.labels > MAX_AGENT_LABELS) return over('MAX_AGENT_LABELS', 'agent_description labels (corral.label.*)', total.labels, MAX_AGENT_LABELS, 'labels');
  }
  if (msg.health) {
    const bad = checkHealth(msg.health, { n: 0 });
    if (bad) return bad;
  }
  if (msg.effectiveConfig) {
    let size = 0;
    for (const [name, f] of Object.entries(msg.effectiveConfig.configMap?.configMap ?? {})) size += bytes(name) + f.body.length + bytes(f.contentType);
    if (size > MAX_EFFECTIVE_CONFIG_BYTES) return over('MAX_EFFECTIVE_CONFIG_BYTES', 'effective_config', size, MAX_EFFECTIVE_CONFIG_BYTES, 'bytes');
  }
  if (msg.remoteConfigStatus && bytes(msg.remoteConfigStatus.errorMessage) > MAX_STATUS_TEXT_BYTES) {
    return over('MAX_STATUS_TEXT_BYTES', 'remote_config_status.error_message', bytes(msg.remoteConfigStatus.errorMessage), MAX_STATUS_TEXT_BYTES, 'bytes');
  }
  if (msg.packageStatuses) {
    const packages = Object.entries(msg.packageStatuses.packages);
    if (packages.length > MAX_PACKAGE_STATUSES) return over('MAX_PACKAGE_STATUSES', 'package_statuses', packages.length, MAX_PACKAGE_STATUSES, 'packages');
    for (const [name, p] of packages) {
      for (const [field, value] of [['name', name], ['name', p.name], ['agent_has_version', p.agentHasVersion], ['server_offered_version', p.serverOfferedVersion], ['error_message', p.errorMessage]] as const) {
        if (bytes(value) > MAX_STATUS_TEXT_BYTES) return over('MAX_STATUS_TEXT_BYTES', `package_statuses ${field}`, bytes(value), MAX_STATUS_TEXT_BYTES, 'bytes');
      }
    }
  }
  if (msg.customCapabilities) {
    const caps = msg.customCapabilities.capabilities;
    if (caps.length > MAX_CUSTOM_CAPABILITIES) return over('MAX_CUSTOM_CAPABILITIES', 'custom_capabilities', caps.length, MAX_CUSTOM_CAPABILITIES, 'capabilities');
    for (const c of caps) if (bytes(c) > MAX_CUSTOM_NAME_BYTES) return over('MAX_CUSTOM_NAME_BYTES', 'a custom capability name', bytes(c), MAX_CUSTOM_NAME_BYTES, 'bytes');
  }
  const csr = msg.connectionSettingsRequest?.opamp?.certificateRequest?.csr;
  if (csr && csr.length > MAX_CSR_BYTES) return over('MAX_CSR_BYTES', 'connection_settings_request.opamp.certificate_request.csr', csr.length, MAX_CSR_BYTES, 'bytes');
  const m = msg.customMessage;
  if (m) {
    if (bytes(m.capability) > MAX_CUSTOM_NAME_BYTES) return over('MAX_CUSTOM_NAME_BYTES', 'custom_message.capability', bytes(m.capability), MAX_CUSTOM_NAME_BYTES, 'bytes');
    if (bytes(m.type) > MAX_CUSTOM_NAME_BYTES) return over('MAX_CUSTOM_NAME_BYTES', 'custom_message.type', bytes(m.type), MAX_CUSTOM_NAME_BYTES, 'bytes');
    if (m.data.length > MAX_CUSTOM_MESSAGE_BYTES) return over('MAX_CUSTOM_MESSAGE_BYTES', 'custom_message.data', m.data.length, MAX_CUSTOM_MESSAGE_BYTES, 'bytes');
  }
  return null;
}
