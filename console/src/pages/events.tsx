/** Events: the fleet's event log, filterable by type and agent (in the URL), with new events arriving live. */
import { useQuery } from '@tanstack/react-query';
import { api, qs } from '../api/client';
import type { FleetEvent } from '../api/types';
import { Empty, Query } from '../components/states';
import { useQueryState } from '../router';
import { EventTable, useEventList } from '../components/event-table';

export function EventsPage() {
  const [params, setParams] = useQueryState();
  const type = params.get('type') ?? '';
  const agent = params.get('agent') ?? '';
  const q = useQuery({ queryKey: ['events', 'page', type, agent], queryFn: () => api<{ events: FleetEvent[] }>(`/api/v1/events${qs({ type, agent, limit: 1000 })}`) });
  const list = useEventList(q.data?.events, (e) => (!type || e.type === type) && (!agent || e.agentId === agent));
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
        {() => (list.length === 0 ? <Empty>No events match.</Empty> : <EventTable events={list} max={500} withHead onType={(t) => setParams({ type: t })} />)}
      </Query>
    </section>
  );
}
