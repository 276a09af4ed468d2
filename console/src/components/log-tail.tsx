/**
 * A live log tail of one service (`GET /api/v1/agents/{id}/services/{s}/logs/follow`,
 * SSE). Lines are text in a <pre>, never markup; the view keeps the last
 * MAX_CHARS and reconnects from the last offset if the stream drops.
 */
import { useEffect, useRef, useState } from 'react';
import { readSse } from '../api/sse';
import { qs, seg } from '../api/client';

const MAX_CHARS = 200_000;

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
    // Start from the recent tail, then follow.
    readSse(`/api/v1/agents/${seg(agentId)}/services/${seg(service)}/logs/follow${qs({})}`, {
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
