/** agents, agent show, label, revoke. */
import type { Command } from 'commander';
import type { ApiAgent, ApiAgentDetail, ApiHealthTree } from '../api-types.js';
import type { ApiClient } from '../api-client.js';
import { CliError, EXIT } from '../exit-codes.js';
import { ago, formatTable } from '../table.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';
import { addApprovalSubcommands } from './approval.js';

/** How commands that take an agent describe the argument. */
export const AGENT_ARG = 'agent name (when unique), id, or a unique prefix or suffix of the id';

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * An agent as people name it: a full id; else the agent's name, when one
 * agent has it; else a unique prefix or suffix of an id (resolved through the
 * agent list). UUIDv7 ids start with their creation time, so agents enrolled
 * together share a prefix; tables show the random end, which is what people
 * copy. Throws AMBIGUOUS listing the candidates, or AGENT_NOT_FOUND.
 */
export async function resolveAgentId(api: ApiClient, ref: string): Promise<string> {
  const wanted = ref.toLowerCase();
  if (FULL_ID.test(wanted)) return wanted;
  const { agents } = await api.request<{ agents: ApiAgent[] }>('GET', '/api/v1/agents');
  const candidates = (matches: ApiAgent[], what: string, hint: string) => {
    const shown = matches.slice(0, 5).map((a) => `${a.id} (${a.name})`).join(', ');
    return new CliError(`"${ref}" ${what} ${matches.length} agents: ${shown}${matches.length > 5 ? ', …' : ''}; ${hint}`, EXIT.ERROR, 'AMBIGUOUS');
  };
  const named = agents.filter((a) => a.name === ref);
  if (named.length === 1) return named[0]!.id;
  if (named.length > 1) throw candidates(named, 'is the name of', 'give the id instead');
  const byId = /^[0-9a-f-]{1,36}$/.test(wanted) ? agents.filter((a) => a.id.startsWith(wanted) || a.id.endsWith(wanted)) : [];
  if (byId.length === 1) return byId[0]!.id;
  if (byId.length > 1) throw candidates(byId, 'matches', 'give more of the id');
  throw new CliError(`no agent is named "${ref}" or has an id that starts or ends with it; list them with corral agents`, EXIT.ERROR, 'AGENT_NOT_FOUND');
}

/** `k=v` sets, `k-` removes; anything else is a usage error naming the argument. */
export function parseLabelArgs(args: string[]): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const arg of args) {
    const set = /^([A-Za-z0-9._/-]+)=([A-Za-z0-9._/:-]*)$/.exec(arg);
    const del = /^([A-Za-z0-9._/-]+)-$/.exec(arg);
    if (set) patch[set[1]!] = set[2]!;
    else if (del) patch[del[1]!] = null;
    else {
      throw new CliError(
        `"${arg}": expected key=value to set a label or key- to remove one (keys: letters, digits, ._/-; values: letters, digits, ._/:-)`,
        EXIT.ERROR,
        'INVALID_ARGUMENT',
      );
    }
  }
  return patch;
}

/** The random end of a UUIDv7: unique in practice, and accepted back by every command. */
export const shortId = (id: string) => id.slice(-12);

const labelsText = (l: Record<string, string>) => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',');

function agentRows(agents: ApiAgent[], wide: boolean): string {
  return formatTable(
    ['ID', 'NAME', 'KIND', 'STATUS', 'LABELS', 'CLAIMED', 'OS/ARCH', 'VERSION', 'LAST SEEN', 'HEALTH', 'CONFIG'],
    agents.map((a) => [
      wide ? a.id : shortId(a.id),
      a.name,
      a.kind,
      a.approval === 'pending' ? `${a.status} (pending approval)` : a.status,
      labelsText(a.labels) || '-',
      labelsText(a.claimedLabels ?? {}) || '-',
      `${a.os}/${a.arch}`,
      a.agentVersion,
      ago(a.lastSeenAt),
      a.health ? (a.health.healthy ? 'healthy' : `unhealthy: ${a.health.lastError}`) : '-',
      a.config.status === 'FAILED' ? `FAILED: ${a.config.errorMessage}` : a.config.status,
    ]),
  );
}

function healthLines(tree: ApiHealthTree, name: string, depth: number, out: string[]): void {
  const health = tree.status === 'stopped' ? '' : tree.healthy ? 'healthy ' : 'UNHEALTHY ';
  out.push(`${'  '.repeat(depth)}${name}: ${health}${tree.status}${tree.lastError ? ` (${tree.lastError})` : ''}`);
  for (const [child, sub] of Object.entries(tree.components)) healthLines(sub, child, depth + 1, out);
}

function describe(a: ApiAgentDetail): string {
  const out = [
    `id:          ${a.id}`,
    `name:        ${a.name}`,
    `kind:        ${a.kind}`,
    `status:      ${a.status} (last seen ${ago(a.lastSeenAt)}, first seen ${a.firstSeenAt})`,
    `os/arch:     ${a.os}/${a.arch}`,
    `version:     ${a.agentVersion}${a.agentPackage ? ` (upgrade to ${a.agentPackage.offeredVersion}: ${a.agentPackage.status}${a.agentPackage.error ? `: ${a.agentPackage.error}` : ''})` : ''}`,
    `labels:      ${labelsText(a.labels) || '-'}  (trusted: what selectors match)`,
    `  token:     ${labelsText(a.boundLabels ?? {}) || '-'}${a.enrollmentTokenId ? `  (enrollment token ${a.enrollmentTokenId})` : ''}`,
    `  operator:  ${labelsText(a.operatorLabels) || '-'}`,
    `claimed:     ${labelsText(a.claimedLabels ?? {}) || '-'}  (reported by the agent: match with claim.<key>)`,
    ...(a.approval === 'pending' ? ['approval:    pending (nothing is offered until corral agent approve)'] : []),
    `config:      ${a.config.status}${a.config.errorMessage ? `: ${a.config.errorMessage}` : ''}${a.config.desiredHash ? ` (offered ${a.config.desiredHash.slice(0, 12)})` : ''}`,
    'attributes (claims, match with claim.<key>):',
    ...Object.entries({ ...a.identifyingAttributes, ...a.nonIdentifyingAttributes }).map(([k, v]) => `  ${k}: ${v}`),
    'health:',
  ];
  if (a.healthTree) healthLines(a.healthTree, 'agent', 1, out);
  else out.push('  (not reported)');
  const files = Object.entries(a.effectiveConfig?.files ?? {});
  out.push('effective config files:', ...(files.length > 0 ? files.map(([f, c]) => `  ${f} (${c.contentType})`) : ['  (none reported)']));
  return `${out.join('\n')}\n`;
}

export function addAgentCommands(program: Command, io: CliIo): void {
  withConnection(
    program
      .command('agents')
      .description('List agents, optionally filtered by a label selector')
      .option('-s, --selector <selector>', "label selector, e.g. 'env=prod,role in (web,api),!canary,claim.host.arch=arm64'", '')
      .addHelpText(
        'after',
        `
LABELS are trusted labels (bound by the agent's enrollment token, or set with
corral label); plain selector terms such as env=prod match only these. CLAIMED
are labels the agent reports about itself (its --label flags): like every
description attribute they are claims, matched only with claim.<key>
(claim.env=prod, claim.host.arch=arm64).

The table shows the last 12 characters of each id (UUIDv7 ids start with their
creation time, so agents enrolled together share a prefix); every command
accepts them, or any unique prefix or suffix, or the agent's name when no
other agent has it. -o wide shows full ids.

Examples:
  corral agents
  corral agents -s 'env=prod,role in (web,api),!canary' -o wide
  corral agents -s claim.host.arch=arm64 -o json`,
      ),
    ['table', 'wide', 'json'],
  ).action(async (flags: ConnectionFlags & { selector: string }) => {
    const res = await apiFor(flags, io).request<{ agents: ApiAgent[]; warnings?: string[] }>('GET', `/api/v1/agents?selector=${encodeURIComponent(flags.selector)}`);
    if (flags.output === 'json') printJson(io, res);
    else io.stdout.write(agentRows(res.agents, flags.output === 'wide'));
    if (res.agents.length === 0 && flags.selector.trim() !== '') {
      const why = res.warnings ?? [];
      io.stderr.write(`no agent matches '${flags.selector}'${why.length > 0 ? `: ${why.join('; ')}` : ''}\n`);
    }
  });

  withConnection(
    program
      .command('label')
      .description("Set (key=value) or remove (key-) operator labels on an agent; operator labels are trusted and win over the token's")
      .argument('<agent>', AGENT_ARG)
      .argument('<labels...>', 'key=value to set, key- to remove')
      .addHelpText('after', "\nA key- removes the operator label only; a label of that name bound by the agent's\nenrollment token shows again. What the agent reports never becomes a label.\n\nExample:\n  corral label 82c407ff8cb7 env=prod canary=true tier-"),
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
      .argument('<agent>', AGENT_ARG)
      .addHelpText('after', '\nThere is no confirmation prompt. To let the host back in, enroll it again with an enrollment token.\n\nExample:\n  corral revoke 82c407ff8cb7'),
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
  withConnection(
    agentCmd
      .command('show')
      .description('Show one agent in detail: labels, attributes, health tree, config status, effective config files')
      .argument('<agent>', AGENT_ARG)
      .addHelpText('after', '\nExamples:\n  corral agent show 82c407ff8cb7\n  corral agent show 0190f3a2-7c41-7d2e-9a55-82c407ff8cb7 -o json'),
  ).action(
    async (agent: string, flags: ConnectionFlags) => {
      const api = apiFor(flags, io);
      const id = await resolveAgentId(api, agent);
      const res = await api.request<ApiAgentDetail>('GET', `/api/v1/agents/${id}`);
      if (flags.output === 'json') printJson(io, res);
      else io.stdout.write(describe(res));
    },
  );
  addApprovalSubcommands(agentCmd, io);
}

/** `corral agent rotate-credentials -s SELECTOR`, a subcommand of the command that runs the agent. */
export function addAgentRotateCredentialsSubcommand(agentCmd: Command, io: CliIo): void {
  withConnection(
    agentCmd
      .command('rotate-credentials')
      .description('Offer new credentials to the agents a selector matches, over their OpAMP connection; each keeps the new one once it has connected with it')
      .requiredOption('-s, --selector <selector>', "agents to rotate (a label selector; '' for every agent)")
      .addHelpText(
        'after',
        `
An agent that is offline gets its new credential when it next connects. Its old
credential keeps working until it has used the new one, or until the server's
--credential-grace (default 600 s) ends; an agent whose new credential fails
goes back to the old one and reports it (event agent.connection_settings_failed).

Examples:
  corral agent rotate-credentials -s env=prod
  corral agent rotate-credentials -s ''`,
      ),
  ).action(async (flags: ConnectionFlags & { selector: string }) => {
    const res = await apiFor(flags, io).request<{ agents: { id: string; name: string }[] }>('POST', '/api/v1/agents/rotate-credentials', { selector: flags.selector });
    if (flags.output === 'json') printJson(io, res);
    else io.stdout.write(res.agents.length === 0 ? `no agent matches '${flags.selector}'\n` : `offering new credentials to ${res.agents.length} agent(s): ${res.agents.map((a) => a.name).join(', ')}\n`);
  });
}
