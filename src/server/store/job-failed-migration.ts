/**
 * Migration 0017, jobs: the job list's `failed=true` and `state=running`
 * read an index instead of testing every job (job-query.ts).
 *
 * - `jobs.failed_hosts`: how many of the job's hosts have status failed
 *   (timed out included), kept by triggers on `job_hosts` only, so every
 *   writer (createJob, a host's result, a row deleted by hand, a replica
 *   still on older code during an upgrade) keeps it in step in the same
 *   transaction. The triggers add and subtract rather than recount: on
 *   PostgreSQL two replicas storing results of the same job serialize on
 *   the job's row, and each adds its own change to what the other
 *   committed.
 * - partial indexes, newest-first keyset order, holding only the jobs a
 *   filter wants: `jobs_failed` (failed_hosts > 0) and `jobs_running`
 *   (status = 'running'). The query must spell the same predicate for the
 *   planner to pick them.
 *
 * Existing jobs get their count in the same migration, after the triggers
 * exist, so no host write falls in between.
 */
import { sql, type Kysely } from 'kysely';

type Dialect = 'sqlite' | 'postgres';

const FAILED_WHERE = `failed_hosts > 0`;
const RUNNING_WHERE = `status = 'running'`;

async function sqliteTriggers(db: Kysely<unknown>): Promise<void> {
  const run = (text: string) => sql.raw(text).execute(db);
  const add = (r: 'new' | 'old', sign: '+' | '-') => `update jobs set failed_hosts = failed_hosts ${sign} 1 where id = ${r}.job_id;`;
  await run(`create trigger job_hosts_failed_insert after insert on job_hosts when new.status = 'failed' begin ${add('new', '+')} end`);
  await run(`create trigger job_hosts_failed_delete after delete on job_hosts when old.status = 'failed' begin ${add('old', '-')} end`);
  // An upsert's update path (putJobHost) fires update triggers on SQLite too.
  await run(
    `create trigger job_hosts_failed_update after update of status, job_id on job_hosts
     when old.status is not new.status or old.job_id is not new.job_id
     begin
       update jobs set failed_hosts = failed_hosts - 1 where id = old.job_id and old.status = 'failed';
       update jobs set failed_hosts = failed_hosts + 1 where id = new.job_id and new.status = 'failed';
     end`,
  );
}

async function postgresTriggers(db: Kysely<unknown>): Promise<void> {
  const run = (text: string) => sql.raw(text).execute(db);
  await run(
    `create function corral_job_failed_hosts() returns trigger language plpgsql as $$
     begin
       if tg_op <> 'INSERT' and old.status = 'failed' then update jobs set failed_hosts = failed_hosts - 1 where id = old.job_id; end if;
       if tg_op <> 'DELETE' and new.status = 'failed' then update jobs set failed_hosts = failed_hosts + 1 where id = new.job_id; end if;
       return null;
     end $$`,
  );
  await run(`create trigger job_hosts_failed_insert after insert on job_hosts for each row when (new.status = 'failed') execute function corral_job_failed_hosts()`);
  await run(`create trigger job_hosts_failed_delete after delete on job_hosts for each row when (old.status = 'failed') execute function corral_job_failed_hosts()`);
  // INSERT .. ON CONFLICT DO UPDATE (putJobHost) fires the update trigger for the row it updates.
  await run(
    `create trigger job_hosts_failed_update after update of status, job_id on job_hosts for each row
     when (old.status is distinct from new.status or old.job_id is distinct from new.job_id)
     execute function corral_job_failed_hosts()`,
  );
}

export async function jobFailedHostsUp(dialect: Dialect, db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('failed_hosts', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await (dialect === 'sqlite' ? sqliteTriggers(db) : postgresTriggers(db));
  // After the triggers: a host written before this statement is in its count, one written after it moves the count on.
  // (On PostgreSQL the migration's transaction also holds job_hosts locked from the triggers' creation.)
  await sql`update jobs set failed_hosts = (select count(*) from job_hosts h where h.job_id = jobs.id and h.status = 'failed')
            where exists (select 1 from job_hosts h where h.job_id = jobs.id and h.status = 'failed')`.execute(db);
  // Ids compare bytewise in the list (COLLATE "C" on PostgreSQL), as the 0014 indexes do.
  const id = dialect === 'postgres' ? 'id collate "C"' : 'id';
  await sql.raw(`create index jobs_failed on jobs (created_at, ${id}) where ${FAILED_WHERE}`).execute(db);
  await sql.raw(`create index jobs_running on jobs (created_at, ${id}) where ${RUNNING_WHERE}`).execute(db);
  if (dialect === 'postgres') await sql`analyze jobs`.execute(db);
}
