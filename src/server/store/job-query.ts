/**
 * The job list in SQL on both dialects: one newest-first page of jobs
 * (keyset on created_at, id: jobs started meanwhile never shift a page),
 * filtered by state, starter, failed hosts and a set of selectors (a
 * scoped reader's), with each job's host counts by outcome from one
 * grouped read of the page's hosts. Ids compare bytewise on both
 * (COLLATE "C" on PostgreSQL), as the 0014 indexes do.
 */
import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import type { Database } from './schema.js';
import type { JobHostCounts, JobListPage, JobListQuery } from './store.js';
import { toJob } from './rows.js';

type Dialect = 'sqlite' | 'postgres';
type Frag = RawBuilder<unknown>;

const id = (d: Dialect): Frag => (d === 'postgres' ? sql`jobs.id collate "C"` : sql`jobs.id`);

function filterSql(d: Dialect, q: JobListQuery): Frag {
  const parts: Frag[] = [];
  // These two spell the predicates of the partial indexes jobs_running and jobs_failed (0017) exactly.
  if (q.state === 'running') parts.push(sql`jobs.status = 'running'`);
  if (q.state === 'done') parts.push(sql`jobs.status <> 'running'`);
  if (q.createdBy !== undefined) parts.push(sql`jobs.created_by = ${q.createdBy}`);
  if (q.hasFailedHosts) parts.push(sql`jobs.failed_hosts > 0`);
  // One parameter however many selectors (a scope may cover thousands).
  if (q.selectors !== undefined) {
    parts.push(d === 'postgres' ? sql`jobs.selector = any(${[...q.selectors]}::text[])` : sql`jobs.selector in (select value from json_each(${JSON.stringify(q.selectors)}))`);
  }
  return parts.length === 0 ? sql`1 = 1` : sql.join(parts, sql` and `);
}

const noHosts = (): JobHostCounts => ({ ok: 0, failed: 0, timedOut: 0, skipped: 0, running: 0, pending: 0 });

export async function queryJobPage(db: Kysely<Database>, d: Dialect, q: JobListQuery): Promise<JobListPage> {
  const where = filterSql(d, q);
  const page = q.after ? sql`${where} and (jobs.created_at, ${id(d)}) < (${q.after.createdAt}, ${q.after.id})` : where;
  const [rows, count] = await Promise.all([
    sql<Selectable<Database['jobs']>>`select jobs.* from jobs where ${page} order by jobs.created_at desc, ${id(d)} desc limit ${q.limit + 1}`.execute(db),
    sql<{ n: number | string }>`select count(*) as n from jobs where ${where}`.execute(db),
  ]);
  const kept = rows.rows.slice(0, q.limit);
  const counts = new Map<string, JobHostCounts>(kept.map((j) => [j.id, noHosts()]));
  if (kept.length > 0) {
    const grouped = await db
      .selectFrom('job_hosts')
      .select((eb) => ['job_id', 'status', 'timed_out', eb.fn.countAll<number | string>().as('n')])
      .where('job_id', 'in', kept.map((j) => j.id))
      .groupBy(['job_id', 'status', 'timed_out'])
      .execute();
    for (const g of grouped) {
      const c = counts.get(g.job_id)!;
      const n = Number(g.n);
      if (g.status === 'succeeded') c.ok += n;
      else if (g.status === 'failed' && Number(g.timed_out) === 1) c.timedOut += n;
      else if (g.status === 'failed') c.failed += n;
      else if (g.status === 'skipped') c.skipped += n;
      else if (g.status === 'running') c.running += n;
      else c.pending += n;
    }
  }
  return { jobs: kept.map((r) => ({ ...toJob(r), hosts: counts.get(r.id)! })), total: Number(count.rows[0]?.n ?? 0), hasMore: rows.rows.length > q.limit };
}
