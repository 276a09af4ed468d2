/**
 * One agent: description, labels (operator labels editable), services with
 * CPU and RSS charts from the sample history, a live log tail, an exec box,
 * config status and recent events.
 */
import { useMemo, useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, qs, seg } from '../api/client';
import type { AgentDetail, ConfigDiff as ConfigDiffBody, FleetEvent, Service } from '../api/types';
import { Status } from '../components/status';
import { Time, bytes, duration } from '../components/time';
import { Query } from '../components/states';
import { Chart } from '../components/chart';
import { JobOutput, splitCommand } from '../components/job-output';
import { LogTail } from '../components/log-tail';
import { diffLines } from '../diff';
import { Link } from '../components/link';
import { useQueryState } from '../router';
import { EventTable, useEventList } from '../components/event-table';

interface Sample {
  at: number;
  services: { name: string; cpuPercent: number | null; rssBytes: number | null }[];
}

export function AgentPage({ id }: { id: string }) {
  const agent = useQuery({ queryKey: ['agent', id, 'detail'], queryFn: () => api<AgentDetail>(`/api/v1/agents/${seg(id)}`) });
  return (
    <section className="page agent">
      <p className="crumbs">
        <Link href="/fleet">Fleet</Link> / agent
      </p>
      <Query q={agent} what="the agent">
        {(a) => (
          <>
            <div className="page-head">
              <h1>{a.name || a.id}</h1>
              <Status value={a.approval === 'pending' ? 'pending' : a.status} label={a.approval === 'pending' ? 'pending approval' : a.status} />
              {a.health && <Status value={a.health.healthy ? 'healthy' : 'unhealthy'} />}
            </div>
            <dl className="facts">
              <dt>ID</dt>
              <dd className="mono">{a.id}</dd>
              <dt>Kind</dt>
              <dd>{a.kind}</dd>
              <dt>OS / arch</dt>
              <dd>
                {a.os || '—'} / {a.arch || '—'}
              </dd>
              <dt>Agent version</dt>
              <dd className="mono">{a.agentVersion || '—'}</dd>
              <dt>First seen</dt>
              <dd>
                <Time iso={a.firstSeenAt} />
              </dd>
              <dt>Last seen</dt>
              <dd>
                <Time iso={a.lastSeenAt} />
              </dd>
              <dt>Config</dt>
              <dd>
                <Status value={a.config.status === 'APPLIED' ? 'applied' : a.config.status === 'FAILED' ? 'failed' : a.config.status.toLowerCase()} label={a.config.status.toLowerCase()} />
                {a.config.errorMessage && <span className="field-error"> {a.config.errorMessage}</span>}
                <span className="muted small mono">
                  {' '}
                  desired {a.config.desiredHash?.slice(0, 12) ?? 'none'} · running {a.config.reportedHash?.slice(0, 12) ?? 'none'}
                  {a.config.desiredHash && a.config.desiredHash !== a.config.reportedHash ? ' (differs)' : ''}
                </span>
              </dd>
              {a.health?.lastError && (
                <>
                  <dt>Last error</dt>
                  <dd className="field-error">{a.health.lastError}</dd>
                </>
              )}
            </dl>
            <Labels agent={a} />
            <Services agent={a} />
            <Exec agent={a} />
            <ConfigDiff agent={a} />
            <Attributes agent={a} />
            <AgentEvents id={a.id} />
          </>
        )}
      </Query>
    </section>
  );
}

function Labels({ agent }: { agent: AgentDetail }) {
  const qc = useQueryClient();
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const patch = async (labels: Record<string, string | null>) => {
    setError(null);
    try {
      await api(`/api/v1/agents/${seg(agent.id)}`, { method: 'PATCH', body: { labels } });
      await qc.invalidateQueries({ queryKey: ['agent', agent.id] });
      await qc.invalidateQueries({ queryKey: ['agents'] });
      return true;
    } catch (err) {
      setError((err as Error).message);
      return false;
    }
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    if (await patch({ [key.trim()]: value.trim() })) {
      setKey('');
      setValue('');
    }
  };
  const source = (k: string) => (k in agent.operatorLabels ? 'operator' : k in agent.boundLabels ? 'enrollment token' : '');
  return (
    <section className="panel" aria-labelledby="labels-title">
      <h2 id="labels-title">Labels</h2>
      <table className="table compact">
        <thead>
          <tr>
            <th>Key</th>
            <th>Value</th>
            <th>Set by</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(agent.labels).map(([k, v]) => (
            <tr key={k}>
              <td className="mono">{k}</td>
              <td className="mono">{v}</td>
              <td className="muted">{source(k)}</td>
              <td>
                {k in agent.operatorLabels && (
                  <button type="button" className="ghost small" onClick={() => void patch({ [k]: null })} aria-label={`Remove label ${k}`}>
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
          {Object.entries(agent.claimedLabels).map(([k, v]) => (
            <tr key={`claim-${k}`}>
              <td className="mono">claim.{k}</td>
              <td className="mono">{v}</td>
              <td className="muted">the agent (a claim)</td>
              <td />
            </tr>
          ))}
        </tbody>
      </table>
      <form className="inline-form" onSubmit={(e) => void add(e)}>
        <label>
          Key <input value={key} onChange={(e) => setKey(e.target.value)} required className="mono small-input" aria-invalid={error ? true : undefined} aria-describedby={error ? 'label-error' : undefined} />
        </label>
        <label>
          Value <input value={value} onChange={(e) => setValue(e.target.value)} className="mono small-input" />
        </label>
        <button type="submit">Set label</button>
        {error && (
          <span id="label-error" className="field-error" role="alert">
            {error}
          </span>
        )}
      </form>
    </section>
  );
}

const pct = (v: number) => `${v.toFixed(1)}%`;

function Services({ agent }: { agent: AgentDetail }) {
  const online = agent.status === 'online' && agent.kind === 'corral';
  const services = useQuery({ queryKey: ['agent', agent.id, 'services'], queryFn: () => api<{ services: Service[] }>(`/api/v1/agents/${seg(agent.id)}/services`), enabled: online, refetchInterval: 5000 });
  const samples = useQuery({ queryKey: ['agent', agent.id, 'samples'], queryFn: () => api<{ samples: Sample[] }>(`/api/v1/agents/${seg(agent.id)}/samples`), enabled: online, refetchInterval: 10_000 });
  const [params, setParams] = useQueryState();
  const follow = params.get('logs');
  const charts = useMemo(() => {
    const list = samples.data?.samples ?? [];
    const names = [...new Set(list.flatMap((s) => s.services.map((x) => x.name)))].slice(0, 4);
    const times = list.map((s) => s.at / 1000);
    const of = (name: string, f: 'cpuPercent' | 'rssBytes') => list.map((s) => s.services.find((x) => x.name === name)?.[f] ?? null);
    return { times, cpu: names.map((n) => ({ label: n, values: of(n, 'cpuPercent') })), rss: names.map((n) => ({ label: n, values: of(n, 'rssBytes') })) };
  }, [samples.data]);
  if (!online) {
    return (
      <section className="panel">
        <h2>Services</h2>
        <p className="muted">{agent.kind === 'corral' ? 'The agent is not connected: its services cannot be asked now.' : 'Not a Corral agent: it runs no Corral services.'}</p>
      </section>
    );
  }
  return (
    <section className="panel" aria-labelledby="services-title">
      <h2 id="services-title">Services</h2>
      <Query q={services} what="services">
        {(d) =>
          d.services.length === 0 ? (
            <p className="muted">No services on this agent. Deploy a package to a selector that matches it.</p>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th>Service</th>
                  <th>State</th>
                  <th>Health</th>
                  <th>Version</th>
                  <th className="num">PID</th>
                  <th className="num">Uptime</th>
                  <th className="num">Restarts</th>
                  <th className="num">CPU</th>
                  <th className="num">RSS</th>
                  <th>Logs</th>
                </tr>
              </thead>
              <tbody>
                {d.services.map((s) => (
                  <tr key={s.name}>
                    <td className="mono">{s.name}</td>
                    <td>
                      <Status value={s.state} />
                    </td>
                    <td>
                      <Status value={s.healthy ? 'healthy' : 'unhealthy'} />
                    </td>
                    <td className="mono">{s.version}</td>
                    <td className="num mono">{s.pid ?? '—'}</td>
                    <td className="num">{s.uptimeSeconds === null ? '—' : duration(s.uptimeSeconds)}</td>
                    <td className="num">{s.restarts}</td>
                    <td className="num">{s.cpuPercent === null ? '—' : pct(s.cpuPercent)}</td>
                    <td className="num">{bytes(s.rssBytes)}</td>
                    <td>
                      <button type="button" className="small" aria-pressed={follow === s.name} onClick={() => setParams({ logs: follow === s.name ? null : s.name })}>
                        {follow === s.name ? 'Stop following' : 'Follow logs'}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Query>
      {charts.times.length > 1 && charts.cpu.length > 0 && (
        <div className="charts">
          <Chart title="CPU (percent of one core)" times={charts.times} series={charts.cpu} format={pct} />
          <Chart title="Resident memory" times={charts.times} series={charts.rss} format={(v) => bytes(v)} />
        </div>
      )}
      {follow && <LogTail agentId={agent.id} service={follow} />}
    </section>
  );
}

function Exec({ agent }: { agent: AgentDetail }) {
  const [command, setCommand] = useState('');
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (agent.kind !== 'corral') return null;
  const run = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const argv = splitCommand(command);
    if (argv.length === 0) return setError('Type a command to run, e.g. uptime');
    try {
      // Exactly this agent, by the id the server holds (never a claim another agent could make).
      const selector = `corral.io/id=${agent.id}`;
      const job = await api<{ id: string }>('/api/v1/jobs', { method: 'POST', body: { selector, command: argv, maxConcurrency: '1', timeoutSeconds: 60 } });
      setJobId(job.id);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <section className="panel" aria-labelledby="exec-title">
      <h2 id="exec-title">Run a command</h2>
      <form className="inline-form" onSubmit={(e) => void run(e)}>
        <label className="grow">
          Command (no shell; quotes group words){' '}
          <input className="mono" value={command} onChange={(e) => setCommand(e.target.value)} placeholder="uptime" aria-invalid={error ? true : undefined} disabled={agent.status !== 'online'} />
        </label>
        <button type="submit" disabled={agent.status !== 'online'}>
          Run
        </button>
      </form>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      {jobId && <JobOutput id={jobId} />}
    </section>
  );
}

function Attributes({ agent }: { agent: AgentDetail }) {
  const rows = [...Object.entries(agent.identifyingAttributes).map(([k, v]) => [k, v, 'identifying']), ...Object.entries(agent.nonIdentifyingAttributes).map(([k, v]) => [k, v, ''])];
  const files = Object.entries(agent.effectiveConfig?.files ?? {});
  return (
    <section className="panel" aria-labelledby="attrs-title">
      <h2 id="attrs-title">Description</h2>
      <table className="table compact">
        <tbody>
          {rows.map(([k, v, kind]) => (
            <tr key={k}>
              <td className="mono">{k}</td>
              <td className="mono wrap">{v}</td>
              <td className="muted">{kind}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {files.length > 0 && (
        <details>
          <summary>Effective config the agent reports ({files.length === 1 ? '1 file' : `${files.length} files`})</summary>
          {files.map(([name, f]) => (
            <div key={name}>
              <h3 className="mono small">{name}</h3>
              <pre className="log">{f.body}</pre>
            </div>
          ))}
        </details>
      )}
    </section>
  );
}

function AgentEvents({ id }: { id: string }) {
  const events = useQuery({ queryKey: ['events', 'agent', id], queryFn: () => api<{ events: FleetEvent[] }>(`/api/v1/events${qs({ agent: id, limit: 1000 })}`) });
  const list = useEventList(events.data?.events, (e) => e.agentId === id);
  return (
    <section className="panel" aria-labelledby="events-title">
      <h2 id="events-title">Recent events</h2>
      <Query q={events} what="events">
        {() =>
          list.length === 0 ? (
            <p className="muted">No events for this agent.</p>
          ) : (
            <EventTable events={list} max={50} />
          )
        }
      </Query>
    </section>
  );
}

/** What the server offers the agent against what it reports running, file by file (GET /api/v1/agents/{id}/config-diff). */
function ConfigDiff({ agent }: { agent: AgentDetail }) {
  const q = useQuery({
    queryKey: ['agent', agent.id, 'config-diff'],
    queryFn: async () => {
      try {
        return await api<ConfigDiffBody>(`/api/v1/agents/${seg(agent.id)}/config-diff`);
      } catch (err) {
        // A server without the diff: the Description section still shows the effective config.
        if (err instanceof ApiError && err.status === 404 && err.message.startsWith('no route')) return null;
        throw err;
      }
    },
  });
  if (q.data === null) return null;
  return (
    <section className="panel" aria-labelledby="config-title">
      <h2 id="config-title">Config: desired against running</h2>
      <Query q={q} what="the config diff">
        {(d) =>
          d === null || d.files.length === 0 ? (
            <p className="muted">No config is offered to this agent, and it reports none.</p>
          ) : (
            <>
              <p className="muted small">
                From {d.configNames.join(', ') || 'nothing'}
                {d.effectiveReported ? '' : ' · the agent reports no effective config'}
              </p>
              {d.files.map((f) => (
                <details key={f.name} open={f.state !== 'same'}>
                  <summary>
                    <span className="mono">{f.name}</span> <Status value={f.state} label={f.state === 'missing' ? 'offered, not running' : f.state === 'extra' ? 'running, not offered' : f.state} />
                  </summary>
                  <pre className="diff">
                    {diffLines(f.effective?.body ?? '', f.desired?.body ?? '').map((l, i) => (
                      <span key={i} className={`diff-${l.kind}`}>
                        {l.kind === 'add' ? '+ ' : l.kind === 'del' ? '- ' : '  '}
                        {l.text}
                        {'\n'}
                      </span>
                    ))}
                  </pre>
                </details>
              ))}
              <p className="muted small">- running on the agent, + offered by the server</p>
            </>
          )
        }
      </Query>
    </section>
  );
}
