/**
 * Token lists a page at a time and the retention of dead tokens
 * (token-store.ts), apart from the user and enrollment stores that create
 * and revoke them.
 */
import type { TokenKind, TokenRecord } from './store.js';

/**
 * A token's state at a time `now`: active (neither revoked nor expired),
 * revoked (whether or not it has expired since), expired (not revoked, its
 * expiry passed); `all` for any.
 */
export type TokenState = 'active' | 'revoked' | 'expired' | 'all';
export const TOKEN_STATES: readonly TokenState[] = ['active', 'revoked', 'expired', 'all'];

export interface TokenPageQuery {
  /** Whose: one user's API tokens (kinds admin and user), or every token of one kind (enrollment). */
  owner: { userId: string } | { kind: TokenKind };
  state: TokenState;
  /** The time the state is judged at (ms). */
  now: number;
  /** false: oldest first (created, then id); true: newest first. */
  descending: boolean;
  /** 1..1000. */
  limit: number;
  /** The last token of the previous page: this page starts after it, in the order asked for. */
  after?: { createdAt: number; id: string };
}

export interface TokenPage {
  /** In the order asked for. */
  tokens: TokenRecord[];
  /** Tokens matching owner and state (all pages). */
  total: number;
  /** Whether more tokens follow this page. */
  hasMore: boolean;
}

/** A token `deleteDeadTokens` deleted. */
export interface DeletedToken {
  id: string;
  kind: TokenKind;
  name: string;
  userId: string | null;
  revokedAt: number | null;
  expiresAt: number | null;
}

/** Tokens deleted per call at most, whatever the caller asks (bounds the statement). */
export const MAX_TOKEN_DELETE_BATCH = 1000;

export interface TokenStore {
  /** One page of tokens by creation, and how many match in all, reading only that page (and an index count). */
  query(q: TokenPageQuery): Promise<TokenPage>;
  /** A token of any kind by id (revoked or expired too), or null. */
  get(id: string): Promise<TokenRecord | null>;
  /** Which of `ids` are tokens that are not revoked (expired or not); at most 1000 ids per call. */
  unrevokedIds(ids: readonly string[]): Promise<Set<string>>;
  /**
   * Deletes up to `limit` (at most MAX_TOKEN_DELETE_BATCH) dead tokens:
   * revoked before `before`, or expired before `before`. API tokens (admin,
   * user) always; enrollment tokens only with `enrollment` and only when no
   * agent row names them (agents.enrollment_token_id). Never deleted: the
   * newest admin token (its presence marks the store as set up: bootstrap.ts),
   * and a token that is the parent of a token still active at `now` (so a
   * revocation always reaches every live descendant). The conditions are in
   * the DELETE itself: concurrent callers (replicas) never both return one
   * token. Oldest first.
   */
  deleteDead(before: number, now: number, limit: number, opts: { enrollment: boolean }): Promise<DeletedToken[]>;
}
