/**
 * Token lists as the API pages them (a user's API tokens, your own, the
 * enrollment tokens): oldest first (as they always were listed) or newest
 * first, filtered by state, resumed after the
 * last token seen by an opaque cursor (keyset paging, as the fleet and job
 * lists: tokens created meanwhile never make a page repeat or skip one).
 * The owner comes from the route (the path's user, the caller's own user),
 * never from the cursor: a cursor only names a position (a time and an id),
 * so one from another user's list pages through the caller's own tokens.
 */
import type { Store, TokenRecord, TokenState, TokenPageQuery } from '../store/index.js';
import { TOKEN_STATES } from '../store/index.js';
import { ValidationError } from '../errors.js';
import { decodeCursor, encodeCursor } from '../fleet/agent-list.js';

/** Most tokens on one page, and the default. */
export const MAX_TOKEN_PAGE = 1000;
export const DEFAULT_TOKEN_PAGE = 100;
/** The orders: oldest first (the default) or newest first. */
export const TOKEN_SORTS = ['createdAt', '-createdAt'] as const;
/** A cursor names its list and order, so one of another list (agents, jobs) or order is refused. */
const order = (sort: string) => `tokens:${sort}`;

export interface TokenListInput {
  /** Default `all`. */
  state?: string;
  /** `createdAt` (oldest first, the default) or `-createdAt`. */
  sort?: string;
  /** Default DEFAULT_TOKEN_PAGE. */
  limit?: number;
  cursor?: string;
}

export interface TokenListPage {
  tokens: TokenRecord[];
  total: number;
  nextCursor: string | null;
}

/** The state filter as given, checked; a ValidationError naming `state` otherwise. */
export function tokenState(state: string | undefined): TokenState {
  if (state === undefined || state === '') return 'all';
  if (!TOKEN_STATES.includes(state as TokenState)) throw new ValidationError(`state must be one of ${TOKEN_STATES.join(', ')}, got "${state}"`, 'state');
  return state as TokenState;
}

function after(cursor: string | undefined, sort: string): TokenPageQuery['after'] {
  if (cursor === undefined || cursor === '') return undefined;
  const bad = new ValidationError('cursor: not a cursor of this token list in this sort; pass nextCursor from the previous page unchanged, with the same sort', 'cursor');
  let c;
  try {
    c = decodeCursor(cursor, order(sort));
  } catch (e) {
    if (e instanceof ValidationError) throw bad;
    throw e;
  }
  if (typeof c.k !== 'number' || !Number.isSafeInteger(c.k) || c.i.length > 64) throw bad;
  return { createdAt: c.k, id: c.i };
}

/** One page of the tokens of `owner`; throws ValidationError naming a bad `state`, `sort`, `limit` or `cursor`. */
export async function listTokenPage(store: Store, owner: TokenPageQuery['owner'], input: TokenListInput, now: number): Promise<TokenListPage> {
  const sort = input.sort === undefined || input.sort === '' ? 'createdAt' : input.sort;
  if (!(TOKEN_SORTS as readonly string[]).includes(sort)) throw new ValidationError(`sort must be one of ${TOKEN_SORTS.join(', ')}, got "${sort}"`, 'sort');
  const limit = input.limit ?? DEFAULT_TOKEN_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TOKEN_PAGE) throw new ValidationError(`limit must be 1 to ${MAX_TOKEN_PAGE}, got ${limit}`, 'limit');
  const page = await store.tokens.query({ owner, state: tokenState(input.state), now, descending: sort === '-createdAt', limit, after: after(input.cursor, sort) });
  const last = page.tokens[page.tokens.length - 1];
  return { tokens: page.tokens, total: page.total, nextCursor: page.hasMore && last ? encodeCursor({ s: order(sort), k: last.createdAt, i: last.id }) : null };
}
