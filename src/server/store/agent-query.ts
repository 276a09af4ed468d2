/**
 * Server-side paging, filtering, sorting and facet counts over the agents
 * table, in SQL on both dialects, so a page of the fleet never loads the
 * whole fleet into memory.
 *
 * Every selector form translates to SQL, with the same meaning as
 * `matchesSelector` over `selectableAttributes` (fleet/agent-labels.ts): a
 * plain key is a trusted label (operator label, else the enrollment token's
 * bound label), looked up in `agent_labels` by index; `claim.<key>` is what
 * the agent reports (its own `corral.label.<key>`, else a non-identifying,
 * else an identifying attribute), read from the JSON text columns
 * (json_extract on SQLite, ->> on PostgreSQL). Free text and the OS, arch
 * and version counts read the narrow `agent_facts` table. Both tables are
 * kept by triggers (agent-derived-migration.ts). The contract test checks
 * the SQL and JavaScript agree.
 *
 * A filter's `scopes` (a scoped reader's bindings) cut the page, its total
 * and the facets alike: an agent counts only when one scope matches it.
 *
 * Paging is keyset (sort key, id): a cursor names the last row seen, so
 * inserts and deletes never shift or repeat rows. Strings compare bytewise
 * on both (COLLATE "C" on PostgreSQL), as in JavaScript for ASCII.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from './schema.js';
import type { AgentFacetBounds, AgentFacets, AgentFilter, AgentListStatus, AgentPageQuery, AgentSortKey, LabelRequirement } from './store.js';

type Dialect = 'sqlite' | 'postgres';
type Frag = RawBuilder<unknown>;

const CLAIM_PREFIX = 'claim.';
const OWN_LABEL_PREFIX = 'corral.label.';
/** Keys the server answers itself (auth/label-rules.ts): `corral.io/id` is the agent's id; no other exists yet. */
const SERVER_FACT_PREFIX = 'corral.io/';
const AGENT_ID_KEY = `${SERVER_FACT_PREFIX}id`;

/** `column[key]` as text, or NULL when absent. */
function jsonField(d: Dialect, column: string, key: string): Frag {
  const col = sql.ref(`agents.${column}`);
  return d === 'sqlite' ? sql`json_extract(${col}, ${`$."${key}"`})` : sql`(${col}::jsonb ->> ${key})`;
}

/** The value a claim key sees for an agent (see the file comment), or NULL. */
function claim(d: Dialect, key: string): Frag {
  const k = key.slice(CLAIM_PREFIX.length);
  return sql`coalesce(${jsonField(d, 'non_identifying_attributes', OWN_LABEL_PREFIX + k)}, ${jsonField(d, 'non_identifying_attributes', k)}, ${jsonField(d, 'identifying_attributes', k)})`;
}

const list = (values: readonly string[]) => sql.join(values.map((x) => sql`${x}`));

/** A trusted-label requirement: whether the agent is among those agent_labels lists (by the (key, value) index). */
function labelRequirementSql(r: LabelRequirement): Frag {
  const having = (cond: Frag) => sql`agents.id in (select agent_labels.agent_id from agent_labels where agent_labels.key = ${r.key}${cond})`;
  // NOT EXISTS (an anti-join on PostgreSQL, a primary-key probe on SQLite): NOT IN over a large list would not hash on PostgreSQL.
  const lacking = (cond: Frag) => sql`not exists (select 1 from agent_labels where agent_labels.agent_id = agents.id and agent_labels.key = ${r.key}${cond})`;
  switch (r.op) {
    case 'eq':
      return having(sql` and agent_labels.value = ${r.value}`);
    case 'neq':
      return lacking(sql` and agent_labels.value = ${r.value}`);
    case 'in':
      return having(sql` and agent_labels.value in (${list(r.values)})`);
    case 'notin':
      return lacking(sql` and agent_labels.value in (${list(r.values)})`);
    case 'exists':
      return having(sql``);
    case 'notexists':
      return lacking(sql``);
  }
}

/** A requirement on a value every agent has (`v` never NULL), or, for `v` null, on a key no agent has. */
function presentValueSql(v: Frag | null, r: LabelRequirement): Frag {
  const holds = r.op === 'neq' || r.op === 'notin' || r.op === 'notexists';
  if (v === null) return holds ? sql`1 = 1` : sql`1 = 0`;
  switch (r.op) {
    case 'eq':
      return sql`${v} = ${r.value}`;
    case 'neq':
      return sql`${v} <> ${r.value}`;
    case 'in':
      return sql`${v} in (${list(r.values)})`;
    case 'notin':
      return sql`${v} not in (${list(r.values)})`;
    case 'exists':
      return sql`1 = 1`;
    case 'notexists':
      return sql`1 = 0`;
  }
}

function requirementSql(d: Dialect, r: LabelRequirement): Frag {
  if (r.key.startsWith(SERVER_FACT_PREFIX)) return presentValueSql(r.key === AGENT_ID_KEY ? sql.ref('agents.id') : null, r);
  if (!r.key.startsWith(CLAIM_PREFIX)) return labelRequirementSql(r);
  const v = claim(d, r.key);
  switch (r.op) {
    case 'eq':
      return sql`${v} = ${r.value}`;
    case 'neq':
      return sql`(${v} is null or ${v} <> ${r.value})`;
    case 'in':
      return sql`${v} in (${list(r.values)})`;
    case 'notin':
      return sql`(${v} is null or ${v} not in (${list(r.values)}))`;
    case 'exists':
      return sql`${v} is not null`;
    case 'notexists':
      return sql`${v} is null`;
  }
}

/** online / offline / pending (approved not yet) / revoked: one per agent, so counts add up to the total. */
function statusExpr(): Frag {
  return sql`(case when agents.status = 'revoked' then 'revoked' when agents.approval = 'pending' then 'pending' else agents.status end)`;
}

/** `statusExpr() = status` on the plain columns, which the planners can estimate and the (status, approval) index serves. */
function statusIs(status: AgentListStatus): Frag {
  switch (status) {
    case 'revoked':
      return sql`agents.status = 'revoked'`;
    case 'pending':
      return sql`(agents.approval = 'pending' and agents.status <> 'revoked')`;
    case 'online':
    case 'offline':
      return sql`(agents.status = ${status} and agents.approval <> 'pending')`;
  }
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function likeCi(d: Dialect, expr: Frag, pattern: string): Frag {
  return d === 'sqlite' ? sql`${expr} like ${pattern} escape '\\'` : sql`${expr} ilike ${pattern} escape '\\'`;
}

/**
 * Free text: a part of the name, of a trusted label value or of the host
 * name (agent_facts.text), or the start of the id; ASCII case folded on
 * SQLite, any case on PostgreSQL (ilike, served by pg_trgm where indexed).
 */
function textSql(d: Dialect, q: string): Frag {
  const part = `%${escapeLike(q)}%`;
  const idStart = `${escapeLike(q.toLowerCase())}%`;
  return sql`agents.id in (select agent_facts.agent_id from agent_facts where ${likeCi(d, sql`agent_facts.text`, part)} or ${likeCi(d, sql`agent_facts.agent_id`, idStart)})`;
}

/** At least one scope matches (each scope: all its requirements); no scopes given: everything. */
function scopesSql(d: Dialect, scopes: readonly (readonly LabelRequirement[])[]): Frag {
  if (scopes.length === 0) return sql`1 = 0`;
  return sql`(${sql.join(
    scopes.map((reqs) => (reqs.length === 0 ? sql`1 = 1` : sql`(${sql.join(reqs.map((r) => requirementSql(d, r)), sql` and `)})`)),
    sql` or `,
  )})`;
}

/** How many conditions a filter has (0: every agent). */
const parts = (f: AgentFilter): number => f.requirements.length + (f.statuses?.length ? 1 : 0) + (f.q?.trim() ? 1 : 0) + (f.scopes ? 1 : 0);

export function filterSql(d: Dialect, f: AgentFilter): Frag {
  const conds: Frag[] = f.requirements.map((r) => requirementSql(d, r));
  if (f.statuses && f.statuses.length > 0) conds.push(sql`(${sql.join(f.statuses.map(statusIs), sql` or `)})`);
  if (f.q && f.q.trim() !== '') conds.push(textSql(d, f.q.trim()));
  if (f.scopes) conds.push(scopesSql(d, f.scopes));
  return conds.length === 0 ? sql`1 = 1` : sql.join(conds, sql` and `);
}

const collate = (d: Dialect, e: Frag): Frag => (d === 'postgres' ? sql`${e} collate "C"` : e);

/** The sort key's SQL expression; numbers for lastSeen, strings otherwise. */
function sortExpr(d: Dialect, sort: AgentSortKey): Frag {
  switch (sort) {
    case 'name':
      return collate(d, sql`agents.name`);
    case 'status':
      return collate(d, statusExpr());
    case 'lastSeen':
      return sql`agents.last_seen_at`;
    // agent_facts holds os.type and service.version (non-identifying over identifying, '' when absent),
    // indexed with the id (migration 0021): the page reads the index in order instead of every agent's JSON.
    case 'version':
      return collate(d, sql`agent_facts.version`);
    case 'os':
      return collate(d, sql`agent_facts.os`);
  }
}

/** Sorts whose key is in agent_facts: the page joins it and breaks ties on its agent_id, as its index does. */
const byFacts = (sort: AgentSortKey): boolean => sort === 'version' || sort === 'os';

export interface AgentPageRows {
  ids: string[];
  /** The sort key of each row, in order (for the next cursor). */
  keys: (string | number)[];
  total: number;
  /** Whether agents follow this page. */
  hasMore: boolean;
}

/** One page of agent ids in order, and how many agents match the filter. */
export async function queryAgentPage(db: Kysely<Database>, d: Dialect, q: AgentPageQuery): Promise<AgentPageRows> {
  const where = filterSql(d, q);
  const key = sortExpr(d, q.sort);
  const facts = byFacts(q.sort);
  const id = collate(d, facts ? sql`agent_facts.agent_id` : sql`agents.id`);
  const from = facts ? sql`agents join agent_facts on agent_facts.agent_id = agents.id` : sql`agents`;
  const dir = q.descending ? sql`desc` : sql`asc`;
  let page = where;
  if (q.after) {
    const k = q.sort === 'lastSeen' ? Number(q.after.key) : String(q.after.key);
    page = q.descending ? sql`${where} and (${key}, ${id}) < (${k}, ${q.after.id})` : sql`${where} and (${key}, ${id}) > (${k}, ${q.after.id})`;
  }
  const [rows, count] = await Promise.all([
    sql<{ id: string; k: string | number }>`select agents.id as id, ${key} as k from ${from} where ${page} order by ${key} ${dir}, ${id} ${dir} limit ${q.limit + 1}`.execute(db),
    sql<{ n: number | string }>`select count(*) as n from agents where ${where}`.execute(db),
  ]);
  const kept = rows.rows.slice(0, q.limit);
  return { ids: kept.map((r) => r.id), keys: kept.map((r) => (q.sort === 'lastSeen' ? Number(r.k) : r.k)), total: Number(count.rows[0]?.n ?? 0), hasMore: rows.rows.length > q.limit };
}

type FacetName = 'status' | 'os' | 'arch' | 'version';

/**
 * Counts per status, OS, arch, agent version, and per trusted label key and
 * value (bounded). The whole fleet: one query per count, each reading an
 * index ((status, approval), agent_facts' columns, agent_labels' (key,
 * value)). A filter: one statement that finds the agents it matches once
 * (`m`, with their status and agent_facts row), then counts them and their
 * labels (by agent_labels' primary key).
 */
export async function queryAgentFacets(db: Kysely<Database>, d: Dialect, f: AgentFilter, bounds: AgentFacetBounds): Promise<AgentFacets> {
  const whole = parts(f) === 0;
  const counted = (name: FacetName): Frag => {
    if (!whole) return sql`select ${sql.ref(`m.${name === 'status' ? 'st' : name}`)} as v, count(*) as n from m group by 1`;
    if (name === 'status') return sql`select ${statusExpr()} as v, count(*) as n from agents group by 1`;
    return sql`select ${sql.ref(`agent_facts.${name}`)} as v, count(*) as n from agent_facts group by 1`;
  };
  // The most frequent values (a window in the filtered union, where ORDER BY ... LIMIT cannot stand in a branch).
  const top = (name: FacetName) =>
    whole
      ? sql`select ${name} as f, '' as k, c.v, c.n, 0 as kn, 0 as rn from (${counted(name)}) c order by c.n desc, c.v limit ${bounds.maxValues}`
      : sql`select * from (select ${name} as f, '' as k, c.v, c.n, 0 as kn, row_number() over (order by c.n desc, c.v) as rn from (${counted(name)}) c) ${sql.ref(`top_${name}`)} where rn <= ${bounds.maxValues}`;
  const labelRows = whole ? sql`agent_labels` : sql`agent_labels join m on m.id = agent_labels.agent_id`;
  const labelCtes = [
    sql`pairs as (select agent_labels.key as k, agent_labels.value as v, count(*) as n from ${labelRows} where agent_labels.key not like 'claim.%' group by agent_labels.key, agent_labels.value)`,
    sql`keys as (select k, sum(n) as kn from pairs group by k order by sum(n) desc, k limit ${bounds.maxKeys})`,
    sql`ranked as (select p.k, p.v, p.n, keys.kn, row_number() over (partition by p.k order by p.n desc, p.v) as rn from pairs p join keys on keys.k = p.k)`,
  ];
  const topLabels = sql`select 'label' as f, k, v, n, kn, rn from ranked where rn <= ${bounds.maxValues}`;
  const names: FacetName[] = ['status', 'os', 'arch', 'version'];
  type Row = { f: FacetName | 'label'; k: string; v: string; n: number | string; kn: number | string; rn: number | string };
  let rows: Row[];
  if (whole) {
    const queries = [sql<Row>`with ${sql.join(labelCtes, sql`, `)} ${topLabels}`, ...names.map((name) => sql<Row>`${top(name)}`)];
    if (d === 'postgres') {
      rows = (await Promise.all(queries.map((q) => q.execute(db)))).flatMap((r) => r.rows);
    } else {
      // SQLite runs in this thread: one statement at a time, letting other requests in between (a
      // page the console asks for meanwhile is not held up behind every count).
      rows = [];
      for (const q of queries) {
        await new Promise((resolve) => setImmediate(resolve));
        rows.push(...(await q.execute(db)).rows);
      }
    }
  } else {
    const m = sql`m as materialized (
      select agents.id as id, ${statusExpr()} as st, agent_facts.os as os, agent_facts.arch as arch, agent_facts.version as version
      from agents join agent_facts on agent_facts.agent_id = agents.id where ${filterSql(d, f)})`;
    rows = (await sql<Row>`with ${sql.join([m, ...labelCtes], sql`, `)} ${topLabels} ${sql.join(names.map((name) => sql`union all ${top(name)}`), sql` `)}`.execute(db)).rows;
  }
  const out: AgentFacets = { total: 0, byStatus: {}, labels: {}, os: {}, arch: {}, version: {} };
  // Keys on most agents first (then by name), each key's values most frequent first, as ranked.
  rows.sort((x, y) => Number(y.kn) - Number(x.kn) || (x.k < y.k ? -1 : x.k > y.k ? 1 : 0) || Number(x.rn) - Number(y.rn));
  for (const r of rows) {
    const n = Number(r.n);
    if (r.f === 'label') (out.labels[r.k] ??= {})[r.v] = n;
    else if (r.f === 'status') out.byStatus[r.v] = n;
    else out[r.f][r.v] = n;
  }
  out.total = Object.values(out.byStatus).reduce((a, b) => a + b, 0);
  return out;
}
