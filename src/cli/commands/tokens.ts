/** token create | list | revoke: enrollment tokens. */
import type { Command } from 'commander';
import type { ApiToken } from '../api-types.js';
import { formatTable } from '../table.js';
import { CliError, EXIT } from '../exit-codes.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';
import { addTokenListOptions, moreTokensNote, readTokenPages, type TokenListFlags } from './token-pages.js';

const labelsText = (l: Record<string, string>) => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',');

function collectLabel(arg: string, acc: Record<string, string>): Record<string, string> {
  const m = /^([A-Za-z0-9._/-]{1,128})=([A-Za-z0-9._/:-]{0,256})$/.exec(arg);
  if (!m) throw new CliError(`--label "${arg}": expected key=value (keys: letters, digits, ._/-; values: letters, digits, ._/:-)`, EXIT.ERROR, 'INVALID_ARGUMENT');
  return { ...acc, [m[1]!]: m[2]! };
}

function parseMaxAgents(arg: string): number {
  if (!/^[1-9]\d{0,6}$/.test(arg)) throw new CliError(`--max-agents "${arg}": expected a whole number of at least 1`, EXIT.ERROR, 'INVALID_ARGUMENT');
  return Number(arg);
}

function scopeText(t: ApiToken): string {
  const parts = [];
  if (t.labels && Object.keys(t.labels).length > 0) parts.push(`labels ${labelsText(t.labels)}`);
  if (t.maxAgents) parts.push(`at most ${t.maxAgents} agents`);
  if (t.expiresAt) parts.push(`expires ${t.expiresAt}`);
  if (t.requireApproval) parts.push('agents wait for approval');
  return parts.join(', ');
}

function status(t: ApiToken): string {
  if (t.revokedAt) return `revoked ${t.revokedAt}`;
  if (t.expiresAt && Date.parse(t.expiresAt) <= Date.now()) return 'expired';
  if (t.maxAgents && (t.enrolledAgents ?? 0) >= t.maxAgents) return 'full';
  return t.requireApproval ? 'active (approval)' : 'active';
}

/**
 * The one-line host install for a token: the script from the server, the
 * server, the token, and the fingerprint of the key that signs agent
 * packages (the script trusts nothing it downloads until that key matches).
 */
export function installCommand(server: string, token: string, fingerprint: string): string {
  const base = server.replace(/\/+$/, '');
  return `curl -fsSL ${base}/install.sh | sudo sh -s -- --server ${base} --token ${token} --fingerprint ${fingerprint}`;
}

export function addTokenCommands(program: Command, io: CliIo): void {
  const token = program
    .command('token')
    .description('Manage enrollment tokens (what new agents enroll with)')
    .addHelpText('after', '\nExamples:\n  corral token create --name rack-4\n  corral token list\n  corral token revoke <token id>');

  withConnection(
    token
      .command('create')
      .description('Create an enrollment token; its secret is shown only once')
      .option('--name <name>', 'a name to tell tokens apart', 'enrollment')
      .option('--label <key=value>', 'bind a trusted label to every agent that enrolls with it (repeatable)', collectLabel, {})
      .option('--expires <when>', 'no new enrollments after this: a duration (90s, 30m, 24h, 7d) or an ISO date-time')
      .option('--max-agents <n>', 'at most this many agents may enroll with it', parseMaxAgents)
      .option('--require-approval', 'agents enrolled with it wait (pending) until corral agent approve')
      .addHelpText(
        'after',
        `
The secret is printed once and never again (the server keeps only its hash).
With -o json it is the "token" field.

Labels bound with --label are trusted: every agent that enrolls with this
token carries them, and nothing the agent reports (its own --label flags, its
description attributes) can set or override them. Plain selector terms
(env=prod) match trusted labels only; what agents claim about themselves is
matched with claim.<key> (claim.host.arch=arm64). Agents already enrolled keep
their own credential when the token expires, reaches --max-agents, or is revoked.

Examples:
  corral token create --name rack-4
  corral token create --name prod-web --label env=prod --label role=web --expires 24h --max-agents 20
  TOKEN=$(corral token create --label env=staging -o json | jq -r .token)`,
      ),
  ).action(async (flags: ConnectionFlags & { name: string; label: Record<string, string>; expires?: string; maxAgents?: number; requireApproval?: boolean }) => {
    const body: Record<string, unknown> = { name: flags.name, labels: flags.label };
    if (flags.expires !== undefined) body[/^\d+[smhd]$/.test(flags.expires) ? 'expiresIn' : 'expiresAt'] = flags.expires;
    if (flags.maxAgents !== undefined) body.maxAgents = flags.maxAgents;
    if (flags.requireApproval) body.requireApproval = true;
    const api = apiFor(flags, io);
    const res = await api.request<ApiToken>('POST', '/api/v1/enrollment-tokens', body);
    const key = await api.request<{ fingerprint: string }>('GET', '/api/v1/signing-key');
    const install = installCommand(api.creds.server, res.token ?? '', key.fingerprint);
    if (flags.output === 'json') return printJson(io, { ...res, signingKeyFingerprint: key.fingerprint, installCommand: install });
    io.stdout.write(
      `created enrollment token ${res.id} (${res.name})${scopeText(res) ? ` — ${scopeText(res)}` : ''}\n\n    ${res.token}\n\n` +
        'This secret is shown only once: copy it now. Install and enroll an agent on a Linux host (as root):\n\n' +
        `  ${install}\n\n` +
        'or, where corral is installed already:\n  corral agent --server <url> --token <secret>\n' +
        (api.creds.server.startsWith('http://') ? 'The server is plain http://: the script refuses it unless --insecure is added (use https://).\n' : ''),
    );
  });

  withConnection(
    addTokenListOptions(token.command('list').description('List enrollment tokens, oldest first (secrets are never shown again)')).addHelpText(
      'after',
      '\nWith -o json, prints the API\'s { "tokens": [...], "total", "nextCursor" }.\n\nExamples:\n  corral token list\n  corral token list --state active --newest -o json',
    ),
  ).action(async (flags: TokenListFlags) => {
    const res = await readTokenPages<ApiToken>(io, flags, '/api/v1/enrollment-tokens');
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(
      formatTable(
        ['ID', 'NAME', 'PREFIX', 'LABELS', 'AGENTS', 'EXPIRES', 'CREATED', 'STATUS'],
        res.tokens.map((t) => [
          t.id,
          t.name,
          `${t.prefix}…`,
          labelsText(t.labels ?? {}) || '-',
          `${t.enrolledAgents ?? 0}${t.maxAgents ? `/${t.maxAgents}` : ''}`,
          t.expiresAt ?? 'never',
          t.createdAt,
          status(t),
        ]),
      ),
    );
    moreTokensNote(io, res.tokens.length, res);
  });

  withConnection(
    token
      .command('revoke')
      .description('Revoke an enrollment token: no new enrollments with it; enrolled agents keep working')
      .argument('<id>', 'token id (from corral token list)')
      .addHelpText('after', '\nExample:\n  corral token revoke <token id>'),
  ).action(async (id: string, flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<ApiToken>('DELETE', `/api/v1/enrollment-tokens/${encodeURIComponent(id)}`);
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(`revoked enrollment token ${res.id} (${res.name})\n`);
  });
}
