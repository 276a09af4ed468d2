/** rollout status [-w], rollout list, pause, resume, promote, abort, rollback; and deploy's rollout flags. */
import { Option, type Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { formatTable } from '../table.js';
import { formatRolloutStatus, type ApiRolloutStatus, type ApiRolloutSummary } from './rollout-status-view.js';
import { followRollout } from './rollout-follow.js';
import { resolveRolloutRef } from './rollout-ref.js';
import { apiFor, intFlag, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';

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

/**
 * Adds the rollout policy flags to `deploy`. The defaults they show are the
 * server's built-in ones (test/cli/deploy-help.test.ts checks them against
 * it); a flag not given sends nothing, so the deployment's saved policy and
 * the server's --rollout-defaults apply.
 */
export function withRolloutFlags(cmd: Command): Command {
  return cmd
    .option('--canary <n|n%>', 'agents in the canary stage (a count or a percentage) (default: 0)')
    .option('--canary-agent <name>', 'an agent (name or id) that is always a canary (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--manual-promote', 'wait after the canary stage for: corral rollout promote NAME')
    .option('--batches <n>', 'batches after the canary, formed by consistent hashing of agent ids (default: 1)')
    .option('--order-by <label=v1,v2,...>', 'run the batches per value of a label, in this order (e.g. cluster=a,b,c)')
    .option('--max-in-flight <n|n%>', 'agents updating at once (default: 25%)')
    .option('--min-healthy <seconds>', 'how long a service must stay healthy to count (default: 10)')
    .option('--healthy-deadline <seconds>', 'how long one agent may take to become healthy (default: 300)')
    .option('--progress-deadline <seconds>', 'how long one stage may take (default: 1800)')
    .option('--error-budget <n|n%>', 'failed agents tolerated before --on-failure applies (default: 0)')
    .addOption(new Option('--on-failure <action>', 'what to do when the error budget is exceeded (default: rollback)').choices(['pause', 'rollback']));
}

export { formatRolloutStatus, type ApiRolloutStatus } from './rollout-status-view.js';

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

export function addRolloutCommands(program: Command, io: CliIo & { stdoutIsTty?: boolean }): void {
  const rollout = program.command('rollout').description('Follow and steer the staged rollouts that take deployment changes to agents');
  const path = (ref: string) => `/api/v1/rollouts/${encodeURIComponent(ref)}`;

  withConnection(
    rollout
      .command('status')
      .description('Stages with counts per state, a progress bar, the error budget left, and why it is paused')
      .argument('<ref>', 'a deployment name (its newest rollout; with -w its newest change), or a rollout id or a unique prefix of one')
      .option('-w, --watch', 'follow it live until it finishes or pauses: exit 0 if it succeeded, 1 if it failed, was aborted or rolled back, 5 if it paused')
      .option('--agents', 'list every agent with its stage and state'),
  ).action(async (ref: string, flags: ConnectionFlags & { watch?: boolean; agents?: boolean }) => {
    const api = apiFor(flags, io);
    if (flags.watch) {
      await followRollout(api, io, await resolveRolloutRef(api, ref), { output: flags.output, tty: io.stdoutIsTty ?? process.stdout.isTTY === true });
      return;
    }
    const status = await api.request<ApiRolloutStatus>('GET', `${path(await resolveRolloutRef(api, ref))}${flags.agents ? '?agents=true' : ''}`);
    if (flags.output === 'json') return printJson(io, status);
    io.stdout.write(formatRolloutStatus(status));
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
    withConnection(rollout.command(action).description(text).argument('<ref>', 'a deployment name (its newest rollout), or a rollout id or a unique prefix of one')).action(async (ref: string, flags: ConnectionFlags) => {
      const api = apiFor(flags, io);
      const r = await api.request<ApiRolloutSummary>('POST', `${path(await resolveRolloutRef(api, ref))}/${action}`);
      if (flags.output === 'json') return printJson(io, r);
      io.stdout.write(`rollout ${r.id} of ${r.deployment}: ${r.state}${r.reason ? ` (${r.reason})` : ''}\n`);
    });
  }

  withConnection(
    rollout
      .command('rollback')
      .description('Back to the last revision that was fully rolled out and healthy (at once unless --staged)')
      .argument('<ref>', 'a deployment name, or a rollout id or a unique prefix of one')
      .option('--staged', 'go back through the same stages as a rollout'),
  ).action(async (ref: string, flags: ConnectionFlags & { staged?: boolean }) => {
    const api = apiFor(flags, io);
    const r = await api.request<ApiRolloutSummary>('POST', `${path(await resolveRolloutRef(api, ref))}/rollback`, { mode: flags.staged ? 'staged' : 'at-once' });
    if (flags.output === 'json') return printJson(io, r);
    io.stdout.write(`rolling ${r.deployment} back to revision ${r.toRevision}: rollout ${r.id}; watch it with: corral rollout status ${r.id} -w\n`);
  });
}
