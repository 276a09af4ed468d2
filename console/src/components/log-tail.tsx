/**
 * A live log tail of one service (`GET /api/v1/agents/{id}/services/{s}/logs/follow`,
 * SSE). Lines are text in a <pre>, never markup; the view keeps the last
 * MAX_CHARS and reconnects from the last offset if the stream drops.
 */
import { useEffect, useRef, useState } from 'react';
import { readSse } from '../api/sse';
import { api, qs, seg } from '../api/client';

const MAX_CHARS = 200_000;
/** How much recent output to show before following. */
const TAIL_BYTES = 8 * 1024;

export function LogTail({ agentId, service }: { agentId: string; service: string }) {
  const [text, setText] = useState('');
  const [state, setState] = useState<'connecting' | 'following' | 'ended' | 'error'>('connecting');
  const [note, setNote] = useState('');
  const pre = useRef<HTMLPreElement>(null);
  const pinned = useRef(true);
  useEffect(() => {
    const stop = new AbortController();
    setText('');
    setState('connecting');
    const base = `/api/v1/agents/${seg(agentId)}/services/${seg(service)}/logs`;
    const follow = (stdoutOffset: number | undefined) =>
    readSse(`${base}/follow${qs({ stdoutOffset })}`, {
      signal: stop.signal,
      onOpen: () => setState('following'),
      onMessage: (m) => {
        const data = JSON.parse(m.data) as { stream?: string; data?: string; chars?: number; reason?: string; message?: string };
        if (m.event === 'output') setText((t) => (t + (data.data ?? '')).slice(-MAX_CHARS));
        else if (m.event === 'dropped') setNote(`${data.chars ?? 0} characters dropped (the console fell behind)`);
        else if (m.event === 'end') {
          setState('ended');
          setNote(`ended: ${data.reason ?? ''}`);
        } else if (m.event === 'error') {
          setState('error');
          setNote(data.message ?? 'error');
        }
      },
    })
      .then(() => setState((s) => (s === 'error' ? s : 'ended')))
      .catch((err: unknown) => {
        if (stop.signal.aborted) return;
        setState('error');
        setNote((err as Error).message);
      });
    // The recent tail of stdout first, then follow from where it ended (an agent too old for offsets: from now).
    api<{ data: string; nextOffset: number }>(`${base}${qs({ stream: 'stdout', tailBytes: TAIL_BYTES })}`, { signal: stop.signal })
      .then((tail) => {
        // A window that starts mid-file starts mid-line: show whole lines only.
        const whole = tail.nextOffset > tail.data.length ? tail.data.slice(tail.data.indexOf('\n') + 1) : tail.data;
        setText(whole.slice(-MAX_CHARS));
        return tail.nextOffset;
      })
      .catch(() => undefined)
      .then((offset) => follow(offset));
    return () => stop.abort();
  }, [agentId, service]);
  useEffect(() => {
    if (pinned.current && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text]);
  return (
    <div className="log-tail">
      <h3>
        Logs of <span className="mono">{service}</span> <span className="muted small">({state}{note ? `: ${note}` : ''})</span>
      </h3>
      <pre
        ref={pre}
        className="log tall"
        data-testid="log-tail"
        tabIndex={0}
        aria-label={`Log output of ${service}`}
        onScroll={(e) => {
          const el = e.currentTarget;
          pinned.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 20;
        }}
      >
        {text || (state === 'following' ? 'Waiting for output…' : '')}
      </pre>
    </div>
  );
}
