/** Bounds on users, their roles and their API tokens, in one place. */

/** Users in a store. */
export const MAX_USERS = 10_000;
/** Role bindings one user may hold. */
export const MAX_ROLES_PER_USER = 32;
/** Tokens of one user that are neither revoked nor expired (however they were created). */
export const MAX_ACTIVE_TOKENS_PER_USER = 20;
/** A token users create themselves (`POST /api/v1/whoami/tokens`) without an expiry expires after this (or with the token creating it, if sooner). */
export const OWN_TOKEN_DEFAULT_LIFETIME_DAYS = 90;
/** The longest a token users create themselves may live; an admin can create longer-lived ones. */
export const OWN_TOKEN_MAX_LIFETIME_DAYS = 365;
/** Tokens one user may create themselves in any 24 hours (revoked ones count: each stays a row in the store). */
export const MAX_OWN_TOKENS_PER_DAY = 100;
/** A role binding's selector (the same bound as selectors elsewhere in the API). */
export const MAX_SELECTOR_CHARS = 4096;
/** User names: what events, rollouts and the audit log record. */
export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const TOKEN_NAME = /^[A-Za-z0-9._ -]{1,64}$/;
