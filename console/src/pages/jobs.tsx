/**
 * Jobs: start a command on a selector (components/start-job.tsx); every job,
 * newest first, a page at a time from GET /api/v1/jobs, filtered by state,
 * starter and failed hosts (filters live in the URL), live from the fleet
 * stream's job events; one job's per-host results (exit code, duration,
 * output, truncated marker), filterable to the failed hosts, with output
 * streaming in from the job's SSE while it runs. All output is text.
 */
import { useEffect, useState } from 'react';
import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, qs, seg } from '../api/client';
import { readSse } from '../api/sse';
import type { Job, JobHost, JobList, JobSummary } from '../api/types';
import { StartJob } from '../components/start-job';
import { Status } from '../components/status';
import { Time } from '../components/time';
import { Empty, ErrorBox, Loading, Query } from '../components/states';
import { Link } from '../components/link';
import { useQueryState } from '../router';
import { can, useMe } from '../me';

const PAGE = 50;
/** While a listed job runs, its host counts change without a fleet event: poll this often. */
const RUNNING_POLL_MS = 2000;
/** Output kept per host while streaming (the stored result has the whole, bounded, output). */
const MAX_LIVE_CHARS = 256 * 1024;

function HostCounts({ h }: { h: JobSummary['hosts'] }) {
  const parts = [
    ['ok', h.ok, 'succeeded'],
    ['failed', h.failed, 'failed'],
    ['timed out', h.timedOut, 'failed'],
    ['skipped', h.skipped, 'skipped'],
    ['running', h.running, 'running'],
    ['pending', h.pending, 'pending'],
  ] as const;
  const shown = parts.filter(([, n]) => n > 0);
  if (shown.length === 0) return <span className="muted">no hosts</span>;
  return (
    <span className="host-counts">
      {shown.map(([label, n, tone]) => (
        <Status key={label} value={tone} label={`${n} ${label}`} />
      ))}
    </span>
  );
}

export function JobsPage() {
  const me = useMe();
  const [params, setParams] = useQueryState();
  const state = params.get('state') ?? '';
  const by = params.get('by') ?? '';
  const failed = params.get('failed') === '1';
  const [byInput, setByInput] = useState(by);
  useEffect(() => setByInput(by), [by]);
  const jobs = useInfiniteQuery({
    queryKey: ['jobs', 'list', state, by, failed],
    queryFn: ({ pageParam }) => api<JobList>(`/api/v1/jobs${qs({ limit: PAGE, state: state || undefined, createdBy: by || undefined, failed: failed ? 'true' : undefined, cursor: pageParam })}`),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    refetchInterval: (q) => (q.state.data?.pages.some((p) => p.jobs.some((j) => j.status === 'running')) ? RUNNING_POLL_MS : false),
  });
  const rows = jobs.data?.pages.flatMap((p) => p.jobs) ?? [];
  const total = jobs.data?.pages[0]?.total ?? 0;
  return (
    <section className="page">
      <h1>Jobs</h1>
      {/* Exec is an admin's (scoped or not): an operator would only meet a 403. */}
      {can(me.data, 'write') && me.data?.roles.some((r) => r.role === 'admin') && <StartJob />}
      <h2>All jobs</h2>
      <div className="filters" role="search" aria-label="Filter jobs">
        <div className="field">
          <label htmlFor="jobs-state">State</label>
          <select id="jobs-state" value={state} onChange={(e) => setParams({ state: e.target.value || null })}>
            <option value="">Any</option>
            <option value="running">Running</option>
            <option value="done">Done</option>
          </select>
        </div>
        <form
          className="field"
          onSubmit={(e) => {
            e.preventDefault();
            setParams({ by: byInput.trim() || null });
          }}
        >
          <label htmlFor="jobs-by">Started by</label>
          <input id="jobs-by" className="small-input" value={byInput} onChange={(e) => setByInput(e.target.value)} onBlur={() => setParams({ by: byInput.trim() || null })} placeholder="any user" />
        </form>
        <label className="small filter-check">
          <input type="checkbox" checked={failed} onChange={(e) => setParams({ failed: e.target.checked ? '1' : null })} /> Only jobs with failed hosts
        </label>
      </div>
      {jobs.isLoading ? (
        <Loading what="jobs" />
      ) : jobs.error ? (
        <ErrorBox error={jobs.error} retry={() => void jobs.refetch()} />
      ) : rows.length === 0 ? (
        <Empty>{state || by || failed ? 'No job matches these filters.' : 'No jobs yet.'}</Empty>
      ) : (
        <>
          <p className="muted small" aria-live="polite">
            {rows.length} of {total} job{total === 1 ? '' : 's'}
          </p>
          <table className="table compact jobs-list">
            <thead>
              <tr>
                <th>Job</th>
                <th>Status</th>
                <th>Command</th>
                <th>Selector</th>
                <th>Hosts</th>
                <th>By</th>
                <th>Started</th>
                <th>Finished</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((j) => (
                <tr key={j.id}>
                  <td className="mono">
                    <Link href={`/jobs/${seg(j.id)}`}>{j.id.slice(0, 8)}</Link>
                  </td>
                  <td>
                    <Status value={j.status} />
                  </td>
                  <td className="mono wrap">{j.command.join(' ')}</td>
                  <td className="mono">{j.selector || <span className="muted">every agent</span>}</td>
                  <td>
                    <HostCounts h={j.hosts} />
                  </td>
                  <td>{j.createdBy || <span className="muted">unknown</span>}</td>
                  <td>
                    <Time iso={j.createdAt} />
                  </td>
                  <td>{j.finishedAt ? <Time iso={j.finishedAt} /> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {jobs.hasNextPage && (
            <button type="button" onClick={() => void jobs.fetchNextPage()} disabled={jobs.isFetchingNextPage}>
              {jobs.isFetchingNextPage ? 'Loading…' : 'Show older jobs'}
            </button>
          )}
        </>
      )}
    </section>
  );
}

/**
 * Follows a running job's SSE: output per host as it arrives; a host's
 * result or the end of the job refreshes the stored job. Replays from the
 * start, so a page opened mid-job has all output so far.
 */
function useJobStream(id: string, running: boolean): Record<string, string> {
  const qc = useQueryClient();
  const [live, setLive] = useState<Record<string, string>>({});
  useEffect(() => {
    if (!running) return;
    const stop = new AbortController();
    setLive({});
    readSse(`/api/v1/jobs/${seg(id)}/events`, {
      signal: stop.signal,
      onMessage: (m) => {
        if (m.event === 'output') {
          const d = JSON.parse(m.data) as { agentId: string; data: string };
          setLive((old) => ({ ...old, [d.agentId]: ((old[d.agentId] ?? '') + d.data).slice(-MAX_LIVE_CHARS) }));
        } else {
          void qc.invalidateQueries({ queryKey: ['jobs', 'one', id] });
          if (m.event === 'done') void qc.invalidateQueries({ queryKey: ['jobs', 'list'] });
        }
      },
    }).catch(() => {
      // The stored job (refetched below) still has the results; the stream is a live extra.
      if (!stop.signal.aborted) void qc.invalidateQueries({ queryKey: ['jobs', 'one', id] });
    });
    return () => stop.abort();
  }, [id, running, qc]);
  return live;
}

const finished = (h: JobHost) => h.status !== 'running' && h.status !== 'pending';

function duration(h: JobHost): string {
  if (!h.startedAt) return '—';
  const end = h.finishedAt ? Date.parse(h.finishedAt) : Date.now();
  return `${((end - Date.parse(h.startedAt)) / 1000).toFixed(1)}s`;
}

export function JobPage({ id }: { id: string }) {
  const [params, setParams] = useQueryState();
  const failedOnly = params.get('failed') === '1';
  const job = useQuery({
    queryKey: ['jobs', 'one', id, failedOnly],
    queryFn: () => api<Job>(`/api/v1/jobs/${seg(id)}${failedOnly ? '?failed=true' : ''}`),
    refetchInterval: (q) => (q.state.data?.status === 'running' ? RUNNING_POLL_MS * 2 : false),
  });
  const live = useJobStream(id, job.data?.status === 'running');
  return (
    <section className="page">
      <p className="crumbs">
        <Link href="/jobs">Jobs</Link> / job
      </p>
      <h1>
        Job <span className="mono">{id.slice(0, 8)}</span>
      </h1>
      <Query q={job} what="the job">
        {(j) => (
          <>
            <p>
              <Status value={j.status} /> <span className="mono">{Array.isArray(j.spec.command) ? (j.spec.command as string[]).join(' ') : ''}</span> on <span className="mono">{String(j.spec.selector ?? '') || 'every agent'}</span>
              {j.createdBy ? ` · by ${j.createdBy}` : ''} · started <Time iso={j.createdAt} />
              {j.finishedAt && (
                <>
                  {' '}
                  · finished <Time iso={j.finishedAt} />
                </>
              )}
            </p>
            <label className="small">
              <input type="checkbox" checked={failedOnly} onChange={(e) => setParams({ failed: e.target.checked ? '1' : null })} /> Only failed hosts
            </label>
            {j.hosts.length === 0 ? (
              <Empty>{failedOnly ? 'No host failed.' : 'No online agent matched the selector.'}</Empty>
            ) : (
              <table className="table job-hosts">
                <thead>
                  <tr>
                    <th>Host</th>
                    <th>Status</th>
                    <th className="num">Exit</th>
                    <th className="num">Duration</th>
                    <th>Output</th>
                  </tr>
                </thead>
                <tbody>
                  {j.hosts.map((h) => {
                    const output = finished(h) ? h.output : (live[h.agentId] ?? h.output);
                    return (
                      <tr key={h.agentId} data-host={h.agentName}>
                        <td>
                          <Link href={`/agents/${seg(h.agentId)}`}>{h.agentName}</Link>
                        </td>
                        <td>
                          <Status value={h.status} label={h.timedOut ? 'timed out' : h.status} />
                        </td>
                        <td className="num mono">{h.exitCode ?? h.signal ?? '—'}</td>
                        <td className="num">{duration(h)}</td>
                        <td>
                          <pre className="log small">{output || ' '}</pre>
                          {h.error && <p className="field-error">{h.error}</p>}
                          {h.truncated && <span className="chip">output truncated at 1 MiB</span>}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
          </>
        )}
      </Query>
    </section>
  );
}
