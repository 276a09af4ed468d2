/** Service state changes an agent reports in its health (started, exited, crash loop, unhealthy, recovered, stopped, removed) become events. */
import type { EventSink } from './agent-event-budget.js';
import type { Session } from './session.js';

export function recordServiceChanges(
  events: EventSink,
  session: Session,
  components: Record<string, { healthy: boolean; status: string; lastError: string }>,
): void {
  const next: Record<string, string> = {};
  for (const [name, c] of Object.entries(components)) {
    const key = `${c.status}/${c.healthy ? 'healthy' : 'unhealthy'}`;
    next[name] = key;
    if (session.services[name] !== key) {
      events.record(`service.${c.status}`, session.agentId, { service: name, healthy: c.healthy, ...(c.lastError ? { error: c.lastError } : {}) });
    }
  }
  for (const name of Object.keys(session.services)) {
    if (!(name in next)) events.record('service.removed', session.agentId, { service: name });
  }
  session.services = next;
}
