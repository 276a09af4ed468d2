/** jobs / job list / job show: exec jobs started so far, newest first, and one job's per-host results. */
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { formatTable } from '../table.js';
import { apiFor, intFlag, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';

interface HostCounts {
  total: number;
  ok: number;
  failed: number;
  timedOut: number;
  skipped: number;
  running: number;
  pending: number;
}

interface JobSummary {
  id: string;
  status: string;
  command: string[];
  selector: string;
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
  hosts: HostCounts;
}

interface JobPage {
  jobs: JobSummary[];
  total: number;
  nextCursor: string | null;
}

interface JobHost {
  agentName: string;
  status: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  truncated: boolean;
  error: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** Pages read at most with --all (500 jobs each). */
const MAX_PAGES = 200;

type ListFlags = ConnectionFlags & { state?: string; by?: string; failed?: boolean; limit: string; all?: boolean };

/** `3 ok, 1 failed, 1 timed out`: the non-zero counts. */
export function hostCounts(h: HostCounts): string {
  const parts = ([['ok', h.ok], ['failed', h.failed], ['timed out', h.timedOut], ['skipped', h.skipped], ['running', h.running], ['pending', h.pending]] as const).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
  return parts.length > 0 ? parts.join(', ') : 'no hosts';
}

function addListOptions(cmd: Command): Command {
  return cmd
    .option('--state <state>', 'running or done')
    .option('--by <user>', 'only jobs this user started')
    .option('--failed', 'only jobs with a failed or timed out host')
    .option('--limit <n>', 'how many of the newest (1-500)', '50')
    .option('--all', 'every matching job, page after page (up to 100,000)')
    .addHelpText('after', '\nWith -o json, prints the API\'s { "jobs": [...], "total", "nextCursor" } (with --all: every job, nextCursor null).\n\nExamples:\n  corral jobs\n  corral jobs --state running\n  corral job list --failed --by alice -o json');
}

async function listJobs(io: CliIo, flags: ListFlags): Promise<void> {
  if (flags.state !== undefined && flags.state !== 'running' && flags.state !== 'done') throw new CliError(`--state must be running or done, got "${flags.state}"`, EXIT.ERROR, 'INVALID_ARGUMENT');
  const limit = intFlag('--limit', flags.limit, 1, 500);
  const api = apiFor(flags, io);
  const query = (cursor: string | null) => {
    const q = new URLSearchParams({ limit: String(flags.all ? 500 : limit) });
    if (flags.state) q.set('state', flags.state);
    if (flags.by !== undefined) q.set('createdBy', flags.by);
    if (flags.failed) q.set('failed', 'true');
    if (cursor) q.set('cursor', cursor);
    return `/api/v1/jobs?${q.toString()}`;
  };
  let page = await api.request<JobPage>('GET', query(null));
  const jobs = [...page.jobs];
  for (let n = 1; flags.all && page.nextCursor && n < MAX_PAGES; n++) {
    page = await api.request<JobPage>('GET', query(page.nextCursor));
    jobs.push(...page.jobs);
  }
  const nextCursor = flags.all ? null : page.nextCursor;
  if (flags.output === 'json') return printJson(io, { jobs, total: page.total, nextCursor });
  if (jobs.length === 0) {
    io.stderr.write('no jobs match\n');
    return;
  }
  io.stdout.write(formatTable(['ID', 'STATUS', 'HOSTS', 'BY', 'STARTED', 'SELECTOR', 'COMMAND'], jobs.map((j) => [j.id, j.status, hostCounts(j.hosts), j.createdBy || '-', j.createdAt, j.selector || '(all)', j.command.join(' ')])));
  if (nextCursor) io.stderr.write(`${jobs.length} of ${page.total} shown; --all or a bigger --limit for more\n`);
}

export function addJobCommands(program: Command, io: CliIo): void {
  withConnection(addListOptions(program.command('jobs').description('List exec jobs, newest first, with host counts by outcome (same as job list)'))).action((flags: ListFlags) => listJobs(io, flags));

  const job = program.command('job').description('Exec jobs: list them, show one (start one with exec)');
  withConnection(addListOptions(job.command('list').description('List exec jobs, newest first, with host counts by outcome'))).action((flags: ListFlags) => listJobs(io, flags));

  withConnection(
    job
      .command('show')
      .description("A job's per-host results: status, exit code, duration, error (-o json adds each host's output)")
      .argument('<id>', 'the job id')
      .option('--failed', 'only the hosts that failed or timed out'),
  ).action(async (id: string, flags: ConnectionFlags & { failed?: boolean }) => {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new CliError(`job id must be a UUID, got "${id}" (see corral jobs)`, EXIT.ERROR, 'INVALID_ARGUMENT');
    const j = await apiFor(flags, io).request<{ id: string; status: string; hosts: JobHost[] }>('GET', `/api/v1/jobs/${id}${flags.failed ? '?failed=true' : ''}`);
    if (flags.output === 'json') return printJson(io, j);
    const duration = (h: JobHost) => (h.startedAt && h.finishedAt ? `${((Date.parse(h.finishedAt) - Date.parse(h.startedAt)) / 1000).toFixed(1)}s` : '-');
    io.stdout.write(`job ${j.id}: ${j.status}\n`);
    io.stdout.write(
      formatTable(
        ['HOST', 'STATUS', 'EXIT', 'DURATION', 'ERROR'],
        j.hosts.map((h) => [h.agentName, h.timedOut ? 'timed out' : h.status, h.exitCode !== null ? String(h.exitCode) : (h.signal ?? '-'), duration(h), `${h.error}${h.truncated ? ' [output truncated]' : ''}`]),
      ),
    );
  });
}
