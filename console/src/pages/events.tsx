/** Events: the fleet's event log, filterable by type and agent (in the URL), with new events arriving live. */
import { useQuery } from '@tanstack/react-query';
import { api, qs, seg } from '../api/client';
import type { FleetEvent } from '../api/types';
import { Time } from '../components/time';
import { Empty, Query } from '../components/states';
import { Link } from '../components/link';
import { useQueryState } from '../router';
import { useLive } from '../live';

export function EventsPage() {
  const [params, setParams] = useQueryState();
  const type = params.get('type') ?? '';
  const agent = params.get('agent') ?? '';
  const q = useQuery({ queryKey: ['events', 'page', type, agent], queryFn: () => api<{ events: FleetEvent[] }>(`/api/v1/events${qs({ type, agent, limit: 1000 })}`) });
  const live = useLive();
  const list = [...(q.data?.events ?? [])];
  const seen = new Set(list.map((e) => e.id));
  for (const e of live.recent) if (!seen.has(e.id) && (!type || e.type === type) && (!agent || e.agentId === agent)) list.push(e);
  return (
    <section className="page">
      <h1>Events</h1>
      <div className="filters">
        <div className="field">
          <label htmlFor="ev-type">Type</label>
          <input id="ev-type" data-search className="mono" value={type} placeholder="agent.offline" onChange={(e) => setParams({ type: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="ev-agent">Agent id</label>
          <input id="ev-agent" className="mono" value={agent} onChange={(e) => setParams({ agent: e.target.value })} />
        </div>
      </div>
      <Query q={q} what="events">
        {() =>
          list.length === 0 ? (
            <Empty>No events match.</Empty>
          ) : (
            <table className="table compact">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Type</th>
                  <th>Agent</th>
                  <th>Details</th>
                </tr>
              </thead>
              <tbody>
                {list
                  .slice(-500)
                  .reverse()
                  .map((e) => (
                    <tr key={e.id}>
                      <td>
                        <Time iso={e.at} />
                      </td>
                      <td>
                        <button type="button" className="link mono" onClick={() => setParams({ type: e.type })}>
                          {e.type}
                        </button>
                      </td>
                      <td className="mono">{e.agentId ? <Link href={`/agents/${seg(e.agentId)}`}>{e.agentId.slice(0, 8)}</Link> : '—'}</td>
                      <td className="mono wrap small">{JSON.stringify(e.data)}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          )
        }
      </Query>
    </section>
  );
}
