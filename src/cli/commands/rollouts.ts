/** rollout status [-w], rollout list, pause, resume, promote, abort, rollback; and deploy's rollout flags. */
import { Option, type Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { formatTable } from '../table.js';
import { readSse } from '../sse.js';
import { apiFor, intFlag, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';

type Counts = { pending: number; updating: number; healthy: number; failed: number; offline: number };

/** The rollout status as the API returns it (restated: the CLI does not import the server). */
export interface ApiRolloutStatus {
  id: string;
  deployment: string;
  kind: 'rollout' | 'rollback';
  state: string;
  reason: string;
  from: { revision: number; version: string } | null;
  to: { revision: number; version: string } | null;
  stage: { index: number; name: string };
  stages: { index: number; name: string; counts: Counts; total: number }[];
  totals: Counts & { total: number };
  errorBudget: { budget: number; failed: number; forgiven?: number; left: number };
  agents?: { id: string; name: string; stage: number; state: string; reason: string }[];
}

interface ApiRolloutSummary {
  id: string;
  deployment: string;
  kind: string;
  state: string;
  reason: string;
  fromRevision: number | null;
  toRevision: number;
  stage: number;
  createdBy: string;
  createdAt: string;
}

const FINISHED = ['succeeded', 'failed', 'aborted', 'rolled-back'];

export interface RolloutFlags {
  canary?: string;
  canaryAgent: string[];
  manualPromote?: boolean;
  batches?: string;
  orderBy?: string;
  maxInFlight?: string;
  minHealthy?: string;
  healthyDeadline?: string;
  progressDeadline?: string;
  errorBudget?: string;
  onFailure?: 'pause' | 'rollback';
}

/** Adds the rollout policy flags to `deploy`. */
export function withRolloutFlags(cmd: Command): Command {
  return cmd
    .option('--canary <n|n%>', 'agents in the canary stage (a count or a percentage)')
    .option('--canary-agent <name>', 'an agent (name or id) that is always a canary (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--manual-promote', 'wait after the canary stage for: corral rollout promote NAME')
    .option('--batches <n>', 'batches after the canary, formed by consistent hashing of agent ids')
    .option('--order-by <label=v1,v2,...>', 'run the batches per value of a label, in this order (e.g. cluster=a,b,c)')
    .option('--max-in-flight <n|n%>', 'agents updating at once')
    .option('--min-healthy <seconds>', 'how long a service must stay healthy to count')
    .option('--healthy-deadline <seconds>', 'how long one agent may take to become healthy')
    .option('--progress-deadline <seconds>', 'how long one stage may take')
    .option('--error-budget <n|n%>', 'failed agents tolerated before --on-failure applies')
    .addOption(new Option('--on-failure <action>', 'what to do when the error budget is exceeded').choices(['pause', 'rollback']));
}

/** The policy overrides the rollout flags ask for; bad values are usage errors naming the flag. */
export function rolloutPolicyFrom(f: RolloutFlags): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  const amount = (flag: string, v: string) => {
    if (!/^\d{1,9}%?$/.test(v) || (v.endsWith('%') && Number(v.slice(0, -1)) > 100)) throw new CliError(`${flag} must be a count like 5 or a percentage like 10%, got "${v}"`, EXIT.ERROR, 'INVALID_ARGUMENT');
    return v;
  };
  const secs = (flag: string, v: string) => {
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n)) throw new CliError(`${flag} must be a number of seconds, got "${v}"`, EXIT.ERROR, 'INVALID_ARGUMENT');
    return n;
  };
  if (f.canary !== undefined) p.canary = amount('--canary', f.canary);
  if (f.canaryAgent.length > 0) p.canaryAgents = f.canaryAgent;
  if (f.manualPromote) p.promote = 'manual';
  if (f.batches !== undefined) p.batches = intFlag('--batches', f.batches, 1, 100);
  if (f.orderBy !== undefined) {
    const m = /^([^=,]+)=(.+)$/.exec(f.orderBy);
    if (!m) throw new CliError(`--order-by must be label=value1,value2,..., got "${f.orderBy}"`, EXIT.ERROR, 'INVALID_ARGUMENT');
    p.orderBy = { label: m[1]!, values: m[2]!.split(',').filter(Boolean) };
  }
  if (f.maxInFlight !== undefined) p.maxInFlight = amount('--max-in-flight', f.maxInFlight);
  if (f.minHealthy !== undefined) p.minHealthySeconds = secs('--min-healthy', f.minHealthy);
  if (f.healthyDeadline !== undefined) p.healthyDeadlineSeconds = secs('--healthy-deadline', f.healthyDeadline);
  if (f.progressDeadline !== undefined) p.progressDeadlineSeconds = secs('--progress-deadline', f.progressDeadline);
  if (f.errorBudget !== undefined) p.errorBudget = amount('--error-budget', f.errorBudget);
  if (f.onFailure !== undefined) p.onFailure = f.onFailure;
  return p;
}

function bar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

/** The status as text: header, progress bar, budget, reason, and a table of stages. */
export function formatRolloutStatus(s: ApiRolloutStatus): string {
  const from = s.from ? `r${s.from.revision} (${s.from.version})` : 'nothing';
  const to = s.to ? `r${s.to.revision} (${s.to.version})` : '?';
  const done = s.totals.healthy + s.totals.failed + s.totals.offline;
  const lines = [
    `${s.kind} ${s.id} of ${s.deployment}: ${from} -> ${to}`,
    `state: ${s.state}${s.reason ? ` (${s.reason})` : ''}`,
    `stage: ${s.stage.name}   ${bar(done, s.totals.total)}   error budget left: ${s.errorBudget.left} of ${s.errorBudget.budget} (${s.errorBudget.failed} failed${s.errorBudget.forgiven ? `, ${s.errorBudget.forgiven} accepted on resume` : ''})`,
    '',
    formatTable(
      ['STAGE', 'PENDING', 'UPDATING', 'HEALTHY', 'FAILED', 'OFFLINE'],
      s.stages.map((st) => [`${st.index === s.stage.index && !FINISHED.includes(s.state) ? '> ' : '  '}${st.name}`, ...(['pending', 'updating', 'healthy', 'failed', 'offline'] as const).map((k) => String(st.counts[k]))]),
    ).trimEnd(),
  ];
  if (s.agents) {
    lines.push('', formatTable(['AGENT', 'NAME', 'STAGE', 'STATE', 'REASON'], s.agents.map((a) => [a.id.slice(-12), a.name, String(a.stage), a.state, a.reason])).trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

export function addRolloutCommands(program: Command, io: CliIo & { stdoutIsTty?: boolean }): void {
  const rollout = program.command('rollout').description('Follow and steer the staged rollouts that take deployment changes to agents');
  const path = (ref: string) => `/api/v1/rollouts/${encodeURIComponent(ref)}`;

  withConnection(
    rollout
      .command('status')
      .description('Stages with counts per state, a progress bar, the error budget left, and why it is paused')
      .argument('<ref>', 'a deployment name (its newest rollout) or a rollout id')
      .option('-w, --watch', 'follow it live until it finishes (exit 0 if it succeeded, 1 otherwise)')
      .option('--agents', 'list every agent with its stage and state'),
  ).action(async (ref: string, flags: ConnectionFlags & { watch?: boolean; agents?: boolean }) => {
    const api = apiFor(flags, io);
    const status = await api.request<ApiRolloutStatus>('GET', `${path(ref)}${flags.agents ? '?agents=true' : ''}`);
    if (!flags.watch) {
      if (flags.output === 'json') return printJson(io, status);
      io.stdout.write(formatRolloutStatus(status));
      return;
    }
    const res = await api.fetch(`${api.creds.server}${path(status.id)}/watch`, { headers: { authorization: `Bearer ${api.creds.token ?? ''}`, accept: 'text/event-stream' } }).catch((e: unknown) => {
      throw new CliError(`cannot reach the Corral server at ${api.creds.server} (${(e as Error).message})`, EXIT.UNREACHABLE, 'UNREACHABLE');
    });
    if (!res.ok || !res.body) throw new CliError(`cannot follow rollout ${status.id}: HTTP ${res.status}`, EXIT.ERROR);
    const tty = io.stdoutIsTty ?? process.stdout.isTTY === true;
    let final: ApiRolloutStatus | null = null;
    let shownLines = 0;
    let last = '';
    for await (const e of readSse(res.body)) {
      const s = JSON.parse(e.data) as ApiRolloutStatus;
      // `done` repeats the last status: print it only if it differs.
      const repeat = e.data === last;
      last = e.data;
      if (repeat) {
        // nothing new to show
      } else if (flags.output === 'json') io.stdout.write(`${JSON.stringify(s)}\n`);
      else if (tty) {
        const text = formatRolloutStatus(s);
        // Redraw in place: up over what was printed last, clear to the end, print again.
        io.stdout.write(`${shownLines > 0 ? `\x1b[${shownLines}A\x1b[J` : ''}${text}`);
        shownLines = text.split('\n').length - 1;
      } else {
        const t = s.totals;
        const to = s.to ? ` to r${s.to.revision} (${s.to.version})` : '';
        io.stdout.write(
          `${new Date().toISOString()} ${s.kind}${to} ${s.state}, ${s.stage.name}: ${t.healthy} healthy, ${t.updating} updating, ${t.failed} failed, ${t.offline} offline, ${t.pending} pending${s.reason ? ` (${s.reason})` : ''}\n`,
        );
      }
      if (e.event === 'done') {
        final = s;
        break;
      }
    }
    if (!final) throw new CliError(`lost the connection while following rollout ${status.id}; run the command again`, EXIT.UNREACHABLE);
    if (final.state !== 'succeeded') throw new CliError(`rollout ${final.state}${final.reason ? `: ${final.reason}` : ''}`, EXIT.ERROR, 'ROLLOUT_NOT_SUCCEEDED');
  });

  withConnection(rollout.command('list').description('Rollouts, newest first').argument('[deployment]', 'only this deployment')).action(async (deployment: string | undefined, flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<{ rollouts: ApiRolloutSummary[] }>('GET', `/api/v1/rollouts${deployment ? `?deployment=${encodeURIComponent(deployment)}` : ''}`);
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(
      formatTable(
        ['ID', 'DEPLOYMENT', 'KIND', 'REVISIONS', 'STATE', 'BY', 'CREATED', 'REASON'],
        res.rollouts.map((r) => [r.id, r.deployment, r.kind, `${r.fromRevision ?? '-'} -> ${r.toRevision}`, r.state, r.createdBy, r.createdAt, r.reason]),
      ),
    );
  });

  const actions: [string, string][] = [
    ['pause', 'Release no more agents until resumed'],
    ['resume', 'Resume a paused rollout (failures so far are accepted: they stop counting against the error budget)'],
    ['promote', 'Go on past the canary stage'],
    ['abort', 'Stop where it is: agents keep what they have'],
  ];
  for (const [action, text] of actions) {
    withConnection(rollout.command(action).description(text).argument('<ref>', 'a deployment name (its newest rollout) or a rollout id')).action(async (ref: string, flags: ConnectionFlags) => {
      const r = await apiFor(flags, io).request<ApiRolloutSummary>('POST', `${path(ref)}/${action}`);
      if (flags.output === 'json') return printJson(io, r);
      io.stdout.write(`rollout ${r.id} of ${r.deployment}: ${r.state}${r.reason ? ` (${r.reason})` : ''}\n`);
    });
  }

  withConnection(
    rollout
      .command('rollback')
      .description('Back to the last revision that was fully rolled out and healthy (at once unless --staged)')
      .argument('<ref>', 'a deployment name or a rollout id')
      .option('--staged', 'go back through the same stages as a rollout'),
  ).action(async (ref: string, flags: ConnectionFlags & { staged?: boolean }) => {
    const r = await apiFor(flags, io).request<ApiRolloutSummary>('POST', `${path(ref)}/rollback`, { mode: flags.staged ? 'staged' : 'at-once' });
    if (flags.output === 'json') return printJson(io, r);
    io.stdout.write(`rolling ${r.deployment} back to revision ${r.toRevision}: rollout ${r.id}; watch it with: corral rollout status ${r.deployment} -w\n`);
  });
}
