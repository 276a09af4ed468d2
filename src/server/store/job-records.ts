/** Exec jobs as the store keeps them, and the job list's query and page (job-query.ts). */

export type JobStatus = 'running' | 'succeeded' | 'failed' | 'stopped';
export type JobHostStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface JobSpec {
  selector: string;
  command: string[];
  service: string | null;
  timeoutMs: number;
  /** "N" hosts or "N%" of them at once. */
  maxConcurrency: string;
  /** "N" failures or "N%" of hosts; past it no new host is started. */
  errorBudget: string;
}

export interface JobRecord {
  id: string;
  spec: JobSpec;
  status: JobStatus;
  /** The user who started it ('' for jobs from before 0014 whose start event was gone). */
  createdBy: string;
  createdAt: number;
  finishedAt: number | null;
}

/** Hosts of a job by outcome: ok = succeeded, failed excludes timedOut. */
export interface JobHostCounts {
  ok: number;
  failed: number;
  timedOut: number;
  skipped: number;
  running: number;
  pending: number;
}

/** A page of jobs, newest first (createdAt, then id, descending), after `after`. */
export interface JobListQuery {
  /** running: status running; done: any other status. */
  state?: 'running' | 'done';
  createdBy?: string;
  /** Only jobs with at least one failed (or timed out) host. */
  hasFailedHosts?: boolean;
  /** Only jobs run on one of these selectors (exactly as stored); [] matches none. */
  selectors?: readonly string[];
  limit: number;
  /** The last job of the previous page. */
  after?: { createdAt: number; id: string };
}

export interface JobListPage {
  jobs: (JobRecord & { hosts: JobHostCounts })[];
  /** Jobs matching the filter, on all pages. */
  total: number;
  hasMore: boolean;
}

export interface JobHostRecord {
  jobId: string;
  agentId: string;
  agentName: string;
  status: JobHostStatus;
  exitCode: number | null;
  signal: string | null;
  /** Interleaved stdout/stderr as received, at most ~1 MiB. */
  output: string;
  truncated: boolean;
  /** Killed at the job's timeout (by the agent, or given up on by the server); status is then failed. */
  timedOut: boolean;
  error: string;
  startedAt: number | null;
  finishedAt: number | null;
}
