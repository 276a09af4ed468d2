/** me token create | list | revoke: your own API tokens (any user; the API's /api/v1/whoami/tokens). */
import type { Command } from 'commander';
import type { ApiUserToken, ApiWhoami } from '../api-types.js';
import { formatTable } from '../table.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';
import { addTokenListOptions, moreTokensNote, readTokenPages, type TokenListFlags } from './token-pages.js';
import type { ApiRoleBinding } from '../api-types.js';
import { collectRole, NARROW_HELP, rolesText, tokenRolesText, tokenStatus } from './users.js';

const TOKENS = '/api/v1/whoami/tokens';

const LIFETIME_HELP = `
A token you create acts as you, with your roles (as they are when it is used),
or, with --role, only with those roles within yours; a token you create with a
narrowed token is narrowed at least as much (see corral whoami).
It expires no later than the token you create it with, and at most 365 days
from now (default: 90 days, or when your current token expires if sooner).
Revoking a token revokes the tokens created with it too. At most 20 active
tokens per user, and 100 created this way per 24 hours. For a token that
outlives these bounds, ask an admin (corral user token create).`;

export function addMeCommands(program: Command, io: CliIo): void {
  const me = program
    .command('me')
    .description('Manage your own API tokens (any user: as whom your token acts, see corral whoami)')
    .addHelpText('after', '\nExamples:\n  corral me token create --name ci --expires 30d\n  corral me token list\n  corral me token revoke <token id>');

  const token = me
    .command('token')
    .description('Create, list and revoke your own API tokens')
    .addHelpText('after', `${LIFETIME_HELP}\n\nExamples:\n  corral me token create --name ci --expires 30d\n  corral me token list\n  corral me token revoke <token id>`);

  withConnection(
    token
      .command('create')
      .description('Create an API token for yourself; its secret is shown only once')
      .requiredOption('--name <name>', 'what the token is for (ci, laptop, ...)')
      .option('--expires <when>', 'refused after this: a duration (90s, 30m, 24h, 7d) or an ISO date-time (default: 90 days, capped as below)')
      .option('--role <ROLE[:SELECTOR]>', 'narrow the token to this role, within what your current token may do (repeatable; default: as your current token)', collectRole)
      .addHelpText(
        'after',
        `${LIFETIME_HELP}
${NARROW_HELP}

The secret is printed once and never again (the server keeps only its hash).
With -o json it is the "token" field.

Examples:
  corral me token create --name laptop --expires 30d
  corral me token create --name staging-ci --role operator:env=staging
  TOKEN=$(corral me token create --name pipeline --expires 7d -o json | jq -r .token)`,
      ),
  ).action(async (flags: ConnectionFlags & { name: string; expires?: string; role?: ApiRoleBinding[] }) => {
    const body: Record<string, unknown> = { name: flags.name };
    if (flags.expires !== undefined) body[/^\d+[smhd]$/.test(flags.expires) ? 'expiresIn' : 'expiresAt'] = flags.expires;
    if (flags.role !== undefined) body.roles = flags.role;
    const res = await apiFor(flags, io).request<ApiUserToken>('POST', TOKENS, body);
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(
      `created API token ${res.id} (${res.name})${res.roles ? `, narrowed to ${rolesText(res.roles)}` : ''}, expires ${res.expiresAt ?? 'never'}\n\n    ${res.token}\n\n` +
        `This secret is shown only once: copy it now. Use it with:\n  corral login --server <url> --token <secret>   (or CORRAL_TOKEN=<secret>)\n`,
    );
  });

  withConnection(
    addTokenListOptions(token.command('list').description('List your API tokens, oldest first, revoked and expired ones too unless --state says otherwise (secrets are never shown again)')).addHelpText(
      'after',
      '\nWith -o json, prints the API\'s { "tokens": [...], "total", "nextCursor" }.\n\nExamples:\n  corral me token list\n  corral me token list --state active --newest -o json',
    ),
  ).action(async (flags: TokenListFlags) => {
    const res = await readTokenPages<ApiUserToken>(io, flags, TOKENS);
    if (flags.output === 'json') return printJson(io, res);
    const current = (await apiFor(flags, io).request<ApiWhoami>('GET', '/api/v1/whoami')).tokenId;
    const rows = res.tokens.map((t) => [t.id + (t.id === current ? ' (this one)' : ''), t.name, `${t.prefix}…`, tokenRolesText(t), t.expiresAt ?? 'never', t.createdAt, t.parentId ?? '-', tokenStatus(t)]);
    io.stdout.write(formatTable(['ID', 'NAME', 'PREFIX', 'ROLES', 'EXPIRES', 'CREATED', 'CREATED WITH', 'STATUS'], rows));
    moreTokensNote(io, res.tokens.length, res);
  });

  withConnection(
    token
      .command('revoke')
      .description('Revoke one of your API tokens, and the tokens created with it: refused from the next request on')
      .argument('<id>', 'token id (from corral me token list; may be the one you are using)')
      .addHelpText('after', '\nExample:\n  corral me token revoke <token id>'),
  ).action(async (id: string, flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<ApiUserToken>('DELETE', `${TOKENS}/${encodeURIComponent(id)}`);
    if (flags.output === 'json') return printJson(io, res);
    const also = res.alsoRevoked ?? [];
    io.stdout.write(`revoked API token ${res.id} (${res.name})${also.length > 0 ? `, and ${also.length} created with it: ${also.join(', ')}` : ''}\n`);
  });
}
