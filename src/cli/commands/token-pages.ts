/**
 * The token lists' flags and paging (corral token list, user token list,
 * me token list): oldest first or --newest first, --state filters, --limit tokens (one page),
 * --all follows nextCursor page after page, as `corral jobs` does.
 */
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { apiFor, intFlag, type CliIo, type ConnectionFlags } from '../context.js';

const STATES = ['active', 'revoked', 'expired', 'all'];
/** The API's most tokens per page. */
const MAX_PAGE = 1000;
/** Pages read at most with --all. */
const MAX_PAGES = 100;

export type TokenListFlags = ConnectionFlags & { state?: string; limit: string; all?: boolean; newest?: boolean };

export function addTokenListOptions(cmd: Command): Command {
  return cmd
    .option('--state <state>', 'active, revoked, expired or all', 'all')
    .option('--newest', 'newest first (default: oldest first)')
    .option('--limit <n>', `how many (1-${MAX_PAGE}): the oldest, or with --newest the newest`, '100')
    .option('--all', `every matching token, page after page (up to ${MAX_PAGES * MAX_PAGE})`);
}

/** The tokens `flags` ask for from `path`, and what `-o json` prints: the API's page (with --all: every token, nextCursor null). */
export async function readTokenPages<T>(io: CliIo, flags: TokenListFlags, path: string): Promise<{ tokens: T[]; total: number; nextCursor: string | null }> {
  const state = flags.state ?? 'all';
  if (!STATES.includes(state)) throw new CliError(`--state must be one of ${STATES.join(', ')}, got "${state}"`, EXIT.ERROR, 'INVALID_ARGUMENT');
  const limit = intFlag('--limit', flags.limit, 1, MAX_PAGE);
  const api = apiFor(flags, io);
  const query = (cursor: string | null) => {
    const q = new URLSearchParams({ state, sort: flags.newest ? '-createdAt' : 'createdAt', limit: String(flags.all ? MAX_PAGE : limit) });
    if (cursor) q.set('cursor', cursor);
    return `${path}?${q.toString()}`;
  };
  type Page = { tokens: T[]; total: number; nextCursor: string | null };
  let page = await api.request<Page>('GET', query(null));
  const tokens = [...page.tokens];
  for (let n = 1; flags.all && page.nextCursor && n < MAX_PAGES; n++) {
    page = await api.request<Page>('GET', query(page.nextCursor));
    tokens.push(...page.tokens);
  }
  return { tokens, total: page.total, nextCursor: flags.all ? null : page.nextCursor };
}

/** Tells a table reader that more tokens exist than shown. */
export function moreTokensNote(io: CliIo, shown: number, page: { total: number; nextCursor: string | null }): void {
  if (page.nextCursor) io.stderr.write(`${shown} of ${page.total} shown; --all or a bigger --limit for more\n`);
}
