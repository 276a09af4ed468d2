/**
 * `GET /api/v1/stream`: fleet events (the events table) as Server-Sent
 * Events, live, from the store (event-feed.ts), so every replica streams the
 * events of every replica. Each message's `id:` is the event id: a client
 * that reconnects with `Last-Event-ID` (or `?after=`) gets every event after
 * it, once, in order. Comments keep idle connections open.
 */
import { z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { ApiApp } from './api-env.js';
import type { EventFeed } from '../event-feed.js';
import type { EventRecord, Store } from '../store/index.js';
import { CorralError, ValidationError } from '../errors.js';
import { errorResponse, zodValidationError } from './error-handler.js';
import { errors, iso } from './openapi-helpers.js';
import { MAX_STREAM_MS, MAX_STREAMS, MAX_STREAMS_PER_TOKEN } from './limits.js';
import { ErrorBody, Event } from './schemas.js';

/** A comment this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
/** Events read from the store at a time (catching up after a long disconnect goes page by page). */
const READ_BATCH = 500;
/** What the client waits before reconnecting (the SSE `retry:` field). */
const RETRY_MS = 2000;

const StreamQuery = z
  .object({
    after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().openapi({ description: 'resume after this event id (Last-Event-ID wins when both are given); absent: only events from now on' }),
    type: z.string().max(128).optional().openapi({ description: 'only events whose type starts with this (agent., rollout., job.)', example: 'rollout.' }),
    agent: z.string().max(64).optional().openapi({ description: 'only events of this agent id' }),
  })
  .strict();

export interface StreamDeps {
  store: Store;
  feed: EventFeed;
}

class TooManyStreamsError extends CorralError {
  constructor(message: string) {
    super('RATE_LIMITED', message);
  }
}

const eventView = (e: EventRecord) => ({ id: e.id, at: iso(e.at)!, type: e.type, agentId: e.agentId, data: e.data });

export function addStreamRoutes(app: ApiApp, deps: StreamDeps): void {
  const open = new Map<string, number>();
  let total = 0;

  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/api/v1/stream',
    summary: 'Fleet events, live, as Server-Sent Events; resumes without gaps from Last-Event-ID',
    description:
      'Each message: `id:` the event id, `data:` one Event as JSON (no `event:` field). Send the last id received as the ' +
      '`Last-Event-ID` header (or `?after=`) to get every later event exactly once, in id order. Comment lines (`: keepalive`) ' +
      `come every ${KEEPALIVE_MS / 1000} s. A stream ends after ${MAX_STREAM_MS / 3600_000} h (reconnect to go on). ` +
      `At most ${MAX_STREAMS_PER_TOKEN} streams per token (and ${MAX_STREAMS} in all) per server process: beyond, 429 RATE_LIMITED with Retry-After.`,
    request: {
      query: StreamQuery,
      headers: z.object({ 'last-event-id': z.string().max(20).optional().openapi({ description: 'the id of the last event received' }) }),
    },
    responses: {
      200: { description: 'text/event-stream of Event messages', content: { 'text/event-stream': { schema: Event } } },
      400: errors[400],
      401: errors[401],
      429: { description: 'too many streams open with this token (or in all)', content: { 'application/json': { schema: ErrorBody } } },
    },
  });

  app.get('/api/v1/stream', async (c) => {
    const query = StreamQuery.safeParse(c.req.query());
    if (!query.success) throw zodValidationError(query.error);
    const header = c.req.header('last-event-id');
    if (header !== undefined && !/^\d{1,16}$/.test(header.trim())) throw new ValidationError(`Last-Event-ID must be an event id (digits), got "${header.slice(0, 32)}"`, 'Last-Event-ID');
    const resumeAfter = header !== undefined ? Number(header.trim()) : query.data.after;

    const key = c.get('actor').tokenId;
    const mine = open.get(key) ?? 0;
    if (mine >= MAX_STREAMS_PER_TOKEN || total >= MAX_STREAMS) {
      c.header('Retry-After', '5');
      const err = new TooManyStreamsError(
        mine >= MAX_STREAMS_PER_TOKEN ? `at most ${MAX_STREAMS_PER_TOKEN} event streams at once per token; close one first` : `at most ${MAX_STREAMS} event streams at once on this server`,
      );
      return errorResponse(c, 429, err.code, err.message);
    }
    open.set(key, mine + 1);
    total++;
    const release = () => {
      const n = (open.get(key) ?? 1) - 1;
      if (n <= 0) open.delete(key);
      else open.set(key, n);
      total--;
    };

    let cursor: number;
    try {
      cursor = resumeAfter ?? (await deps.feed.safeHead());
    } catch (e) {
      release();
      throw e;
    }
    const { type, agent } = query.data;
    return streamSSE(
      c,
      async (stream) => {
        const aborted = new Promise<void>((resolve) => stream.onAbort(resolve));
        const keepalive = setInterval(() => void stream.write(': keepalive\n\n').catch(() => undefined), KEEPALIVE_MS);
        const deadline = Date.now() + MAX_STREAM_MS;
        try {
          await stream.write(`retry: ${RETRY_MS}\n: connected\n\n`);
          while (!stream.aborted && !stream.closed && Date.now() < deadline) {
            const head = await deps.feed.safeHead();
            if (cursor < head) {
              const events = await deps.store.listEvents({ afterId: cursor, upToId: head, typePrefix: type, agentId: agent, limit: READ_BATCH });
              for (const e of events) await stream.writeSSE({ id: String(e.id), data: JSON.stringify(eventView(e)) });
              // Fewer than a batch: nothing else up to head matches, so the next read starts there.
              cursor = events.length === READ_BATCH ? events.at(-1)!.id : head;
              continue;
            }
            if (deps.feed.isClosed) return;
            await Promise.race([deps.feed.waitBeyond(cursor, KEEPALIVE_MS), aborted]);
          }
        } finally {
          clearInterval(keepalive);
          release();
        }
      },
      async (err, stream) => {
        await stream.writeSSE({ event: 'error', data: JSON.stringify({ code: (err as { code?: string }).code ?? 'INTERNAL', message: 'the stream failed; reconnect with Last-Event-ID' }) }).catch(() => undefined);
      },
    );
  });
}
