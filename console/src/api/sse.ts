/**
 * Server-Sent Events over fetch(): EventSource cannot send the
 * Authorization header, and the token must not go into a URL. Resolves when
 * the server ends the stream; rejects on a network error or a non-2xx
 * answer (an ApiError with the status, so callers can tell 404 from down).
 */
import { ApiError, authHeaders } from './client';

export interface SseMessage {
  event: string;
  data: string;
  id: string | null;
}

/** One event's text beyond this is a broken or hostile stream. */
const MAX_BUFFER_CHARS = 4 * 1024 * 1024;

export async function readSse(path: string, opts: { signal: AbortSignal; lastEventId?: string | null; onOpen?: () => void; onMessage: (m: SseMessage) => void }): Promise<void> {
  const headers: Record<string, string> = { Accept: 'text/event-stream', ...authHeaders() };
  if (opts.lastEventId) headers['Last-Event-ID'] = opts.lastEventId;
  let res: Response;
  try {
    res = await fetch(path, { headers, signal: opts.signal, cache: 'no-store' });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', 'cannot reach the server');
  }
  if (!res.ok || !res.body) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: { message?: string } };
      message = body.error?.message ?? message;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiError(res.status, `HTTP_${res.status}`, message);
  }
  opts.onOpen?.();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    if (buffer.length > MAX_BUFFER_CHARS) throw new ApiError(0, 'STREAM_TOO_LARGE', 'an event was larger than the console accepts');
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer[end] === '\r' ? 4 : 2));
      let event = 'message';
      let id: string | null = null;
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = val;
        else if (field === 'data') data.push(val);
        else if (field === 'id') id = val;
      }
      if (data.length > 0) opts.onMessage({ event, data: data.join('\n'), id });
    }
  }
}
