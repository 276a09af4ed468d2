/**
 * The fleet list the console pages through: a selector, free text and
 * statuses filter it, one sort key orders it, and an opaque cursor resumes
 * it after the last agent seen (keyset paging: stable while agents come and
 * go). Filtering, sorting, counting and facets run in the store
 * (store/agent-query.ts); only one page of agents is read.
 */
import type { SecretBox } from '../secrets/secret-box.js';
import type { AgentFacets, AgentListStatus, AgentSortKey, Store } from '../store/index.js';
import { AGENT_SORT_KEYS } from '../store/index.js';
import { ValidationError } from '../errors.js';
import { loadDesiredState } from './desired-state.js';
import { agentSummary } from './agent-view.js';
import type { Selector } from './selector.js';

/** Most agents on one page. */
export const MAX_AGENT_PAGE = 1000;
/** Facets: label keys returned (those on most agents first), and values per key. */
export const MAX_FACET_KEYS = 50;
export const MAX_FACET_VALUES = 20;
/** A cursor longer than this is not one of ours. */
export const MAX_CURSOR_CHARS = 1024;

export interface AgentListInput {
  selector: Selector;
  q?: string;
  statuses?: AgentListStatus[];
  /** `name`, `-name`, `lastSeen`, ...; default `name`. */
  sort?: string;
  limit: number;
  cursor?: string;
  /** A scoped reader's scopes: only agents one of them matches are listed and counted (absent: the whole fleet). */
  scopes?: readonly Selector[];
}

const scopeRequirements = (scopes: readonly Selector[] | undefined) => scopes?.map((s) => s.requirements);

interface Cursor {
  /** The sort as given (`-lastSeen`): a cursor only continues the order it came from. */
  s: string;
  k: string | number;
  i: string;
}

export function parseSort(sort = 'name'): { key: AgentSortKey; descending: boolean } {
  const descending = sort.startsWith('-');
  const key = (descending ? sort.slice(1) : sort) as AgentSortKey;
  if (!AGENT_SORT_KEYS.includes(key)) throw new ValidationError(`sort must be one of ${AGENT_SORT_KEYS.join(', ')} (prefix - for descending), got "${sort}"`, 'sort');
  return { key, descending };
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeCursor(text: string, sort: string): Cursor {
  const bad = (why: string) => new ValidationError(`cursor: ${why}; pass nextCursor from the previous answer unchanged, with the same sort`, 'cursor');
  if (text.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) throw bad('not a cursor this server made');
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a cursor this server made');
  }
  const o = c as Partial<Cursor> | null;
  if (!o || typeof o !== 'object' || typeof o.s !== 'string' || typeof o.i !== 'string' || (typeof o.k !== 'string' && typeof o.k !== 'number')) throw bad('not a cursor this server made');
  if (o.s !== sort) throw bad(`it continues the sort "${o.s}", not "${sort}"`);
  return o as Cursor;
}

/** One page of agent summaries, the total matching, and the cursor of the next page (null on the last). */
export async function listAgentPage(store: Store, secrets: SecretBox | null, input: AgentListInput) {
  const sort = input.sort ?? 'name';
  const { key, descending } = parseSort(sort);
  if (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > MAX_AGENT_PAGE) throw new ValidationError(`limit must be 1 to ${MAX_AGENT_PAGE}, got ${input.limit}`, 'limit');
  const after = input.cursor ? decodeCursor(input.cursor, sort) : undefined;
  const page = await store.queryAgents({
    requirements: input.selector.requirements,
    q: input.q,
    statuses: input.statuses,
    sort: key,
    descending,
    limit: input.limit,
    after: after ? { key: after.k, id: after.i } : undefined,
    scopes: scopeRequirements(input.scopes),
  });
  const desired = await loadDesiredState(store, secrets, page.agents.map((a) => a.id));
  const last = page.agents.length - 1;
  return {
    agents: page.agents.map((a) => agentSummary(a, desired)),
    total: page.total,
    nextCursor: page.hasMore && last >= 0 ? encodeCursor({ s: sort, k: page.keys[last]!, i: page.agents[last]!.id }) : null,
  };
}

export function agentFacets(store: Store, filter: { selector: Selector; q?: string; statuses?: AgentListStatus[]; scopes?: readonly Selector[] }): Promise<AgentFacets> {
  return store.agentFacets(
    { requirements: filter.selector.requirements, q: filter.q, statuses: filter.statuses, scopes: scopeRequirements(filter.scopes) },
    { maxKeys: MAX_FACET_KEYS, maxValues: MAX_FACET_VALUES },
  );
}

/** Requirements checked one by one for `unmatchedRequirements`. */
const MAX_CHECKED_REQUIREMENTS = 10;

/**
 * For a selector that matches nothing: each positive requirement (key=value,
 * key in (...), key) that alone matches no agent, in words; one count query
 * each, at most MAX_CHECKED_REQUIREMENTS. Within `scopes` when given (a
 * scoped reader learns nothing of agents outside them).
 */
export async function unmatchedRequirements(store: Store, selector: Selector, scopes?: readonly Selector[]): Promise<string[]> {
  const out: string[] = [];
  const positive = selector.requirements.filter((r) => r.op === 'eq' || r.op === 'in' || r.op === 'exists').slice(0, MAX_CHECKED_REQUIREMENTS);
  for (const r of positive) {
    const count = async (req: Selector['requirements'][number]) => (await store.queryAgents({ requirements: [req], sort: 'name', descending: false, limit: 1, scopes: scopeRequirements(scopes) })).total;
    if ((await count({ op: 'exists', key: r.key })) === 0) {
      out.push(`no agent has the label "${r.key}"`);
      continue;
    }
    if (r.op === 'eq' && (await count(r)) === 0) out.push(`no agent has ${r.key}=${r.value}`);
    if (r.op === 'in' && (await count(r)) === 0) out.push(`no agent has ${r.key} in (${r.values.join(',')})`);
  }
  return out;
}
