/**
 * Jobs: start a command on a selector (max concurrency, error budget,
 * timeout) and watch output stream in per host; the jobs started recently
 * (from job.started events); one job's per-host results, filterable to the
 * failed ones.
 */
import { useState, type FormEvent } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api, qs, seg } from '../api/client';
import type { FleetEvent, Job } from '../api/types';
import { JobOutput, splitCommand } from '../components/job-output';
import { Status } from '../components/status';
import { Time } from '../components/time';
import { Empty, Query } from '../components/states';
import { Link } from '../components/link';
import { navigate, useQueryState } from '../router';
import { can, useMe } from '../me';

export function JobsPage() {
  const me = useMe();
  const recent = useQuery({ queryKey: ['jobs', 'recent'], queryFn: () => api<{ events: FleetEvent[] }>(`/api/v1/events${qs({ type: 'job.started', limit: 1000 })}`) });
  return (
    <section className="page">
      <h1>Jobs</h1>
      {can(me.data, 'write') && <StartJob />}
      <h2>Recent jobs</h2>
      <Query q={recent} what="jobs">
        {(d) =>
          d.events.length === 0 ? (
            <Empty>No jobs yet.</Empty>
          ) : (
            <table className="table compact">
              <thead>
                <tr>
                  <th>Job</th>
                  <th>Command</th>
                  <th>Selector</th>
                  <th>Started</th>
                </tr>
              </thead>
              <tbody>
                {[...d.events].reverse().slice(0, 100).map((e) => {
                  const id = String(e.data.jobId ?? e.data.id ?? '');
                  return (
                    <tr key={e.id}>
                      <td className="mono">{id ? <Link href={`/jobs/${seg(id)}`}>{id.slice(0, 8)}</Link> : '—'}</td>
                      <td className="mono wrap">{Array.isArray(e.data.command) ? (e.data.command as string[]).join(' ') : ''}</td>
                      <td className="mono">{String(e.data.selector ?? '')}</td>
                      <td>
                        <Time iso={e.at} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )
        }
      </Query>
    </section>
  );
}

function StartJob() {
  const [form, setForm] = useState({ selector: '', command: '', maxConcurrency: '10', errorBudget: '0', timeoutSeconds: '60' });
  const [error, setError] = useState<{ field: string; text: string } | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const command = splitCommand(form.command);
    if (command.length === 0) return setError({ field: 'command', text: 'Type a command, e.g. uptime' });
    const timeout = Number(form.timeoutSeconds);
    if (!(timeout > 0 && timeout <= 86400)) return setError({ field: 'timeoutSeconds', text: 'Seconds, more than 0 and at most 86400.' });
    try {
      const job = await api<{ id: string }>('/api/v1/jobs', { method: 'POST', body: { selector: form.selector, command, maxConcurrency: form.maxConcurrency, errorBudget: form.errorBudget, timeoutSeconds: timeout } });
      navigate(`/jobs/${seg(job.id)}`);
    } catch (err) {
      const text = (err as Error).message;
      setError({ field: ['selector', 'maxConcurrency', 'errorBudget', 'command'].find((f) => text.includes(f)) ?? 'form', text });
    }
  };
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const err = (k: string) =>
    error?.field === k && (
      <p className="field-error" role="alert">
        {error.text}
      </p>
    );
  return (
    <form className="form wide" onSubmit={(e) => void submit(e)}>
      <div className="field">
        <label htmlFor="j-selector">Selector</label>
        <input id="j-selector" className="mono" value={form.selector} onChange={set('selector')} placeholder="env=prod" />
        {err('selector')}
      </div>
      <div className="field">
        <label htmlFor="j-command">Command (no shell)</label>
        <input id="j-command" className="mono" value={form.command} onChange={set('command')} placeholder="uptime" />
        {err('command')}
      </div>
      <div className="row">
        <div className="field">
          <label htmlFor="j-conc">Max concurrency</label>
          <input id="j-conc" value={form.maxConcurrency} onChange={set('maxConcurrency')} />
          {err('maxConcurrency')}
        </div>
        <div className="field">
          <label htmlFor="j-budget">Error budget</label>
          <input id="j-budget" value={form.errorBudget} onChange={set('errorBudget')} />
          {err('errorBudget')}
        </div>
        <div className="field">
          <label htmlFor="j-timeout">Timeout (s)</label>
          <input id="j-timeout" inputMode="numeric" value={form.timeoutSeconds} onChange={set('timeoutSeconds')} />
          {err('timeoutSeconds')}
        </div>
      </div>
      {err('form')}
      <button type="submit" className="primary">
        Run job
      </button>
    </form>
  );
}

export function JobPage({ id }: { id: string }) {
  const [params, setParams] = useQueryState();
  const failedOnly = params.get('failed') === '1';
  const job = useQuery({ queryKey: ['jobs', 'one', id], queryFn: () => api<Job>(`/api/v1/jobs/${seg(id)}`), refetchInterval: (q) => (q.state.data?.status === 'running' ? 3000 : false) });
  return (
    <section className="page">
      <p className="crumbs">
        <Link href="/jobs">Jobs</Link> / job
      </p>
      <h1>
        Job <span className="mono">{id.slice(0, 8)}</span>
      </h1>
      <Query q={job} what="the job">
        {(j) =>
          j.status === 'running' ? (
            <JobOutput id={id} />
          ) : (
            <>
              <p>
                <Status value={j.status} /> {Array.isArray(j.spec.command) && <span className="mono">{(j.spec.command as string[]).join(' ')}</span>} · finished <Time iso={j.finishedAt} />
              </p>
              <label className="small">
                <input type="checkbox" checked={failedOnly} onChange={(e) => setParams({ failed: e.target.checked ? '1' : null })} /> Only failed hosts
              </label>
              <table className="table">
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
                  {j.hosts
                    .filter((h) => !failedOnly || h.status === 'failed')
                    .map((h) => (
                      <tr key={h.agentId}>
                        <td>
                          <Link href={`/agents/${seg(h.agentId)}`}>{h.agentName}</Link>
                        </td>
                        <td>
                          <Status value={h.status} />
                        </td>
                        <td className="num mono">{h.exitCode ?? h.signal ?? '—'}</td>
                        <td className="num">{h.startedAt && h.finishedAt ? `${((Date.parse(h.finishedAt) - Date.parse(h.startedAt)) / 1000).toFixed(1)}s` : '—'}</td>
                        <td>
                          <pre className="log small">{h.output || h.error || ' '}</pre>
                          {h.truncated && <span className="chip">truncated</span>}
                        </td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </>
          )
        }
      </Query>
    </section>
  );
}
