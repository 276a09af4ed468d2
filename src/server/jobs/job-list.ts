/**
 * The job list as the API pages it: newest first, filtered by state,
 * starter and failed hosts, resumed after the last job seen by an opaque
 * cursor (keyset paging, as the fleet list: jobs started meanwhile never
 * make a page repeat or skip one). Filtering and counting run in the store
 * (store/job-query.ts).
 */
import type { JobHostCounts, JobListQuery, JobRecord, Store } from '../store/index.js';
import { ValidationError } from '../errors.js';
import { decodeCursor, encodeCursor } from '../fleet/agent-list.js';

/** Most jobs on one page, and the default. */
export const MAX_JOB_PAGE = 500;
export const DEFAULT_JOB_PAGE = 50;
/** The only order; a cursor names it so one from another list is refused. */
const ORDER = '-createdAt';

export interface JobListInput {
  state?: 'running' | 'done';
  createdBy?: string;
  hasFailedHosts?: boolean;
  /** A scoped reader's: only jobs on these selectors (see api/job-routes.ts); undefined: all. */
  selectors?: readonly string[];
  limit: number;
  cursor?: string;
}

export interface JobListItem extends JobRecord {
  hosts: JobHostCounts & { total: number };
}

export async function listJobPage(store: Store, input: JobListInput): Promise<{ jobs: JobListItem[]; total: number; nextCursor: string | null }> {
  if (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > MAX_JOB_PAGE) throw new ValidationError(`limit must be 1 to ${MAX_JOB_PAGE}, got ${input.limit}`, 'limit');
  const after = input.cursor ? decodeCursor(input.cursor, ORDER) : undefined;
  if (after && typeof after.k !== 'number') throw new ValidationError('cursor: not a cursor this server made; pass nextCursor from the previous answer unchanged', 'cursor');
  const query: JobListQuery = {
    state: input.state,
    createdBy: input.createdBy,
    hasFailedHosts: input.hasFailedHosts,
    selectors: input.selectors,
    limit: input.limit,
    after: after ? { createdAt: after.k as number, id: after.i } : undefined,
  };
  const page = await store.queryJobs(query);
  const last = page.jobs[page.jobs.length - 1];
  return {
    jobs: page.jobs.map((j) => ({ ...j, hosts: { ...j.hosts, total: Object.values(j.hosts).reduce((a, b) => a + b, 0) } })),
    total: page.total,
    nextCursor: page.hasMore && last ? encodeCursor({ s: ORDER, k: last.createdAt, i: last.id }) : null,
  };
}
