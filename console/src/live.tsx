/**
 * Live updates for every page: one connection to the server's fleet event
 * stream (`GET /api/v1/stream`, SSE, resumed with Last-Event-ID), or, on a
 * server without it, polling `GET /api/v1/events?after=`. Each event
 * refreshes the queries it touches. A lost connection sets `state` to
 * 'lost' (the banner) and retries by itself with backoff; on recovery it
 * resumes after the last event seen and refreshes everything once.
 */
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { ApiError, api, qs } from './api/client';
import { readSse } from './api/sse';
import type { FleetEvent } from './api/types';

export type LiveState = 'connecting' | 'live' | 'lost';

interface LiveContext {
  state: LiveState;
  /** The newest events seen since the page loaded (newest last, at most MAX_RECENT). */
  recent: FleetEvent[];
  subscribe(listener: (e: FleetEvent) => void): () => void;
}

const Ctx = createContext<LiveContext>({ state: 'connecting', recent: [], subscribe: () => () => undefined });
export const useLive = () => useContext(Ctx);

const MAX_RECENT = 500;
const POLL_MS = 2000;
const MAX_BACKOFF_MS = 10_000;
const POLL_PAGE = 500;
/** Pages read at most while catching up in one poll. */
const MAX_CATCHUP_PAGES = 20;

/** The cached queries an event makes stale, as JSON query keys (so a burst names each once). */
function staleKeys(e: FleetEvent): string[] {
  const kind = e.type.split('.')[0];
  const keys: unknown[][] = [['events']];
  if (kind === 'agent' || kind === 'service' || kind === 'config') {
    keys.push(['agents']);
    if (e.agentId) keys.push(['agent', e.agentId]);
  }
  if (kind === 'deployment' || kind === 'rollout' || kind === 'service') keys.push(['deployments'], ['rollouts']);
  if (kind === 'job') keys.push(['jobs']);
  if (kind === 'package') keys.push(['packages']);
  return keys.map((k) => JSON.stringify(k));
}

function invalidate(qc: QueryClient, keys: Iterable<string>): void {
  for (const k of keys) void qc.invalidateQueries({ queryKey: JSON.parse(k) as unknown[] });
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

export function LiveProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [state, setState] = useState<LiveState>('connecting');
  const [recent, setRecent] = useState<FleetEvent[]>([]);
  const listeners = useRef(new Set<(e: FleetEvent) => void>());

  useEffect(() => {
    const stop = new AbortController();
    let lastId: string | null = null;
    let failures = 0;
    let wasLost = false;
    let pending: FleetEvent[] = [];
    const stale = new Set<string>();
    let flushTimer: ReturnType<typeof setTimeout> | null = null;
    const deliver = (e: FleetEvent) => {
      lastId = String(e.id);
      listeners.current.forEach((l) => l(e));
      pending.push(e);
      for (const k of staleKeys(e)) stale.add(k);
      // Batch renders and refetches: a burst of events (a bulk label on 500
      // agents) is one update and one refetch per query, not one per event.
      flushTimer ??= setTimeout(() => {
        const batch = pending;
        pending = [];
        flushTimer = null;
        invalidate(qc, stale);
        stale.clear();
        setRecent((old) => [...old, ...batch].slice(-MAX_RECENT));
      }, 200);
    };
    const connected = () => {
      failures = 0;
      setState('live');
      if (wasLost) {
        wasLost = false;
        void qc.invalidateQueries();
      }
    };

    const viaStream = async (): Promise<'ended' | 'unsupported'> => {
      try {
        await readSse('/api/v1/stream', {
          signal: stop.signal,
          lastEventId: lastId,
          onOpen: connected,
          onMessage: (m) => {
            if (m.event !== 'message' && m.event !== 'event') return;
            try {
              deliver(JSON.parse(m.data) as FleetEvent);
            } catch {
              // A malformed event is skipped; the next refresh shows the truth.
            }
            if (m.id) lastId = m.id;
          },
        });
        return 'ended';
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return 'unsupported';
        throw err;
      }
    };

    const viaPolling = async () => {
      for (;;) {
        // The first poll only finds where "now" is: history is the Events page's job.
        const first = lastId === null;
        for (let page = 0; page < MAX_CATCHUP_PAGES; page++) {
          const { events } = await api<{ events: FleetEvent[] }>(`/api/v1/events${qs({ after: lastId ?? 0, limit: POLL_PAGE })}`, { signal: stop.signal });
          connected();
          for (const e of events) {
            if (first) lastId = String(e.id);
            else deliver(e);
          }
          if (events.length < POLL_PAGE) break;
        }
        if (lastId === null) lastId = '0';
        await sleep(POLL_MS, stop.signal);
        if (stop.signal.aborted) return;
      }
    };

    void (async () => {
      let streamSupported = true;
      while (!stop.signal.aborted) {
        try {
          if (streamSupported && (await viaStream()) === 'unsupported') streamSupported = false;
          if (!streamSupported) await viaPolling();
        } catch (err) {
          if (stop.signal.aborted) return;
          // 401 ends the session elsewhere; anything else is a lost connection.
          if (err instanceof ApiError && err.status === 401) return;
          failures++;
          wasLost = true;
          setState('lost');
        }
        await sleep(Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(failures, 5)), stop.signal);
      }
    })();
    return () => {
      stop.abort();
      if (flushTimer) clearTimeout(flushTimer);
    };
  }, [qc]);

  const value: LiveContext = {
    state,
    recent,
    subscribe: (l) => {
      listeners.current.add(l);
      return () => listeners.current.delete(l);
    },
  };
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
