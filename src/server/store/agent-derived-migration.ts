/**
 * Migration 0016: what the fleet list filters, searches and counts by, kept
 * beside the agents table so a page, a search and the facets of 100,000
 * agents read an index instead of parsing every agent's JSON:
 *
 * - `agent_labels(agent_id, key, value)`: an agent's trusted labels (the
 *   enrollment token's bound labels, overridden by operator labels), one row
 *   per key, indexed by (key, value): selectors and label facets use it.
 * - `agent_facts(agent_id, text, os, arch, version)`: the search text (name,
 *   host name and trusted label values joined by U+001F, which a search may
 *   not contain) and the attributes the facets count (os.type, host.arch,
 *   service.version; non-identifying over identifying, '' when absent), so
 *   free text and counts read this narrow table instead of parsing the
 *   agents' JSON (on PostgreSQL a pg_trgm GIN index serves the search when
 *   the extension is there or can be created).
 * - indexes for counting the whole fleet: agents (status, approval), and
 *   agent_facts' os, arch and version.
 *
 * Both tables are written by triggers on `agents` only, so every writer (a
 * report, enrollment, a label edit, a delete, a bulk insert, another
 * replica) keeps them in step in the same transaction, with no code to
 * forget. An update that changes none of the columns they derive from
 * (heartbeats, status, health) does not touch them.
 */
import { sql, type Kysely } from 'kysely';

type Dialect = 'sqlite' | 'postgres';

/** The columns of agent_facts after agent_id, and the attribute each counts. */
const FACT_ATTRIBUTES = { os: 'os.type', arch: 'host.arch', version: 'service.version' } as const;

/** SQLite: agent_facts' values for agent row `r` (`new`, or `agents` when backfilling). */
function sqliteFacts(r: string): string {
  const attr = (k: string) => `coalesce(json_extract(${r}.non_identifying_attributes, '$."${k}"'), json_extract(${r}.identifying_attributes, '$."${k}"'), '')`;
  const text = `${r}.name || char(31) || ${attr('host.name')} || char(31) || coalesce((select group_concat(j.value, char(31)) from json_each(json_patch(${r}.bound_labels, ${r}.labels)) as j), '')`;
  return [`${r}.id`, text, ...Object.values(FACT_ATTRIBUTES).map(attr)].join(', ');
}

/** PostgreSQL: the same. */
function postgresFacts(r: string): string {
  const attr = (k: string) => `coalesce(${r}.non_identifying_attributes::jsonb ->> '${k}', ${r}.identifying_attributes::jsonb ->> '${k}', '')`;
  const text = `${r}.name || chr(31) || ${attr('host.name')} || chr(31) || coalesce((select string_agg(j.value, chr(31)) from jsonb_each_text(${r}.bound_labels::jsonb || ${r}.labels::jsonb) as j), '')`;
  return [`${r}.id`, text, ...Object.values(FACT_ATTRIBUTES).map(attr)].join(', ');
}

const FACT_COLUMNS = `agent_id, text, ${Object.keys(FACT_ATTRIBUTES).join(', ')}`;
const FACTS_TABLE = `create table agent_facts (agent_id text primary key, text text not null, ${Object.keys(FACT_ATTRIBUTES)
  .map((c) => `${c} text not null`)
  .join(', ')})`;

async function sqliteUp(db: Kysely<unknown>): Promise<void> {
  const run = (text: string) => sql.raw(text).execute(db);
  const labels = `insert into agent_labels (agent_id, key, value) select new.id, j.key, j.value from json_each(json_patch(new.bound_labels, new.labels)) as j;`;
  const facts = `insert into agent_facts (${FACT_COLUMNS}) values (${sqliteFacts('new')});`;
  await run(`create table agent_labels (agent_id text not null, key text not null, value text not null, primary key (agent_id, key)) without rowid`);
  await run(`create index agent_labels_key_value on agent_labels (key, value, agent_id)`);
  await run(`${FACTS_TABLE} without rowid`);
  await run(`create trigger agents_derived_insert after insert on agents begin ${labels} ${facts} end`);
  await run(`create trigger agents_derived_delete after delete on agents begin delete from agent_labels where agent_id = old.id; delete from agent_facts where agent_id = old.id; end`);
  await run(
    `create trigger agents_labels_update after update of labels, bound_labels on agents
     when old.labels is not new.labels or old.bound_labels is not new.bound_labels
     begin delete from agent_labels where agent_id = old.id; ${labels} end`,
  );
  await run(
    `create trigger agents_facts_update after update of name, labels, bound_labels, identifying_attributes, non_identifying_attributes on agents
     when old.name is not new.name or old.labels is not new.labels or old.bound_labels is not new.bound_labels
       or old.identifying_attributes is not new.identifying_attributes or old.non_identifying_attributes is not new.non_identifying_attributes
     begin delete from agent_facts where agent_id = old.id; ${facts} end`,
  );
  // The agents there are now.
  await run(`insert into agent_labels (agent_id, key, value) select agents.id, j.key, j.value from agents, json_each(json_patch(agents.bound_labels, agents.labels)) as j`);
  await run(`insert into agent_facts (${FACT_COLUMNS}) select ${sqliteFacts('agents')} from agents`);
  for (const c of Object.keys(FACT_ATTRIBUTES)) await run(`create index agent_facts_${c} on agent_facts (${c})`);
  await run(`create index agents_status_approval on agents (status, approval)`);
}

async function postgresUp(db: Kysely<unknown>): Promise<void> {
  const run = (text: string) => sql.raw(text).execute(db);
  const labelsOf = (r: string) => `jsonb_each_text(${r}.bound_labels::jsonb || ${r}.labels::jsonb)`;
  await run(`create table agent_labels (agent_id text not null, key text not null, value text not null, primary key (agent_id, key))`);
  await run(`create index agent_labels_key_value on agent_labels (key, value, agent_id)`);
  await run(FACTS_TABLE);
  await run(
    `create function corral_agent_labels_sync() returns trigger language plpgsql as $$
     begin
       if tg_op <> 'INSERT' then delete from agent_labels where agent_id = old.id; end if;
       if tg_op = 'DELETE' then return old; end if;
       insert into agent_labels (agent_id, key, value) select new.id, j.key, j.value from ${labelsOf('new')} as j;
       return new;
     end $$`,
  );
  await run(
    `create function corral_agent_facts_sync() returns trigger language plpgsql as $$
     begin
       if tg_op <> 'INSERT' then delete from agent_facts where agent_id = old.id; end if;
       if tg_op = 'DELETE' then return old; end if;
       insert into agent_facts (${FACT_COLUMNS}) values (${postgresFacts('new')});
       return new;
     end $$`,
  );
  await run(`create trigger agents_labels_insert_delete after insert or delete on agents for each row execute function corral_agent_labels_sync()`);
  await run(`create trigger agents_facts_insert_delete after insert or delete on agents for each row execute function corral_agent_facts_sync()`);
  await run(
    `create trigger agents_labels_update after update of labels, bound_labels on agents for each row
     when (old.labels is distinct from new.labels or old.bound_labels is distinct from new.bound_labels)
     execute function corral_agent_labels_sync()`,
  );
  await run(
    `create trigger agents_facts_update after update of name, labels, bound_labels, identifying_attributes, non_identifying_attributes on agents for each row
     when (old.name is distinct from new.name or old.labels is distinct from new.labels or old.bound_labels is distinct from new.bound_labels
       or old.identifying_attributes is distinct from new.identifying_attributes or old.non_identifying_attributes is distinct from new.non_identifying_attributes)
     execute function corral_agent_facts_sync()`,
  );
  await run(`insert into agent_labels (agent_id, key, value) select a.id, j.key, j.value from agents a, ${labelsOf('a')} as j`);
  await run(`insert into agent_facts (${FACT_COLUMNS}) select ${postgresFacts('a')} from agents a`);
  for (const c of Object.keys(FACT_ATTRIBUTES)) await run(`create index agent_facts_${c} on agent_facts (${c})`);
  await run(`create index agents_status_approval on agents (status, approval)`);
  // Statistics for the new tables now, not at autovacuum's next round: the planner needs them to pick index lookups.
  await run(`analyze agent_labels`);
  await run(`analyze agent_facts`);
  // Substring search by index where pg_trgm is there or may be created; otherwise search scans agent_facts.
  // In public, not the current schema: dropping a schema must not drop the extension under other schemas' indexes.
  await run(`savepoint corral_trgm`);
  try {
    await run(`create extension if not exists pg_trgm with schema public`);
    const found = await sql<{ schema: string }>`select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_trgm'`.execute(db);
    const ops = `"${found.rows[0]!.schema.replace(/"/g, '""')}".gin_trgm_ops`;
    // Both columns a search looks at (a part of the text, the start of the id), so `text ILIKE .. OR agent_id ILIKE ..` is a BitmapOr.
    await run(`create index agent_facts_trgm on agent_facts using gin (text ${ops}, agent_id ${ops})`);
    await run(`release savepoint corral_trgm`);
  } catch {
    // No pg_trgm and no right to create it: search scans agent_facts instead (docs/console-api.md).
    await run(`rollback to savepoint corral_trgm`);
  }
}

export function agentDerivedUp(dialect: Dialect, db: Kysely<unknown>): Promise<void> {
  return dialect === 'sqlite' ? sqliteUp(db) : postgresUp(db);
}
