/**
 * Follows one job (`GET /api/v1/jobs/{id}/events`, SSE): output streams in
 * per host as the agents write it, then the final per-host results. All
 * output is rendered as text.
 */
import { useEffect, useState } from 'react';
import { readSse } from '../api/sse';
import { seg } from '../api/client';
import type { Job, JobHost } from '../api/types';
import { Status } from './status';

/** Output kept per host in the live view (the stored result has the whole, bounded, output). */
const MAX_LIVE_CHARS = 256 * 1024;

export function JobOutput({ id, onDone }: { id: string; onDone?: (job: Job) => void }) {
  const [live, setLive] = useState<Record<string, { name: string; text: string }>>({});
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const stop = new AbortController();
    setLive({});
    setJob(null);
    readSse(`/api/v1/jobs/${seg(id)}/events`, {
      signal: stop.signal,
      onMessage: (m) => {
        const data = JSON.parse(m.data) as Record<string, unknown>;
        if (m.event === 'output') {
          const agentId = String(data.agentId);
          setLive((old) => {
            const prev = old[agentId] ?? { name: String(data.agentName), text: '' };
            return { ...old, [agentId]: { name: prev.name, text: (prev.text + String(data.data)).slice(-MAX_LIVE_CHARS) } };
          });
        } else if (m.event === 'done') {
          setJob(data as unknown as Job);
          onDone?.(data as unknown as Job);
        }
      },
    }).catch((err: unknown) => {
      if (!stop.signal.aborted) setError((err as Error).message);
    });
    return () => stop.abort();
    // onDone is a notification; following restarts only for another job.
  }, [id]);

  const hosts: (Partial<JobHost> & { agentId: string; agentName: string; output: string })[] = job
    ? job.hosts
    : Object.entries(live).map(([agentId, h]) => ({ agentId, agentName: h.name, output: h.text, status: 'running' as const }));
  return (
    <div className="job-output" aria-live="polite">
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <p>
        Job <span className="mono">{id}</span>: <Status value={job?.status ?? 'running'} />
      </p>
      {hosts.length === 0 && !job && <p className="muted">Waiting for output…</p>}
      {hosts.map((h) => (
        <div key={h.agentId} className="host-output">
          <div className="host-head">
            <strong>{h.agentName}</strong> <Status value={h.status ?? 'running'} />
            {h.exitCode !== undefined && h.exitCode !== null && <span className="mono">exit {h.exitCode}</span>}
            {h.signal && <span className="mono">signal {h.signal}</span>}
            {h.truncated && <span className="chip">output truncated</span>}
            {h.error && <span className="field-error">{h.error}</span>}
          </div>
          <pre className="log">{h.output || ' '}</pre>
        </div>
      ))}
    </div>
  );
}

/** Splits a command line into argv (whitespace; single or double quotes group). No shell runs it. */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}
