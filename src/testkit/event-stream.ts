/**
 * A client of GET /api/v1/stream for tests: collects the events as they
 * arrive (with their SSE ids) until closed.
 */
import { readSse } from '../cli/sse.js';

export interface StreamedEvent {
  sseId: number;
  id: number;
  type: string;
  agentId: string | null;
  data: Record<string, unknown>;
}

export interface OpenStream {
  status: number;
  headers: Headers;
  /** The error body when the status is not 200. */
  error: { error: { code: string; message: string } } | null;
  received: StreamedEvent[];
  close(): Promise<void>;
}

export async function openEventStream(baseUrl: string, token: string, opts: { query?: string; lastEventId?: number | string } = {}): Promise<OpenStream> {
  const ac = new AbortController();
  const res = await fetch(`${baseUrl}/api/v1/stream${opts.query ? `?${opts.query}` : ''}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...(opts.lastEventId !== undefined ? { 'last-event-id': String(opts.lastEventId) } : {}) },
    signal: ac.signal,
  });
  const received: StreamedEvent[] = [];
  if (res.status !== 200 || !res.body) {
    return { status: res.status, headers: res.headers, error: (await res.json()) as OpenStream['error'], received, close: async () => undefined };
  }
  const body = res.body;
  const reading = (async () => {
    try {
      for await (const m of readSse(body)) {
        if (m.event === 'message') received.push({ sseId: Number(m.id), ...(JSON.parse(m.data) as Omit<StreamedEvent, 'sseId'>) });
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    status: res.status,
    headers: res.headers,
    error: null,
    received,
    async close() {
      ac.abort();
      await reading;
    },
  };
}
