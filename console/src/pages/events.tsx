/** Events: the fleet's event log, filterable by type, agent and time (in the URL), with new events arriving live. */
import { useQuery } from '@tanstack/react-query';
import { api, qs } from '../api/client';
import type { FleetEvent } from '../api/types';
import { Empty, Query } from '../components/states';
import { useQueryState } from '../router';
import { EventTable, useEventList } from '../components/event-table';
import { TimeRange } from '../components/time-range';

export function EventsPage() {
  const [params, setParams] = useQueryState();
  const type = params.get('type') ?? '';
  const agent = params.get('agent') ?? '';
  const since = params.get('since') ?? '';
  const until = params.get('until') ?? '';
  const q = useQuery({ queryKey: ['events', 'page', type, agent, since, until], queryFn: () => api<{ events: FleetEvent[] }>(`/api/v1/events${qs({ type, agent, since, until, limit: 1000 })}`) });
  // Live events join an open-ended range only.
  const list = useEventList(q.data?.events, (e) => !until && (!type || e.type === type) && (!agent || e.agentId === agent));
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
        <TimeRange idPrefix="ev" />
      </div>
      <Query q={q} what="events">
        {() => (list.length === 0 ? <Empty>No events match.</Empty> : <EventTable events={list} max={500} withHead onType={(t) => setParams({ type: t })} />)}
      </Query>
    </section>
  );
}
