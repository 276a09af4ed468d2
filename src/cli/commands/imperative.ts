/** restart (now) and logs [-f]. */
import type { Command } from 'commander';
import type { ServiceDetail } from '../../protocol/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';
import { formatTable } from '../table.js';
import { resolveAgentId } from './agents.js';

/** The last `n` lines of a text window (the first, partial line dropped when the window was cut). */
export function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  const trailingNewline = lines.at(-1) === '';
  if (trailingNewline) lines.pop();
  const kept = lines.slice(-n).join('\n');
  return kept.length > 0 && trailingNewline ? `${kept}\n` : kept;
}

const mib = (b: number | null) => (b === null ? '-' : `${(b / 1024 / 1024).toFixed(1)} MiB`);

export function addImperativeCommands(program: Command, io: CliIo): void {
  withConnection(
    program.command('services').description("An agent's services now: state, pid, uptime, restarts, last exit, health, version, CPU, RSS").argument('<agent>', 'agent id, or a unique prefix or suffix of it'),
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
          s.healthy ? 'healthy' : 'unhealthy',
          s.pid === null ? '-' : String(s.pid),
          s.uptimeSeconds === null ? '-' : `${s.uptimeSeconds}s`,
          String(s.restarts),
          s.lastExit ? (s.lastExit.signal ?? `exit ${s.lastExit.code}`) : '-',
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
      .argument('<agent>', 'agent id, or a unique prefix or suffix of it')
      .argument('<service>', 'deployment name')
      .option('--tail <lines>', 'how many of the last lines', '100')
      .option('--stderr', 'the service\'s stderr instead of stdout')
      .option('-f, --follow', 'keep printing new output (Ctrl-C stops)')
      .addHelpText('after', '\nExample:\n  corral logs 82c407ff8cb7 web --tail 50 -f'),
  ).action(async (agent: string, service: string, flags: ConnectionFlags & { tail: string; stderr?: boolean; follow?: boolean }) => {
    const lines = Number(flags.tail);
    if (!Number.isInteger(lines) || lines < 0) throw new CliError('--tail must be a number of lines', 1, 'INVALID_ARGUMENT');
    const api = apiFor(flags, io);
    const id = await resolveAgentId(api, agent);
    const stream = flags.stderr ? 'stderr' : 'stdout';
    const path = (q: string) => `/api/v1/agents/${id}/services/${encodeURIComponent(service)}/logs?stream=${stream}&${q}`;
    let window = await api.request<{ data: string; nextOffset: number }>('GET', path(`tailBytes=${Math.min(256 * 1024, Math.max(4096, lines * 256))}`));
    io.stdout.write(lastLines(window.data, lines));
    while (flags.follow) {
      await new Promise((r) => setTimeout(r, 1000));
      window = await api.request<{ data: string; nextOffset: number }>('GET', path(`offset=${window.nextOffset}`));
      io.stdout.write(window.data);
    }
  });
}
