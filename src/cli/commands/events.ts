/** events [-f]: the fleet's event log. */
import type { Command } from 'commander';
import type { ApiEvent } from '../api-types.js';
import { apiFor, withConnection, type CliIo, type ConnectionFlags } from '../context.js';

function line(e: ApiEvent): string {
  const data = Object.entries(e.data).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
  return `${e.at}  ${e.type.padEnd(22)} ${e.agentId ?? '-'}  ${data}\n`;
}

export function addEventCommands(program: Command, io: CliIo): void {
  withConnection(
    program
      .command('events')
      .description('Show fleet events: agents online/offline/enrolled/revoked, config changes and failures')
      .option('--agent <id>', 'only this agent')
      .option('--type <type>', 'only this event type, e.g. agent.offline')
      .option('--limit <n>', 'how many of the newest events', '50')
      .option('-f, --follow', 'keep printing new events as they happen'),
  ).action(async (flags: ConnectionFlags & { agent?: string; type?: string; limit: string; follow?: boolean }) => {
    const api = apiFor(flags, io);
    const query = (extra: Record<string, string>) => {
      const q = new URLSearchParams(extra);
      if (flags.agent) q.set('agent', flags.agent);
      if (flags.type) q.set('type', flags.type);
      return `/api/v1/events?${q.toString()}`;
    };
    let { events } = await api.request<{ events: ApiEvent[] }>('GET', query({ limit: flags.limit }));
    let last = events.at(-1)?.id ?? 0;
    for (;;) {
      for (const e of events) io.stdout.write(flags.output === 'json' ? `${JSON.stringify(e)}\n` : line(e));
      last = events.at(-1)?.id ?? last;
      if (!flags.follow) return;
      await new Promise((r) => setTimeout(r, 1000));
      ({ events } = await api.request<{ events: ApiEvent[] }>('GET', query({ after: String(last), limit: '1000' })));
    }
  });
}
