/** services, restart (now), and logs [-f] (a live stream with -f). */
import type { Command } from 'commander';
import type { ServiceDetail } from '../../protocol/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { ApiClient } from '../api-client.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';
import { readSse } from '../sse.js';
import { formatTable } from '../table.js';
import { AGENT_ARG, resolveAgentId } from './agents.js';
import { healthWord } from '../service-health.js';

/** The last `n` lines of a text window (the first, partial line dropped when the window was cut). */
export function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  const trailingNewline = lines.at(-1) === '';
  if (trailingNewline) lines.pop();
  const kept = (n > 0 ? lines.slice(-n) : []).join('\n');
  return kept.length > 0 && trailingNewline ? `${kept}\n` : kept;
}

const mib = (b: number | null) => (b === null ? '-' : `${(b / 1024 / 1024).toFixed(1)} MiB`);

export function addImperativeCommands(program: Command, io: CliIo): void {
  withConnection(
    program.command('services').description("An agent's services now: state, pid, uptime, restarts, last exit, health, version, CPU, RSS").argument('<agent>', AGENT_ARG),
  ).action(async (agent: string, flags: ConnectionFlags) => {
    const api = apiFor(flags, io);
    const id = await resolveAgentId(api, agent);
    const res = await api.request<{ services: ServiceDetail[] }>('GET', `/api/v1/agents/${id}/services`);
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(
      formatTable(
        ['NAME', 'VERSION', 'STATE', 'HEALTH', 'PID', 'UPTIME', 'RESTARTS', 'LAST EXIT', 'CPU', 'RSS', 'CONFIG'],
        res.services.map((s) => [
          s.name,
          s.version,
          s.state,
          healthWord(s),
          s.pid === null ? '-' : String(s.pid),
          s.uptimeSeconds === null ? '-' : `${s.uptimeSeconds}s`,
          String(s.restarts),
          s.lastExit ? (s.lastExit.reason ?? s.lastExit.signal ?? `exit ${s.lastExit.code}`) : '-',
          s.cpuPercent === null ? '-' : `${s.cpuPercent}%`,
          mib(s.rssBytes),
          s.configHash,
        ]),
      ),
    );
  });

  withConnection(
    program
      .command('restart')
      .description("Restart a deployment's services now on every matching online agent (its desired state does not change)")
      .argument('<deployment>'),
  ).action(async (name: string, flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<{ results: { id: string; name: string; ok: boolean; error: string }[] }>(
      'POST',
      `/api/v1/deployments/${encodeURIComponent(name)}/restart`,
    );
    if (flags.output === 'json') printJson(io, res);
    else for (const r of res.results) io.stdout.write(`${r.name}: ${r.ok ? 'restarted' : `failed: ${r.error}`}\n`);
    const failed = res.results.filter((r) => !r.ok).length;
    if (failed > 0) throw new CliError(`${failed} of ${res.results.length} agents did not restart ${name}`, EXIT.ERROR, 'RESTART_FAILED');
  });

  withConnection(
    program
      .command('logs')
      .description("Show a service's output on one agent, read from the host through the server")
      .argument('<agent>', AGENT_ARG)
      .argument('<service>', 'deployment name')
      .option('--tail <lines>', 'how many of the last lines', '100')
      .option('--stderr', "the service's stderr instead of stdout (for the tail)")
      .option('-f, --follow', 'then stream new output of stdout and stderr live, across log rotation, until Ctrl-C (at most 1 hour)')
      .addHelpText(
        'after',
        `
With -f the agent pushes lines as the service writes them (over the server's
open connection to it); lines the service wrote to stderr go to stderr here,
stdout to stdout. It ends when you stop it, when the agent disconnects (exit 1)
or after the agent's limit of 1 hour (exit 0; run it again to go on).

Example:
  corral logs 82c407ff8cb7 web --tail 50 -f`,
      ),
  ).action(async (agent: string, service: string, flags: ConnectionFlags & { tail: string; stderr?: boolean; follow?: boolean }) => {
    const lines = Number(flags.tail);
    if (!Number.isInteger(lines) || lines < 0) throw new CliError('--tail must be a number of lines', 1, 'INVALID_ARGUMENT');
    const api = apiFor(flags, io);
    const id = await resolveAgentId(api, agent);
    const stream = flags.stderr ? 'stderr' : 'stdout';
    const base = `/api/v1/agents/${id}/services/${encodeURIComponent(service)}/logs`;
    const window = await api.request<{ data: string; nextOffset: number }>('GET', `${base}?stream=${stream}&tailBytes=${Math.min(256 * 1024, Math.max(4096, lines * 256))}`);
    if (!flags.follow) {
      io.stdout.write(lastLines(window.data, lines));
      return;
    }
    (stream === 'stderr' ? io.stderr : io.stdout).write(lastLines(window.data, lines));
    await followLogs(api, `${base}/follow?${stream}Offset=${window.nextOffset}`, io);
  });
}

/** Prints a follow's output until it ends; throws a CliError when it ends badly. */
async function followLogs(api: ApiClient, path: string, io: CliIo): Promise<void> {
  for await (const e of readSse(await api.events(path))) {
    if (e.event === 'output') {
      const chunk = JSON.parse(e.data) as { stream: 'stdout' | 'stderr'; data: string };
      (chunk.stream === 'stderr' ? io.stderr : io.stdout).write(chunk.data);
    } else if (e.event === 'dropped') {
      io.stderr.write(`corral: ${(JSON.parse(e.data) as { chars: number }).chars} characters of output dropped: this client fell behind\n`);
    } else if (e.event === 'end') {
      const { reason } = JSON.parse(e.data) as { reason: string };
      if (reason === 'disconnected') throw new CliError('the agent disconnected; stopped following', EXIT.ERROR, 'AGENT_DISCONNECTED');
      if (reason === 'max-time') io.stderr.write("corral: stopped following after the agent's limit of 1 hour; run the command again to go on\n");
      else if (reason === 'service-removed') io.stderr.write('corral: the service was removed from the agent; stopped following\n');
      return;
    } else if (e.event === 'error') {
      const err = JSON.parse(e.data) as { code: string; message: string };
      throw new CliError(err.message, EXIT.ERROR, err.code);
    }
  }
  throw new CliError('lost the connection to the server while following', EXIT.UNREACHABLE, 'UNREACHABLE');
}
