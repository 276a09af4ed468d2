/**
 * Following a rollout live (`rollout status -w`, `deploy --wait`): which
 * rollout a reference means, printing its progress, and the exit it ends with.
 */
import type { ApiClient } from '../api-client.js';
import { CliError, EXIT } from '../exit-codes.js';
import { readSse } from '../sse.js';
import type { CliIo } from '../context.js';
import { FINISHED, formatRolloutStatus, type ApiRolloutStatus, type ApiRolloutSummary } from './rollout-status-view.js';

const rolloutPath = (ref: string) => `/api/v1/rollouts/${encodeURIComponent(ref)}`;

export interface FollowOptions {
  output?: 'table' | 'json' | 'wide';
  /** Redraw the status in place (a terminal) rather than print a line per change. */
  tty: boolean;
}

/**
 * The rollout `ref` means when followed. A rollout id is that rollout. A
 * deployment name is its newest change (kind `rollout`): when that change
 * failed and a rollback followed, the deployment's newest rollout is the
 * rollback, but what the operator deployed is the change, and following it
 * must report its outcome. A rollback is followed by its id.
 */
export async function followTarget(api: ApiClient, ref: string): Promise<ApiRolloutStatus> {
  const status = await api.request<ApiRolloutStatus>('GET', rolloutPath(ref));
  if (ref !== status.deployment || status.kind !== 'rollback') return status;
  const { rollouts } = await api.request<{ rollouts: ApiRolloutSummary[] }>('GET', `/api/v1/rollouts?deployment=${encodeURIComponent(status.deployment)}&limit=500`);
  const change = rollouts.find((r) => r.kind === 'rollout');
  return change ? api.request<ApiRolloutStatus>('GET', rolloutPath(change.id)) : status;
}

/** One line per status for a log or a pipe; the caller prints it only when it differs from the last. */
function statusLine(s: ApiRolloutStatus): string {
  const t = s.totals;
  const to = s.to ? ` to r${s.to.revision} (${s.to.version})` : '';
  return `${s.kind}${to} ${s.state}, ${s.stage.name}: ${t.healthy} healthy, ${t.updating} updating, ${t.failed} failed, ${t.offline} offline, ${t.pending} pending${s.reason ? ` (${s.reason})` : ''}`;
}

/** What to run next on a paused rollout. */
function pausedHint(s: ApiRolloutStatus): string {
  if (/^waiting for promote/.test(s.reason)) return `go on with: corral rollout promote ${s.deployment}`;
  return `look with: corral rollout status ${s.deployment} --agents; then: corral rollout resume ${s.deployment} (or rollback, abort)`;
}

/** ", rolled back to r1 (1.0.0) by rollback ID: succeeded" when a rollback followed `change`, else "". */
async function rollbackAfter(api: ApiClient, change: ApiRolloutStatus): Promise<string> {
  const { rollouts } = await api.request<{ rollouts: ApiRolloutSummary[] }>('GET', `/api/v1/rollouts?deployment=${encodeURIComponent(change.deployment)}&limit=500`);
  const at = rollouts.findIndex((r) => r.id === change.id);
  const next = at > 0 ? rollouts[at - 1] : undefined;
  if (!next || next.kind !== 'rollback') return '';
  const rb = await api.request<ApiRolloutStatus>('GET', rolloutPath(next.id));
  const to = rb.to ? `r${rb.to.revision} (${rb.to.version})` : `r${next.toRevision}`;
  const follow = FINISHED.includes(rb.state) ? '' : `; follow it with: corral rollout status ${rb.id} -w`;
  return `; rolled back to ${to} by rollback ${rb.id}: ${rb.state}${rb.reason && rb.state !== 'succeeded' ? ` (${rb.reason})` : ''}${follow}`;
}

/**
 * Follows the rollout `ref` means (see followTarget) until it finishes or
 * pauses, printing its progress to io.stdout: redrawn in place on a
 * terminal, else a line whenever what it says changes (JSON lines with
 * `-o json`). Resolves when it succeeded; otherwise throws a CliError:
 * EXIT.ERROR when it failed, was aborted or rolled back (naming a rollback
 * that followed), EXIT.PAUSED when it paused (naming what to run next),
 * EXIT.UNREACHABLE when the stream broke.
 */
export async function followRollout(api: ApiClient, io: Pick<CliIo, 'stdout'>, ref: string, opts: FollowOptions): Promise<ApiRolloutStatus> {
  const target = await followTarget(api, ref);
  const body = await api.events(`${rolloutPath(target.id)}/watch`);
  let final: ApiRolloutStatus | null = null;
  let shownLines = 0;
  let lastData = '';
  let lastLine = '';
  for await (const e of readSse(body)) {
    const s = JSON.parse(e.data) as ApiRolloutStatus;
    // `done` repeats the last status: print it only if it differs.
    const repeat = e.data === lastData;
    lastData = e.data;
    if (repeat) {
      // nothing new to show
    } else if (opts.output === 'json') io.stdout.write(`${JSON.stringify(s)}\n`);
    else if (opts.tty) {
      const text = formatRolloutStatus(s);
      // Redraw in place: up over what was printed last, clear to the end, print again.
      io.stdout.write(`${shownLines > 0 ? `\x1b[${shownLines}A\x1b[J` : ''}${text}`);
      shownLines = text.split('\n').length - 1;
    } else {
      // The stream also carries changes a line does not show (lease renewals, timestamps).
      const line = statusLine(s);
      if (line !== lastLine) io.stdout.write(`${new Date().toISOString()} ${line}\n`);
      lastLine = line;
    }
    if (e.event === 'done' || s.state === 'paused') {
      final = s;
      break;
    }
  }
  if (!final) throw new CliError(`lost the connection while following rollout ${target.id}; run the command again`, EXIT.UNREACHABLE, 'UNREACHABLE');
  if (final.state === 'paused') {
    throw new CliError(`rollout paused: ${final.reason || 'no reason given'}; ${pausedHint(final)}`, EXIT.PAUSED, 'ROLLOUT_PAUSED');
  }
  if (final.state !== 'succeeded') {
    throw new CliError(`${final.kind} ${final.state}${final.reason ? `: ${final.reason}` : ''}${await rollbackAfter(api, final)}`, EXIT.ERROR, 'ROLLOUT_NOT_SUCCEEDED');
  }
  return final;
}
