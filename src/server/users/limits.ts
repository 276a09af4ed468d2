/** Bounds on users, their roles and their API tokens, in one place. */

/** Users in a store. */
export const MAX_USERS = 10_000;
/** Role bindings one user may hold. */
export const MAX_ROLES_PER_USER = 32;
/** Tokens of one user that are neither revoked nor expired. */
export const MAX_ACTIVE_TOKENS_PER_USER = 20;
/** A role binding's selector (the same bound as selectors elsewhere in the API). */
export const MAX_SELECTOR_CHARS = 4096;
/** User names: what events, rollouts and the audit log record. */
export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const TOKEN_NAME = /^[A-Za-z0-9._ -]{1,64}$/;
