/** events [-f]: the fleet's event log. */
import type { Command } from 'commander';
import type { ApiEvent } from '../api-types.js';
import { apiFor, intFlag, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';
import { resolveAgentId } from './agents.js';
import { timeFlag } from './audit.js';

function line(e: ApiEvent): string {
  const data = Object.entries(e.data).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
  return `${e.at}  ${e.type.padEnd(22)} ${e.agentId ?? '-'}  ${data}`.trimEnd() + '\n';
}

const FOLLOW_POLL_MS = 1000;

export function addEventCommands(program: Command, io: CliIo): void {
  withConnection(
    program
      .command('events')
      .description('Show fleet events, oldest first: agents enrolled/online/offline/revoked, config changes and failures')
      .option('--agent <agent>', 'only this agent (name when unique, id, or a unique prefix or suffix of the id)')
      .option('--type <type>', 'only this event type, e.g. agent.offline')
      .option('--since <when>', 'only events from then on: a duration ago (30m, 1h, 7d) or an ISO 8601 date-time')
      .option('--until <when>', 'only events before then (same forms as --since)')
      .option('--limit <n>', 'how many of the newest events (1-1000)', '50')
      .option('-f, --follow', 'keep printing new events as they happen (Ctrl-C stops)')
      .addHelpText(
        'after',
        `
With -o json, prints the API's { "events": [...] }; with --follow, one event
object per line instead (JSON Lines).

Examples:
  corral events --limit 20
  corral events --agent 82c407ff8cb7 --type config.failed
  corral events --type agent.offline --since 1d
  corral events -f -o json | jq .type`,
      ),
  ).action(async (flags: ConnectionFlags & { agent?: string; type?: string; since?: string; until?: string; limit: string; follow?: boolean }) => {
    const limit = intFlag('--limit', flags.limit, 1, 1000);
    const since = flags.since ? timeFlag('--since', flags.since) : undefined;
    const until = flags.until ? timeFlag('--until', flags.until) : undefined;
    const api = apiFor(flags, io);
    const agent = flags.agent ? await resolveAgentId(api, flags.agent) : undefined;
    const query = (extra: Record<string, string>) => {
      const q = new URLSearchParams(extra);
      if (agent) q.set('agent', agent);
      if (flags.type) q.set('type', flags.type);
      if (since) q.set('since', since);
      if (until) q.set('until', until);
      return `/api/v1/events?${q.toString()}`;
    };
    const first = await api.request<{ events: ApiEvent[] }>('GET', query({ limit: String(limit) }));
    if (flags.output === 'json' && !flags.follow) return printJson(io, first);
    let events = first.events;
    let last = 0;
    for (;;) {
      for (const e of events) io.stdout.write(flags.output === 'json' ? `${JSON.stringify(e)}\n` : line(e));
      last = events.at(-1)?.id ?? last;
      if (!flags.follow) return;
      // A full page means more are waiting: fetch it at once.
      if (events.length < 1000) await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
      ({ events } = await api.request<{ events: ApiEvent[] }>('GET', query({ after: String(last), limit: '1000' })));
    }
  });
}
