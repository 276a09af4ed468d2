/**
 * Deletes dead tokens (`corral server --token-retention 30d`, the default):
 * API tokens (admin, user) revoked, or expired, longer ago than the
 * retention, and enrollment tokens likewise once no agent row names them
 * (an agent keeps the id of the token it enrolled with: it is how an
 * operator finds the agents a leaked token let in). A user may create 100
 * tokens a day; without this their rows would grow for ever.
 *
 * What stays (the store's DELETE checks it: TokenStore.deleteDead): the
 * newest admin token (it marks the store as set up), a dead token that is
 * still the parent of a live one, and the audit log, whose records keep
 * naming deleted token ids (it is hash-chained: never rewritten). A deleted
 * token's holder is told "invalid API token" instead of "revoked at".
 *
 * Every replica may sweep: the condition is in the DELETE, so two replicas
 * never both delete (or both record) a token. A sweep deletes in batches of
 * TOKEN_RETENTION_BATCH, at most MAX_TOKEN_RETENTION_BATCHES of them; each
 * batch that deleted something records one `token.deleted` event and one
 * audit record by `corral` per TOKEN_RETENTION_AUDIT_CHUNK tokens, naming them.
 */
import type { Logger } from 'pino';
import type { DeletedToken, Store } from '../store/index.js';
import type { Clock } from '../clock.js';
import type { EventRecorder } from '../events.js';
import type { AuditService } from '../audit/audit-service.js';
import { SYSTEM_ACTOR } from '../auth/actor.js';

/** Tokens deleted per store statement. */
export const TOKEN_RETENTION_BATCH = 500;
/** Batches per sweep at most; what is left waits for the next sweep. */
export const MAX_TOKEN_RETENTION_BATCHES = 20;
/** Tokens one audit record names at most. */
export const TOKEN_RETENTION_AUDIT_CHUNK = 100;
/** The action of the audit records a sweep appends. */
export const TOKEN_RETENTION_ACTION = 'DELETE dead tokens';
/** The default retention, and the shortest one allowed (anything shorter is a typo, and would hide why a token is refused). */
export const DEFAULT_TOKEN_RETENTION = '30d';
export const MIN_TOKEN_RETENTION_MS = 3600_000;

export interface TokenRetentionOptions {
  /** Delete tokens revoked or expired longer ago than this. */
  afterMs: number;
  /** The retention as the operator wrote it (30d), for records. */
  afterText: string;
  /** How often to sweep (the first sweep too, after start). */
  everyMs: number;
}

export interface TokenRetentionDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  events: EventRecorder;
  audit: Pick<AuditService, 'record'>;
}

/** How often a retention is swept for: a tenth of it, between 1 minute and 1 hour. */
export function tokenSweepMs(afterMs: number): number {
  return Math.min(Math.max(Math.floor(afterMs / 10), 60_000), 3600_000);
}

export class TokenRetention {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly opts: TokenRetentionOptions,
    private readonly deps: TokenRetentionDeps,
  ) {}

  /** Sweeps every `everyMs`, the first `everyMs` after start. Call once; `close` stops it. */
  start(): void {
    if (this.timer || this.closed) return;
    this.deps.log.info({ retention: this.opts.afterText, everyMs: this.opts.everyMs }, 'will delete tokens revoked or expired longer ago than the retention');
    this.timer = setInterval(() => {
      this.sweeping = this.sweep().catch((err: unknown) => this.deps.log.error({ err }, 'deleting dead tokens failed'));
    }, this.opts.everyMs);
    this.timer.unref();
  }

  /** One sweep: deletes what is due, batch by batch; returns how many tokens were deleted. */
  async sweep(): Promise<number> {
    let total = 0;
    for (let i = 0; i < MAX_TOKEN_RETENTION_BATCHES && !this.closed; i++) {
      const now = this.deps.clock.now();
      const before = now - this.opts.afterMs;
      const deleted = await this.deps.store.tokens.deleteDead(before, now, TOKEN_RETENTION_BATCH, { enrollment: true });
      if (deleted.length === 0) break;
      total += deleted.length;
      await this.record(deleted, before);
      if (deleted.length < TOKEN_RETENTION_BATCH) break;
    }
    return total;
  }

  private async record(tokens: DeletedToken[], before: number): Promise<void> {
    const olderThan = new Date(before).toISOString();
    const reason = `revoked or expired before ${olderThan} (--token-retention ${this.opts.afterText})`;
    const byKind: Record<string, number> = {};
    for (const t of tokens) byKind[t.kind] = (byKind[t.kind] ?? 0) + 1;
    this.deps.events.record('token.deleted', null, { count: tokens.length, byKind, olderThan, tokenRetention: this.opts.afterText, actor: SYSTEM_ACTOR });
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    for (let i = 0; i < tokens.length; i += TOKEN_RETENTION_AUDIT_CHUNK) {
      const chunk = tokens.slice(i, i + TOKEN_RETENTION_AUDIT_CHUNK);
      await this.deps.audit.record({
        at: this.deps.clock.now(),
        actor: SYSTEM_ACTOR,
        actorUserId: SYSTEM_ACTOR,
        actorTokenId: '',
        source: '',
        action: TOKEN_RETENTION_ACTION,
        summary: {
          reason,
          tokens: chunk.map((t) => ({ id: t.id, kind: t.kind, name: t.name, userId: t.userId, revokedAt: iso(t.revokedAt), expiresAt: iso(t.expiresAt) })),
          batch: { tokens: tokens.length },
        },
        target: { tokenIds: chunk.map((t) => t.id), tokenCount: chunk.length },
        status: 0,
        outcome: 'ok',
        message: '',
      });
    }
    this.deps.log.info({ count: tokens.length, byKind, olderThan }, 'deleted dead tokens');
  }

  /** Stops sweeping; waits for a sweep under way. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping;
  }
}
