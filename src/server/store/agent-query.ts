/**
 * Server-side paging, filtering, sorting and facet counts over the agents
 * table, in SQL on both dialects, so a page of the fleet never loads the
 * whole fleet into memory.
 *
 * Every selector form translates to SQL (labels and attributes are JSON text
 * columns: json_extract on SQLite, ->> on PostgreSQL), with the same meaning
 * as `matchesSelector` over `selectableAttributes` (fleet/agent-labels.ts):
 * a plain key is a trusted label (operator label, else the enrollment
 * token's bound label); `claim.<key>` is what the agent reports (its own
 * `corral.label.<key>`, else a non-identifying, else an identifying
 * attribute). The contract test checks the two agree.
 *
 * Paging is keyset (sort key, id): a cursor names the last row seen, so
 * inserts and deletes never shift or repeat rows. Strings compare bytewise
 * on both (COLLATE "C" on PostgreSQL), as in JavaScript for ASCII.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from './schema.js';
import type { AgentFacetBounds, AgentFacets, AgentFilter, AgentPageQuery, AgentSortKey, LabelRequirement } from './store.js';

type Dialect = 'sqlite' | 'postgres';
type Frag = RawBuilder<unknown>;

const CLAIM_PREFIX = 'claim.';
const OWN_LABEL_PREFIX = 'corral.label.';

/** `column[key]` as text, or NULL when absent. */
function jsonField(d: Dialect, column: string, key: string): Frag {
  const col = sql.ref(`agents.${column}`);
  return d === 'sqlite' ? sql`json_extract(${col}, ${`$."${key}"`})` : sql`(${col}::jsonb ->> ${key})`;
}

/** The value a selector key sees for an agent (see the file comment), or NULL. */
function selectable(d: Dialect, key: string): Frag {
  if (key.startsWith(CLAIM_PREFIX)) {
    const k = key.slice(CLAIM_PREFIX.length);
    return sql`coalesce(${jsonField(d, 'non_identifying_attributes', OWN_LABEL_PREFIX + k)}, ${jsonField(d, 'non_identifying_attributes', k)}, ${jsonField(d, 'identifying_attributes', k)})`;
  }
  return sql`coalesce(${jsonField(d, 'labels', key)}, ${jsonField(d, 'bound_labels', key)})`;
}

function requirementSql(d: Dialect, r: LabelRequirement): Frag {
  const v = selectable(d, r.key);
  const list = (values: readonly string[]) => sql.join(values.map((x) => sql`${x}`));
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

function attribute(d: Dialect, key: string): Frag {
  // Non-identifying wins over identifying, as in agentSummary.
  return sql`coalesce(${jsonField(d, 'non_identifying_attributes', key)}, ${jsonField(d, 'identifying_attributes', key)}, '')`;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function likeCi(d: Dialect, expr: Frag, pattern: string): Frag {
  return d === 'sqlite' ? sql`${expr} like ${pattern} escape '\\'` : sql`${expr} ilike ${pattern} escape '\\'`;
}

function anyLabelValueLike(d: Dialect, column: 'labels' | 'bound_labels', pattern: string): Frag {
  const col = sql.ref(`agents.${column}`);
  return d === 'sqlite'
    ? sql`exists (select 1 from json_each(${col}) as lv where ${likeCi(d, sql`lv.value`, pattern)})`
    : sql`exists (select 1 from jsonb_each_text(${col}::jsonb) as lv where ${likeCi(d, sql`lv.value`, pattern)})`;
}

/** Free text: a part of the name, the start of the id, a part of a trusted label value or of the host name. */
function textSql(d: Dialect, q: string): Frag {
  const part = `%${escapeLike(q)}%`;
  return sql`(${sql.join(
    [
      likeCi(d, sql`agents.name`, part),
      likeCi(d, sql`agents.id`, `${escapeLike(q.toLowerCase())}%`),
      anyLabelValueLike(d, 'labels', part),
      anyLabelValueLike(d, 'bound_labels', part),
      likeCi(d, attribute(d, 'host.name'), part),
    ],
    sql` or `,
  )})`;
}

export function filterSql(d: Dialect, f: AgentFilter): Frag {
  const parts: Frag[] = f.requirements.map((r) => requirementSql(d, r));
  if (f.statuses && f.statuses.length > 0) parts.push(sql`${statusExpr()} in (${sql.join(f.statuses.map((s) => sql`${s}`))})`);
  if (f.q && f.q.trim() !== '') parts.push(textSql(d, f.q.trim()));
  return parts.length === 0 ? sql`1 = 1` : sql.join(parts, sql` and `);
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
    case 'version':
      return collate(d, attribute(d, 'service.version'));
    case 'os':
      return collate(d, attribute(d, 'os.type'));
  }
}

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
  const id = collate(d, sql`agents.id`);
  const dir = q.descending ? sql`desc` : sql`asc`;
  let page = where;
  if (q.after) {
    const k = q.sort === 'lastSeen' ? Number(q.after.key) : String(q.after.key);
    page = q.descending ? sql`${where} and (${key}, ${id}) < (${k}, ${q.after.id})` : sql`${where} and (${key}, ${id}) > (${k}, ${q.after.id})`;
  }
  const [rows, count] = await Promise.all([
    sql<{ id: string; k: string | number }>`select agents.id as id, ${key} as k from agents where ${page} order by ${key} ${dir}, ${id} ${dir} limit ${q.limit + 1}`.execute(db),
    sql<{ n: number | string }>`select count(*) as n from agents where ${where}`.execute(db),
  ]);
  const kept = rows.rows.slice(0, q.limit);
  return { ids: kept.map((r) => r.id), keys: kept.map((r) => (q.sort === 'lastSeen' ? Number(r.k) : r.k)), total: Number(count.rows[0]?.n ?? 0), hasMore: rows.rows.length > q.limit };
}

/** Counts per status, OS, arch, agent version, and per trusted label key and value (bounded). */
export async function queryAgentFacets(db: Kysely<Database>, d: Dialect, f: AgentFilter, bounds: AgentFacetBounds): Promise<AgentFacets> {
  const where = filterSql(d, f);
  const grouped = async (expr: Frag) => {
    const rows = await sql<{ v: string; n: number | string }>`select ${expr} as v, count(*) as n from agents where ${where} group by 1 order by 2 desc, 1 limit ${bounds.maxValues}`.execute(db);
    return Object.fromEntries(rows.rows.map((r) => [r.v, Number(r.n)]));
  };
  const labelsOf =
    d === 'sqlite'
      ? sql`json_each(json_patch(agents.bound_labels, agents.labels)) as j`
      : sql`jsonb_each_text(agents.bound_labels::jsonb || agents.labels::jsonb) as j`;
  const pairs = sql<{ k: string; v: string; n: number | string; kn: number | string }>`
    with pairs as (
      select j.key as k, j.value as v, count(*) as n from agents, ${labelsOf}
      where ${where} and j.key not like 'claim.%'
      group by j.key, j.value
    ),
    keys as (select k, sum(n) as kn from pairs group by k order by sum(n) desc, k limit ${bounds.maxKeys}),
    ranked as (select p.k, p.v, p.n, keys.kn, row_number() over (partition by p.k order by p.n desc, p.v) as rn from pairs p join keys on keys.k = p.k)
    select k, v, n, kn from ranked where rn <= ${bounds.maxValues} order by kn desc, k, n desc, v`;
  const [byStatus, os, arch, version, labelRows] = await Promise.all([
    grouped(statusExpr()),
    grouped(attribute(d, 'os.type')),
    grouped(attribute(d, 'host.arch')),
    grouped(attribute(d, 'service.version')),
    pairs.execute(db),
  ]);
  const labels: Record<string, Record<string, number>> = {};
  for (const r of labelRows.rows) (labels[r.k] ??= {})[r.v] = Number(r.n);
  const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
  return { total, byStatus, labels, os, arch, version };
}
