/**
 * OpAMP edge limits: everything an agent sends is bounded here, in one
 * place. Units are in the names. A message over a limit is refused with an
 * error response naming the limit (see message-bounds.ts) and nothing of it
 * is stored.
 */

/** The spec's maximum message size. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';

/** Agent description: attributes per list (identifying, non-identifying). */
export const MAX_DESCRIPTION_ATTRIBUTES = 128;
/** Agent description: bytes of one attribute key (UTF-8). */
export const MAX_ATTRIBUTE_KEY_BYTES = 256;
/** Agent description: bytes of one attribute value (UTF-8, after conversion to text). */
export const MAX_ATTRIBUTE_VALUE_BYTES = 4 * 1024;
/** Agent description: bytes of all keys and values together. */
export const MAX_DESCRIPTION_BYTES = 64 * 1024;
/** Labels an agent reports about itself (`corral.label.*` attributes). */
export const MAX_AGENT_LABELS = 64;
/** Bytes of a self-reported label key (after the prefix) and value; the same bounds as operator labels. */
export const MAX_LABEL_KEY_BYTES = 128;
export const MAX_LABEL_VALUE_BYTES = 256;

/** Health: components in the whole tree, and bytes of each status / last_error string. */
export const MAX_HEALTH_COMPONENTS = 1000;
export const MAX_HEALTH_TEXT_BYTES = 4 * 1024;

/** Effective config: bytes of all files' names and bodies together. */
export const MAX_EFFECTIVE_CONFIG_BYTES = 4 * 1024 * 1024;
/** Package statuses in one report. */
export const MAX_PACKAGE_STATUSES = 128;
/** Text fields other than the above (config and package error messages, versions): bytes each. */
export const MAX_STATUS_TEXT_BYTES = 4 * 1024;

/** A certificate signing request (ConnectionSettingsRequest.opamp.certificate_request.csr, PEM). */
export const MAX_CSR_BYTES = 8 * 1024;

/** Custom capabilities an agent may list, and bytes of each name. */
export const MAX_CUSTOM_CAPABILITIES = 64;
export const MAX_CUSTOM_NAME_BYTES = 128;
/**
 * Bytes of one custom message's data: fits the largest legitimate one (a log
 * follow chunk batch: 8 × 64 Ki characters, or a 1 MiB exec output flush).
 */
export const MAX_CUSTOM_MESSAGE_BYTES = 2 * 1024 * 1024;

/** Events one agent's messages may cause per minute; excess is dropped and counted (one summary event per window). */
export const MAX_AGENT_EVENTS_PER_MINUTE = 100;
/** Resource samples: per agent per minute, bytes each, bytes of one agent's history (defined beside the history). */
export { MAX_AGENT_SAMPLES_PER_MINUTE, MAX_SAMPLE_BYTES, MAX_SAMPLE_HISTORY_BYTES_PER_AGENT } from '../fleet/sample-history.js';

/** Total OpAMP body bytes being received or processed at once, over all connections (HTTP and WebSocket). Default of --max-opamp-inflight-mib. */
export const DEFAULT_MAX_INFLIGHT_BODY_MIB = 128;
/** A WebSocket that sends no complete first message within this long is closed. Default of --ws-first-message-timeout. */
export const DEFAULT_WS_FIRST_MESSAGE_TIMEOUT_MS = 30_000;
