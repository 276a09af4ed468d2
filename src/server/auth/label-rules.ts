/**
 * What a trusted label may be (operator labels and labels bound by an
 * enrollment token), and the `claim.` prefix that selectors use for what an
 * agent reports about itself, which a label key may therefore never start with.
 */
export const LABEL_KEY = /^[A-Za-z0-9._/-]{1,128}$/;
export const LABEL_VALUE = /^[A-Za-z0-9._/:-]{0,256}$/;
/** Selector keys starting with this match claims (reported attributes), never labels. */
export const CLAIM_PREFIX = 'claim.';
/**
 * Selector keys starting with this name facts the server itself holds about
 * an agent (`corral.io/id`, its instance uid), which no label may set.
 */
export const SERVER_FACT_PREFIX = 'corral.io/';
/** At most this many labels bound by one enrollment token. */
export const MAX_TOKEN_LABELS = 32;
/** At most this many operator labels on one agent (what `corral label` sets). */
export const MAX_OPERATOR_LABELS = 64;

/** Why `key` cannot be a label key, or null when it can. */
export function labelKeyProblem(key: string): string | null {
  if (!LABEL_KEY.test(key)) return `label key "${key.slice(0, 140)}" must be 1-128 letters, digits and ._/-`;
  if (key.startsWith(CLAIM_PREFIX)) return `label key "${key}" may not start with "${CLAIM_PREFIX}" (selectors use that prefix for what agents report about themselves)`;
  if (key.startsWith(SERVER_FACT_PREFIX)) return `label key "${key}" may not start with "${SERVER_FACT_PREFIX}" (reserved for what the server knows of an agent, such as corral.io/id)`;
  return null;
}

/** Why `value` cannot be the value of label `key`, or null when it can. */
export function labelValueProblem(key: string, value: string): string | null {
  return LABEL_VALUE.test(value) ? null : `label ${key}: value "${value.slice(0, 260)}" must be at most 256 letters, digits and ._/:-`;
}
