/** exec: a command on every agent a selector matches, output streamed live with the host name. */
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { readSse } from '../sse.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';

interface JobHost {
  agentName: string;
  status: string;
  exitCode: number | null;
  error: string;
  truncated: boolean;
}

interface Job {
  id: string;
  status: string;
  hosts: JobHost[];
}

function bar(done: number, total: number, failed: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} done${failed ? `, ${failed} failed` : ''}`;
}

export function addExecCommand(program: Command, io: CliIo & { stderrIsTty?: boolean }): void {
  withConnection(
    program
      .command('exec')
      .description('Run a command on every online agent a selector matches; output streams live, prefixed by host')
      .requiredOption('-s, --selector <selector>', "which agents, e.g. 'env=prod' (trusted labels; claim.<key> for what agents report)")
      .option('--max-concurrency <n>', 'hosts at once: N or N%', '10')
      .option('--error-budget <n>', 'failures tolerated before no new host starts: N or N%', '0')
      .option('--timeout <seconds>', 'per host', '60')
      .option('--service <deployment>', "run in this deployment's directory and environment")
      .argument('<command...>', 'the command and its arguments (after --)')
      .addHelpText('after', "\nWith -o json nothing streams: once the job is done, stdout gets it as JSON (as GET /api/v1/jobs/ID: per host its status,\nexit code, signal, output up to 1 MiB, error); the exit code is 1 unless every host succeeded.\nLater: corral jobs lists jobs, corral job show ID [--failed] shows one.\n\nExamples:\n  corral exec -s env=prod -- uptime\n  corral exec -s env=prod -o json -- cat /etc/os-release\n  corral exec -s role=web --max-concurrency 2 --error-budget 10% -- systemctl reload nginx"),
  ).action(async (command: string[], flags: ConnectionFlags & { selector: string; maxConcurrency: string; errorBudget: string; timeout: string; service?: string }) => {
    const api = apiFor(flags, io);
    const job = await api.request<Job>('POST', '/api/v1/jobs', {
      selector: flags.selector,
      command,
      timeoutSeconds: Number(flags.timeout),
      maxConcurrency: flags.maxConcurrency,
      errorBudget: flags.errorBudget,
      ...(flags.service ? { service: flags.service } : {}),
    });
    const total = job.hosts.length;
    if (total === 0) throw new CliError(`no online agent matches '${flags.selector}'`, EXIT.ERROR, 'NO_TARGETS');
    // -o json: no live output or progress; the finished job (per-host status, exit code, output) on stdout.
    const json = flags.output === 'json';
    const tty = !json && (io.stderrIsTty ?? process.stderr.isTTY === true);
    let done = 0;
    let failed = 0;
    const partial = new Map<string, string>();
    const body = await api.events(`/api/v1/jobs/${job.id}/events`);
    let final: Job | null = null;
    let finalText = '';
    for await (const e of readSse(body)) {
      if (json && e.event !== 'done') continue;
      if (e.event === 'output') {
        const o = JSON.parse(e.data) as { agentName: string; stream: 'stdout' | 'stderr'; data: string };
        const key = `${o.agentName}\0${o.stream}`;
        const lines = ((partial.get(key) ?? '') + o.data).split('\n');
        partial.set(key, lines.pop()!);
        const out = o.stream === 'stderr' ? io.stderr : io.stdout;
        if (tty) io.stderr.write('\r\x1b[K');
        for (const line of lines) out.write(`${o.agentName} | ${line}\n`);
      } else if (e.event === 'host') {
        const h = JSON.parse(e.data) as JobHost;
        done++;
        if (h.status !== 'succeeded') failed++;
        for (const stream of ['stdout', 'stderr'] as const) {
          const rest = partial.get(`${h.agentName}\0${stream}`);
          if (rest) (stream === 'stderr' ? io.stderr : io.stdout).write(`${h.agentName} | ${rest}\n`);
        }
        if (!tty) io.stderr.write(`${h.agentName}: ${h.status}${h.exitCode !== null ? ` (exit ${h.exitCode})` : ''}${h.error ? `: ${h.error}` : ''}${h.truncated ? ' [output truncated]' : ''}\n`);
      } else if (e.event === 'done') {
        final = JSON.parse(e.data) as Job;
        finalText = e.data;
      }
      if (tty) io.stderr.write(`\r\x1b[K${bar(done, total, failed)}`);
      if (final) break;
    }
    if (tty) io.stderr.write('\n');
    if (!final) throw new CliError(`lost the connection while following job ${job.id}; see it with GET /api/v1/jobs/${job.id}`, EXIT.UNREACHABLE);
    const count = (s: string) => final!.hosts.filter((h) => h.status === s).length;
    if (json) printJson(io, JSON.parse(finalText));
    else io.stderr.write(`job ${final.id}: ${count('succeeded')} succeeded, ${count('failed')} failed, ${count('skipped')} skipped\n`);
    if (final.status !== 'succeeded') throw new CliError(`job ${final.status}`, EXIT.ERROR, 'JOB_FAILED');
  });
}
