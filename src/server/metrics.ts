/**
 * Prometheus metrics on `/metrics`: agents by status, OpAMP messages in and
 * out, live connections, HTTP requests by route and status, artifact
 * downloads in flight and refused at the cap, and the process
 * metrics prom-client collects (CPU, RSS, heap, event loop lag, fds).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from './store/index.js';
import type { SampleHistory } from './fleet/sample-history.js';

export interface ServerMetrics {
  registry: Registry;
  opampMessages: Counter<'direction' | 'transport'>;
  httpRequests: Counter<'route' | 'status'>;
  artifactDownloadsRefused: Counter;
  agentEventsDropped: Counter;
  agentSamplesDropped: Counter<'reason'>;
  authFailures: Counter<'edge'>;
  rateLimited: Counter<'reason'>;
  auditAppendFailures: Counter;
}

/** Counting agents reads the store, so a scrape storm is answered from a short cache. */
const AGENT_COUNT_CACHE_MS = 2000;

export function createMetrics(deps: { store: Store; connections: () => number; samples: SampleHistory; downloadsInFlight: () => number; opampInflightBytes?: () => number }): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let cached: { at: number; counts: Record<string, number> } | null = null;

  new Gauge({
    name: 'corral_agents',
    help: 'Agents known to the store, by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      if (!cached || Date.now() - cached.at > AGENT_COUNT_CACHE_MS) {
        const counts: Record<string, number> = { online: 0, offline: 0, revoked: 0 };
        for (const a of await deps.store.listAgents()) counts[a.status] = (counts[a.status] ?? 0) + 1;
        cached = { at: Date.now(), counts };
      }
      for (const [status, n] of Object.entries(cached.counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'corral_services',
    help: 'Services on online agents, by the state their agents last reported (running, crash-loop, unhealthy, stopped, ...)',
    labelNames: ['state', 'healthy'],
    registers: [registry],
    async collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const a of await deps.store.listAgents()) {
        if (a.status !== 'online') continue;
        for (const c of Object.values(a.health?.components ?? {})) {
          const key = `${c.status}\0${c.healthy}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      for (const [key, n] of counts) {
        const [state, healthy] = key.split('\0') as [string, string];
        this.set({ state, healthy }, n);
      }
    },
  });
  new Gauge({
    name: 'corral_opamp_connections',
    help: 'Open OpAMP WebSocket connections on this server process',
    registers: [registry],
    collect() {
      this.set(deps.connections());
    },
  });
  new Gauge({
    name: 'corral_opamp_inflight_bytes',
    help: 'OpAMP body bytes this process holds now, HTTP and WebSocket together (capped by --max-opamp-inflight-mib)',
    registers: [registry],
    collect() {
      this.set(deps.opampInflightBytes?.() ?? 0);
    },
  });
  new Gauge({
    name: 'corral_artifact_downloads_in_flight',
    help: 'Artifact downloads this server process is streaming now (capped by --max-downloads)',
    registers: [registry],
    collect() {
      this.set(deps.downloadsInFlight());
    },
  });
  new Gauge({
    name: 'corral_fleet_service_rss_bytes',
    help: 'Sum of the latest RSS samples of all services on agents connected to this server',
    registers: [registry],
    collect() {
      let sum = 0;
      for (const s of deps.samples.latest()) for (const svc of s.services) sum += svc.rssBytes ?? 0;
      this.set(sum);
    },
  });
  new Gauge({
    name: 'corral_fleet_host_cpu_percent',
    help: 'Average host CPU use in the latest samples of agents connected to this server',
    registers: [registry],
    collect() {
      const cpu = deps.samples.latest().map((s) => s.host.cpuPercent).filter((c): c is number => c !== null);
      this.set(cpu.length === 0 ? 0 : cpu.reduce((a, b) => a + b, 0) / cpu.length);
    },
  });
  return {
    registry,
    opampMessages: new Counter({
      name: 'corral_opamp_messages_total',
      help: 'OpAMP messages, by direction (in: AgentToServer, out: ServerToAgent) and transport',
      labelNames: ['direction', 'transport'],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'corral_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    artifactDownloadsRefused: new Counter({
      name: 'corral_artifact_downloads_refused_total',
      help: 'Artifact downloads answered 503 because --max-downloads were already in flight',
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'corral_auth_failures_total',
      help: 'Requests that presented no valid credential, by edge (rest, metrics, opamp)',
      labelNames: ['edge'],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'corral_rate_limited_total',
      help: 'Requests answered 429, by reason (address, token, failed-auth, enrollment)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    auditAppendFailures: new Counter({
      name: 'corral_audit_append_failures_total',
      help: 'Writes answered but whose audit record could not be stored (see the server log)',
      registers: [registry],
    }),
    agentEventsDropped: new Counter({
      name: 'corral_agent_events_dropped_total',
      help: 'Events caused by agents and dropped because the agent was over its per-minute event budget',
      registers: [registry],
    }),
    agentSamplesDropped: new Counter({
      name: 'corral_agent_samples_dropped_total',
      help: 'Resource samples not kept, by reason (malformed, too-large, rate-limited)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
