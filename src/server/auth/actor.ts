/**
 * Who is behind a REST request: the user the bearer token belongs to,
 * decided by the server from the token alone (never from a header the
 * client writes). Routes read it with `c.get('actor')`; services receive
 * its `name` for events and rollouts. Work the server does by itself
 * (the rollout driver, retention, ...) is recorded as SYSTEM_ACTOR.
 */
export type Role = 'viewer' | 'operator' | 'admin';

/** Roles in order of power: each includes everything the ones before it may do. */
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

/**
 * One grant: `role` on the agents `selector` matches ('' = the whole fleet).
 * A user may hold several (admin on env=dev and viewer everywhere).
 */
export interface RoleBinding {
  role: Role;
  selector: string;
}

export interface Actor {
  userId: string;
  /** The user's name as recorded in events, rollouts and the audit log. */
  name: string;
  /** The API token the request came with (for the audit log and revocation). */
  tokenId: string;
  /**
   * What this request may do: the user's roles, or for a token narrowed to
   * its own roles, those within the user's roles now (the intersection).
   */
  roles: RoleBinding[];
  /** The token's own role bindings when it is narrowed; null or absent: it acts with all of its user's roles. */
  tokenRoles?: RoleBinding[] | null;
}

/** The name events carry for what the server did on its own. */
export const SYSTEM_ACTOR = 'corral';

/** Name of the built-in user the first-start admin token belongs to. */
export const BUILTIN_ADMIN = 'admin';
