/**
 * The fleet list and its facet counts. On a server that pages
 * (`GET /api/v1/agents?limit=` answers with `total` and `nextCursor`) the
 * list loads page by page as the table scrolls and the server filters,
 * sorts and counts. On an older server (the full list, no `total`) the
 * console filters, sorts and counts what it got.
 */
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { api, qs } from './api/client';
import type { Agent, AgentList, Facets } from './api/types';

export const PAGE_SIZE = 200;
export type SortKey = 'name' | '-name' | 'lastSeen' | '-lastSeen' | 'status' | '-status';

export interface FleetFilter {
  selector: string;
  q: string;
  status: string;
  sort: SortKey;
}

function matchesText(a: Agent, q: string): boolean {
  const needle = q.toLowerCase();
  const hay = [a.name, a.id, a.os, a.arch, a.agentVersion, ...Object.entries(a.labels).map(([k, v]) => `${k}=${v}`)];
  return hay.some((h) => h.toLowerCase().includes(needle));
}

function sortAgents(list: Agent[], sort: SortKey): Agent[] {
  const desc = sort.startsWith('-');
  const key = desc ? sort.slice(1) : sort;
  const val = (a: Agent) => (key === 'lastSeen' ? a.lastSeenAt : key === 'status' ? a.status : a.name.toLowerCase());
  return [...list].sort((x, y) => (val(x) < val(y) ? -1 : val(x) > val(y) ? 1 : 0) * (desc ? -1 : 1));
}

export function useFleet(f: FleetFilter) {
  return useInfiniteQuery({
    queryKey: ['agents', 'list', f],
    initialPageParam: '' as string,
    queryFn: async ({ pageParam, signal }) => {
      const page = await api<AgentList>(`/api/v1/agents${qs({ limit: PAGE_SIZE, cursor: pageParam, selector: f.selector, q: f.q, status: f.status, sort: f.sort })}`, { signal });
      if (page.total !== undefined) return { ...page, paged: true, all: undefined as Agent[] | undefined };
      // An older server: everything at once, filtered here.
      let agents = page.agents;
      if (f.status) agents = agents.filter((a) => a.status === f.status);
      if (f.q) agents = agents.filter((a) => matchesText(a, f.q));
      return { ...page, agents: sortAgents(agents, f.sort), total: agents.length, nextCursor: null, paged: false, all: page.agents };
    },
    getNextPageParam: (last) => (last.paged && last.nextCursor ? last.nextCursor : undefined),
  });
}

function countFacets(agents: Agent[]): Facets {
  const f: Facets = { total: agents.length, byStatus: {}, labels: {}, os: {}, arch: {}, version: {} };
  const inc = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
  for (const a of agents) {
    inc(f.byStatus, a.status);
    inc(f.os, a.os || 'unknown');
    inc(f.arch, a.arch || 'unknown');
    inc(f.version, a.agentVersion || 'unknown');
    for (const [k, v] of Object.entries(a.labels)) inc((f.labels[k] ??= {}), v);
  }
  return f;
}

/**
 * Facet counts over the selector and search (not the status filter, so
 * every status count stays visible). `all` is the full list from an older
 * server (counted here); with a paging server it is undefined and the
 * server counts.
 */
export function useFacets(f: FleetFilter, ready: boolean, all: Agent[] | undefined) {
  return useQuery({
    queryKey: ['agents', 'facets', f.selector, f.q, all ? 'local' : 'server', all?.length ?? 0],
    queryFn: async ({ signal }) => {
      if (all) return countFacets(all.filter((a) => !f.q || matchesText(a, f.q)));
      return api<Facets>(`/api/v1/agents/facets${qs({ selector: f.selector, q: f.q })}`, { signal });
    },
    enabled: ready,
  });
}
