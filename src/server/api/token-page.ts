/** The query and page shape the token lists share (users/token-list.ts): limit, cursor, state; tokens, total, nextCursor. */
import { z } from '@hono/zod-openapi';
import { TOKEN_STATES, type TokenState } from '../store/index.js';
import { MAX_CURSOR_CHARS } from '../fleet/agent-list.js';
import { DEFAULT_TOKEN_PAGE, MAX_TOKEN_PAGE, TOKEN_SORTS } from '../users/token-list.js';

export const TokenListQuery = z.object({
  state: z
    .enum(TOKEN_STATES as [TokenState, ...TokenState[]])
    .optional()
    .openapi({ description: 'active (neither revoked nor expired), revoked, expired (not revoked, past its expiry) or all (the default)' }),
  sort: z.enum(TOKEN_SORTS).optional().openapi({ description: 'createdAt: oldest first (the default, as before paging); -createdAt: newest first. Ties by id' }),
  limit: z.coerce.number().int().min(1).max(MAX_TOKEN_PAGE).optional().openapi({ description: `tokens per page, 1 to ${MAX_TOKEN_PAGE} (default ${DEFAULT_TOKEN_PAGE}); more is refused (400)` }),
  cursor: z.string().max(MAX_CURSOR_CHARS).optional().openapi({ description: 'nextCursor from the previous page (opaque; only with the same sort); a cursor that is not one is 400 naming it' }),
});

/** `{ tokens, total, nextCursor }` with `item` as the token shape. */
export function tokenPageSchema<T extends z.ZodTypeAny>(item: T, name: string) {
  return z
    .object({
      tokens: z.array(item).openapi({ description: 'in the order `sort` asks for (created, then id)' }),
      total: z.number().openapi({ description: 'tokens matching the state filter, on all pages' }),
      nextCursor: z.string().nullable().openapi({ description: 'pass as `cursor` for the next page; null on the last page' }),
    })
    .openapi(name);
}
