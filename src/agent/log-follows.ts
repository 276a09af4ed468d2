/**
 * The agent's live `corral logs -f` followers: each follows one service's
 * stdout and stderr (see LogFollower) and sends new lines as progress
 * messages, batched every `pollMs` and bounded in size, until it is
 * cancelled, the server connection drops, `maxMs` passes, or the service is
 * removed. At most `maxActive` run at once.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MAX_LOG_FOLLOW_CHUNKS, MAX_LOG_FOLLOW_CHUNK_CHARS, MAX_LOG_FOLLOW_MS, type LogChunk, type LogFollowEndReason, type LogsFollowRequest } from '../protocol/index.js';
import { LogFollower } from './services/log-follower.js';

export interface LogFollowsOptions {
  /** How often files are read and a batch is sent. Default 150 ms. */
  pollMs?: number;
  /** A follow ends by itself after this long. Default MAX_LOG_FOLLOW_MS (1 hour). */
  maxMs?: number;
  /** Follows at once on this agent; more are refused. Default 16. */
  maxActive?: number;
}

export interface LogFollowsDeps {
  log: Logger;
  /** Where a service's `stdout.log` and `stderr.log` are. */
  logDir: (service: string) => string;
  /** Whether the service is (still) installed. */
  has: (service: string) => boolean;
}

interface Active {
  service: string;
  stop: (reason: LogFollowEndReason) => void;
}

/** Splits text into pieces of at most `max` characters, at a line end where there is one, never inside a surrogate pair. */
export function splitText(text: string, max: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf('\n', max - 1) + 1;
    if (cut === 0) {
      cut = max;
      const code = rest.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut--;
    }
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.length > 0) out.push(rest);
  return out;
}

export class LogFollows {
  private readonly active = new Map<string, Active>();
  private readonly o: Required<LogFollowsOptions>;

  constructor(
    private readonly deps: LogFollowsDeps,
    opts: LogFollowsOptions = {},
  ) {
    this.o = { pollMs: opts.pollMs ?? 150, maxMs: opts.maxMs ?? MAX_LOG_FOLLOW_MS, maxActive: opts.maxActive ?? 16 };
  }

  /** Follows running now, for one service or all. */
  count(service?: string): number {
    let n = 0;
    for (const a of this.active.values()) if (service === undefined || a.service === service) n++;
    return n;
  }

  /** Ends the follow started by request `id`; false if there is none. */
  cancel(id: string): boolean {
    const a = this.active.get(id);
    a?.stop('cancelled');
    return a !== undefined;
  }

  /**
   * Follows until it ends; resolves with why. Sends `{ started: true }`
   * first, then `{ chunks }`. Throws (before starting) for an unknown
   * service, a duplicate id, or too many follows; an I/O error while
   * following ends it with that error.
   */
  async follow(request: LogsFollowRequest, progress: (chunk: Record<string, unknown>) => void, signal: AbortSignal): Promise<LogFollowEndReason> {
    const { id, service } = request;
    if (!this.deps.has(service)) throw new Error(`no service ${service} on this agent`);
    if (this.active.has(id)) throw new Error(`a follow with id ${id} is already running`);
    if (this.active.size >= this.o.maxActive) throw new Error(`this agent already follows ${this.active.size} service logs (at most ${this.o.maxActive})`);
    if (signal.aborted) return 'disconnected';

    const ended = new AbortController();
    let reason: LogFollowEndReason = 'cancelled';
    const stop = (why: LogFollowEndReason) => {
      if (ended.signal.aborted) return;
      reason = why;
      ended.abort();
    };
    const onDisconnect = () => stop('disconnected');
    signal.addEventListener('abort', onDisconnect, { once: true });
    const maxTimer = setTimeout(() => stop('max-time'), this.o.maxMs);
    this.active.set(id, { service, stop });
    const dir = this.deps.logDir(service);
    const followers = (['stdout', 'stderr'] as const).map((stream) => ({
      stream,
      follower: new LogFollower(join(dir, `${stream}.log`), { startOffset: request.offsets?.[stream] }),
    }));
    this.deps.log.info({ id, service, active: this.active.size }, 'following service log');
    try {
      await Promise.all(followers.map(({ follower }) => follower.start()));
      progress({ started: true });
      while (!ended.signal.aborted) {
        if (!this.deps.has(service)) {
          stop('service-removed');
          break;
        }
        const chunks: LogChunk[] = [];
        for (const { stream, follower } of followers) {
          for (const data of splitText(await follower.poll(), MAX_LOG_FOLLOW_CHUNK_CHARS)) chunks.push({ stream, data });
        }
        if (ended.signal.aborted) break;
        for (let i = 0; i < chunks.length; i += MAX_LOG_FOLLOW_CHUNKS) progress({ chunks: chunks.slice(i, i + MAX_LOG_FOLLOW_CHUNKS) });
        await delay(this.o.pollMs, undefined, { signal: ended.signal }).catch(() => undefined);
      }
      return reason;
    } finally {
      clearTimeout(maxTimer);
      signal.removeEventListener('abort', onDisconnect);
      this.active.delete(id);
      await Promise.all(followers.map(({ follower }) => follower.close()));
      this.deps.log.info({ id, service, reason, active: this.active.size }, 'stopped following service log');
    }
  }
}
