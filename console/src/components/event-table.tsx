/**
 * Fleet events as a table, newest first: the events page and an agent's
 * recent events. `useEventList` merges a query's events with those that
 * arrived live since (deduplicated by id).
 */
import type { FleetEvent } from '../api/types';
import { seg } from '../api/client';
import { useLive } from '../live';
import { Link } from './link';
import { Time } from './time';

export function useEventList(loaded: FleetEvent[] | undefined, keep: (e: FleetEvent) => boolean): FleetEvent[] {
  const live = useLive();
  const list = [...(loaded ?? [])];
  const seen = new Set(list.map((e) => e.id));
  for (const e of live.recent) if (!seen.has(e.id) && keep(e)) list.push(e);
  return list;
}

export function EventTable({ events, max, withHead, onType }: { events: FleetEvent[]; max: number; withHead?: boolean; onType?: (type: string) => void }) {
  return (
    <table className="table compact">
      {withHead && (
        <thead>
          <tr>
            <th>When</th>
            <th>Type</th>
            {onType && <th>Agent</th>}
            <th>Details</th>
          </tr>
        </thead>
      )}
      <tbody>
        {events
          .slice(-max)
          .reverse()
          .map((e) => (
            <tr key={e.id}>
              <td>
                <Time iso={e.at} />
              </td>
              {onType ? (
                <>
                  <td>
                    <button type="button" className="link mono" onClick={() => onType(e.type)}>
                      {e.type}
                    </button>
                  </td>
                  <td className="mono">{e.agentId ? <Link href={`/agents/${seg(e.agentId)}`}>{e.agentId.slice(0, 8)}</Link> : '—'}</td>
                </>
              ) : (
                <td className="mono">{e.type}</td>
              )}
              <td className="mono wrap small">{JSON.stringify(e.data)}</td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}
