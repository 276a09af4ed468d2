/**
 * REST for the audit log: list (filters, paging), follow (Server-Sent
 * Events) and verify the hash chain. Read-only: there is no route that
 * changes or deletes a record (retention prunes by itself, and records it).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { ApiApp } from './api-env.js';
import type { AuditService } from '../audit/audit-service.js';
import type { AuditQuery, AuditRecord } from '../store/index.js';
import { errors, iso, json } from './openapi-helpers.js';
import { ValidationError } from '../errors.js';
import { zodValidationError } from './error-handler.js';

const AuditRecordSchema = z
  .object({
    id: z.number(),
    at: z.string(),
    actor: z.object({ name: z.string(), userId: z.string(), tokenId: z.string() }),
    source: z.string().openapi({ description: "the caller's address ('' for the server itself)" }),
    action: z.string().openapi({ example: 'PUT /api/v1/configs/{name}' }),
    summary: z.record(z.string(), z.unknown()).openapi({ description: 'what changed, secrets masked' }),
    target: z.record(z.string(), z.unknown()).openapi({ description: 'selector, agent ids, deployment, config, ...' }),
    outcome: z.object({ status: z.number(), result: z.enum(['ok', 'denied', 'error']), message: z.string() }),
    prevHash: z.string(),
    hash: z.string(),
  })
  .openapi('AuditRecord');

const Verify = z
  .object({
    ok: z.boolean(),
    records: z.number().openapi({ description: 'records walked' }),
    firstId: z.number().nullable().openapi({ description: 'the oldest record left (older ones were pruned)' }),
    head: z.object({ id: z.number(), hash: z.string() }).nullable().openapi({ description: 'the newest record: note its hash to check later with expectHead' }),
    failure: z.object({ id: z.number(), reason: z.string() }).nullable(),
  })
  .openapi('AuditVerify');

const Time = z.string().max(64).openapi({ description: 'ISO 8601 date-time' });

const Query = z.object({
  user: z.string().max(256).optional(),
  since: Time.optional(),
  until: Time.optional(),
  action: z.string().max(512).optional().openapi({ example: 'POST /api/v1/jobs' }),
  outcome: z.enum(['ok', 'denied', 'error']).optional().openapi({ description: 'only records with this outcome' }),
  after: z.coerce.number().int().min(0).optional().openapi({ description: 'only records with a greater id (page with the last id seen)' }),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const KEEPALIVE_MS = 15_000;

export function auditView(r: AuditRecord) {
  return {
    id: r.id,
    at: iso(r.at)!,
    actor: { name: r.actor, userId: r.actorUserId, tokenId: r.actorTokenId },
    source: r.source,
    action: r.action,
    summary: r.summary,
    target: r.target,
    outcome: { status: r.status, result: r.outcome, message: r.message },
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

/** An ISO 8601 date-time query parameter as ms; a clear error naming the field otherwise. */
export function timeParam(field: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}/.test(text)) throw new ValidationError(`${field} must be an ISO 8601 date-time, got "${text.slice(0, 64)}"`, field);
  return ms;
}

function compileQuery(q: z.infer<typeof Query>): AuditQuery {
  return { actor: q.user, since: timeParam('since', q.since), until: timeParam('until', q.until), action: q.action, outcome: q.outcome, afterId: q.after, limit: q.limit };
}

export function addAuditRoutes(app: ApiApp, audit: AuditService, opts: { pollMs: number }): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/audit',
      summary: 'Audit records, oldest first: the newest `limit` (default 100), or from `since` / after the id `after`; follow at /api/v1/audit/follow',
      request: { query: Query },
      responses: { 200: json(z.object({ records: z.array(AuditRecordSchema) }), 'records'), ...errors },
    }),
    async (c) => c.json({ records: (await audit.list(compileQuery(c.req.valid('query')))).map(auditView) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/audit/verify',
      summary: 'Walk the hash chain from the oldest record left: ok, or the first record that fails and why; with expectHead, that hash (noted earlier) must still be in the chain',
      request: { query: z.object({ expectHead: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex hash').optional() }) },
      responses: { 200: json(Verify, 'the result (ok: false names the record)'), ...errors },
    }),
    async (c) => c.json(await audit.verify(c.req.valid('query').expectHead), 200),
  );

  // Server-Sent Events: `record` for each new record (filters as for the list), from after `after`, else from now.
  app.get('/api/v1/audit/follow', async (c) => {
    const parsed = Query.safeParse(c.req.query());
    if (!parsed.success) throw zodValidationError(parsed.error);
    const query = compileQuery(parsed.data);
    let last = query.afterId ?? (await audit.list({ limit: 1 })).at(-1)?.id ?? 0;
    return streamSSE(c, async (stream) => {
      let wake: (() => void) | null = null;
      const unsubscribe = audit.subscribe(() => wake?.());
      stream.onAbort(() => wake?.());
      let idleMs = 0;
      try {
        while (!stream.aborted) {
          const page = await audit.list({ ...query, afterId: last, limit: 1000 });
          for (const r of page) await stream.writeSSE({ event: 'record', id: String(r.id), data: JSON.stringify(auditView(r)) });
          last = page.at(-1)?.id ?? last;
          if (page.length === 1000) continue;
          // Woken by a record appended here; records from other replicas are found by the poll.
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, opts.pollMs).unref();
          });
          wake = null;
          idleMs = page.length > 0 ? 0 : idleMs + opts.pollMs;
          if (idleMs >= KEEPALIVE_MS) {
            idleMs = 0;
            await stream.write(': keepalive\n\n');
          }
        }
      } finally {
        unsubscribe();
      }
    });
  });
}
