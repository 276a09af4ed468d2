/** agents, agent show, label, revoke. */
import type { Command } from 'commander';
import type { ApiAgent, ApiAgentDetail, ApiHealthTree } from '../api-types.js';
import type { ApiClient } from '../api-client.js';
import { CliError } from '../exit-codes.js';
import { ago, formatTable } from '../table.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A full id, or a unique prefix or suffix of one (resolved through the agent
 * list). UUIDv7 ids start with their creation time, so agents enrolled
 * together share a prefix; tables show the random end, which is what people copy.
 */
export async function resolveAgentId(api: ApiClient, idOrPrefix: string): Promise<string> {
  const wanted = idOrPrefix.toLowerCase();
  if (FULL_ID.test(wanted)) return wanted;
  if (!/^[0-9a-f-]{1,36}$/.test(wanted)) throw new CliError(`"${idOrPrefix}" is not an agent id or id prefix`, 1, 'INVALID_ARGUMENT');
  const { agents } = await api.request<{ agents: ApiAgent[] }>('GET', '/api/v1/agents');
  const matches = agents.filter((a) => a.id.startsWith(wanted) || a.id.endsWith(wanted));
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length === 0) throw new CliError(`agent ${idOrPrefix} not found`, 1, 'AGENT_NOT_FOUND');
  throw new CliError(`"${idOrPrefix}" matches ${matches.length} agents (${matches.slice(0, 5).map((a) => a.id).join(', ')}…); give more of the id`, 1, 'AMBIGUOUS');
}

/** `k=v` sets, `k-` removes; anything else is a usage error naming the argument. */
export function parseLabelArgs(args: string[]): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const arg of args) {
    const set = /^([A-Za-z0-9._/-]+)=([A-Za-z0-9._/:-]*)$/.exec(arg);
    const del = /^([A-Za-z0-9._/-]+)-$/.exec(arg);
    if (set) patch[set[1]!] = set[2]!;
    else if (del) patch[del[1]!] = null;
    else throw new CliError(`"${arg}": expected key=value to set a label or key- to remove it`, 1, 'INVALID_ARGUMENT');
  }
  return patch;
}

/** The random end of a UUIDv7: unique in practice, and accepted back by every command. */
export const shortId = (id: string) => id.slice(-12);

const labelsText = (l: Record<string, string>) => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',');

function agentRows(agents: ApiAgent[], wide: boolean): string {
  return formatTable(
    ['ID', 'NAME', 'KIND', 'STATUS', 'LABELS', 'OS/ARCH', 'VERSION', 'LAST SEEN', 'HEALTH', 'CONFIG'],
    agents.map((a) => [
      wide ? a.id : shortId(a.id),
      a.name,
      a.kind,
      a.status,
      labelsText(a.labels),
      `${a.os}/${a.arch}`,
      a.agentVersion,
      ago(a.lastSeenAt),
      a.health ? (a.health.healthy ? 'healthy' : `unhealthy: ${a.health.lastError}`) : '-',
      a.config.status === 'FAILED' ? `FAILED: ${a.config.errorMessage}` : a.config.status,
    ]),
  );
}

function healthLines(tree: ApiHealthTree, name: string, depth: number, out: string[]): void {
  out.push(`${'  '.repeat(depth)}${name}: ${tree.healthy ? 'healthy' : 'UNHEALTHY'} ${tree.status}${tree.lastError ? ` (${tree.lastError})` : ''}`);
  for (const [child, sub] of Object.entries(tree.components)) healthLines(sub, child, depth + 1, out);
}

function describe(a: ApiAgentDetail): string {
  const out = [
    `id:          ${a.id}`,
    `name:        ${a.name}`,
    `kind:        ${a.kind}`,
    `status:      ${a.status} (last seen ${ago(a.lastSeenAt)}, first seen ${a.firstSeenAt})`,
    `os/arch:     ${a.os}/${a.arch}`,
    `version:     ${a.agentVersion}`,
    `labels:      ${labelsText(a.labels) || '-'}`,
    `config:      ${a.config.status}${a.config.errorMessage ? `: ${a.config.errorMessage}` : ''}${a.config.desiredHash ? ` (offered ${a.config.desiredHash.slice(0, 12)})` : ''}`,
    'attributes:',
    ...Object.entries({ ...a.identifyingAttributes, ...a.nonIdentifyingAttributes }).map(([k, v]) => `  ${k}: ${v}`),
    'health:',
  ];
  if (a.healthTree) healthLines(a.healthTree, 'agent', 1, out);
  else out.push('  (not reported)');
  out.push('effective config files:', ...(Object.keys(a.effectiveConfig?.files ?? {}).map((f) => `  ${f}`) || []));
  return `${out.join('\n')}\n`;
}

export function addAgentCommands(program: Command, io: CliIo): void {
  withConnection(
    program
      .command('agents')
      .description('List agents, optionally filtered by a label selector')
      .option('-s, --selector <selector>', "label selector, e.g. 'env=prod,role in (web,api),!canary'", '')
      .addHelpText('after', "\nExamples:\n  corral agents\n  corral agents -s 'env=prod,host.arch=arm64' -o json"),
    ['table', 'wide', 'json'],
  ).action(async (flags: ConnectionFlags & { selector: string }) => {
    const res = await apiFor(flags, io).request<{ agents: ApiAgent[] }>('GET', `/api/v1/agents?selector=${encodeURIComponent(flags.selector)}`);
    if (flags.output === 'json') printJson(io, res);
    else io.stdout.write(agentRows(res.agents, flags.output === 'wide'));
  });

  withConnection(
    program
      .command('label')
      .description('Set (key=value) or remove (key-) operator labels on an agent; operator labels win over the agent\'s own')
      .argument('<agent>', 'agent id, or a unique prefix or suffix of it')
      .argument('<labels...>', 'key=value to set, key- to remove')
      .addHelpText('after', '\nExample:\n  corral label 82c407ff8cb7 canary=true tier-'),
  ).action(async (agent: string, labels: string[], flags: ConnectionFlags) => {
    const patch = parseLabelArgs(labels);
    const api = apiFor(flags, io);
    const id = await resolveAgentId(api, agent);
    const res = await api.request<ApiAgentDetail>('PATCH', `/api/v1/agents/${id}`, { labels: patch });
    if (flags.output === 'json') printJson(io, res);
    else io.stdout.write(`${res.name} (${res.id}) labels: ${labelsText(res.labels) || '-'}\n`);
  });

  withConnection(
    program
      .command('revoke')
      .description('Revoke an agent: it is disconnected at once and refused from then on')
      .argument('<agent>', 'agent id, or a unique prefix or suffix of it'),
  ).action(async (agent: string, flags: ConnectionFlags) => {
    const api = apiFor(flags, io);
    const id = await resolveAgentId(api, agent);
    const res = await api.request<ApiAgentDetail>('DELETE', `/api/v1/agents/${id}`);
    if (flags.output === 'json') printJson(io, res);
    else io.stdout.write(`revoked ${res.name} (${res.id})\n`);
  });
}

/** `corral agent show ID`, a subcommand of the command that runs the agent. */
export function addAgentShowSubcommand(agentCmd: Command, io: CliIo): void {
  withConnection(agentCmd.command('show').description('Show one agent in detail').argument('<agent>', 'agent id, or a unique prefix or suffix of it')).action(
    async (agent: string, flags: ConnectionFlags) => {
      const api = apiFor(flags, io);
      const id = await resolveAgentId(api, agent);
      const res = await api.request<ApiAgentDetail>('GET', `/api/v1/agents/${id}`);
      if (flags.output === 'json') printJson(io, res);
      else io.stdout.write(describe(res));
    },
  );
}
