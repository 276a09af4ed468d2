/** user create | list | show | roles | disable | enable | delete, user token create | list | revoke, and whoami. */
import type { Command } from 'commander';
import type { ApiRoleBinding, ApiUser, ApiUserToken, ApiWhoami } from '../api-types.js';
import { formatTable } from '../table.js';
import { CliError, EXIT } from '../exit-codes.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';
import { addTokenListOptions, moreTokensNote, readTokenPages, type TokenListFlags } from './token-pages.js';

const ROLES = ['viewer', 'operator', 'admin'];

/** `operator on env=staging, viewer` */
export function rolesText(roles: ApiRoleBinding[]): string {
  if (roles.length === 0) return 'no roles';
  return roles.map((b) => (b.selector === '' ? b.role : `${b.role} on ${b.selector}`)).join(', ');
}

/** `--role operator:env=staging` → { role, selector }; `--role admin` → the whole fleet. */
export function collectRole(arg: string, acc: ApiRoleBinding[] = []): ApiRoleBinding[] {
  const at = arg.indexOf(':');
  const role = at < 0 ? arg : arg.slice(0, at);
  const selector = at < 0 ? '' : arg.slice(at + 1).trim();
  if (!ROLES.includes(role)) throw new CliError(`--role "${arg}": expected ROLE or ROLE:SELECTOR with ROLE one of ${ROLES.join(', ')} (e.g. operator:env=staging)`, EXIT.ERROR, 'INVALID_ARGUMENT');
  return [...acc, { role: role as ApiRoleBinding['role'], selector }];
}

const path = (name: string) => `/api/v1/users/${encodeURIComponent(name)}`;

/** A token's own roles for a listing: `as user` when it is not narrowed. */
export const tokenRolesText = (t: ApiUserToken): string => (t.roles ? rolesText(t.roles) : 'as user');

export function tokenStatus(t: ApiUserToken): string {
  if (t.revokedAt) return `revoked ${t.revokedAt}`;
  if (t.expiresAt && Date.parse(t.expiresAt) <= Date.now()) return 'expired';
  return 'active';
}

/** For the token create commands. */
export const NARROW_HELP = `
--role narrows the token (like --role of corral user create): it may then do
only what both it and its user may do. Each role must be within the user's:
the same or a higher role on the whole fleet, or on a selector the requested
one implies (operator:env=staging,role=web within operator:env=staging). If
the user's roles shrink later, the token's do too, at once.`;

const ROLE_HELP = `
Roles: viewer (reads), operator (deploy, rollouts, start/stop/restart,
configs, labels), admin (exec, packages, enrollment tokens, approvals,
revocation, credential rotation, users). ROLE:SELECTOR limits a role to the
agents the selector matches (operator:env=staging): the user may then act only
on agents, deployments, configs, rollouts and jobs within it, and a change
whose selector could reach beyond it is refused. See docs/security.md.`;

export function addUserCommands(program: Command, io: CliIo): void {
  const user = program
    .command('user')
    .description('Manage users, their roles and their API tokens (admin)')
    .addHelpText('after', `${ROLE_HELP}\n\nExamples:\n  corral user create alice --role operator:env=staging --role viewer\n  corral user token create alice --name laptop --expires 30d\n  corral user list`);

  withConnection(
    user
      .command('create')
      .description('Create a user with one or more roles (no token yet: see corral user token create)')
      .argument('<name>', 'user name: letters, digits and ._@- (what events and the audit log record)')
      .option('--role <ROLE[:SELECTOR]>', 'a role, on the whole fleet or on a selector (repeatable)', collectRole, [])
      .addHelpText('after', `${ROLE_HELP}\n\nExamples:\n  corral user create alice --role operator:env=staging\n  corral user create bob --role viewer\n  corral user create carol --role admin`),
  ).action(async (name: string, flags: ConnectionFlags & { role: ApiRoleBinding[] }) => {
    const res = await apiFor(flags, io).request<ApiUser>('POST', '/api/v1/users', { name, roles: flags.role });
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(`created user ${res.name} (${rolesText(res.roles)})\nGive it a token: corral user token create ${res.name} --name <what for>\n`);
  });

  withConnection(user.command('list').description('List users and their roles').addHelpText('after', '\nExample:\n  corral user list -o json')).action(async (flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<{ users: ApiUser[] }>('GET', '/api/v1/users');
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(formatTable(['NAME', 'ROLES', 'STATUS', 'CREATED'], res.users.map((u) => [u.name + (u.builtin ? ' (built-in)' : ''), rolesText(u.roles), u.disabledAt ? `disabled ${u.disabledAt}` : 'enabled', u.createdAt])));
  });

  withConnection(
    user
      .command('roles')
      .description("Replace a user's roles (refused if no enabled admin on the whole fleet would remain)")
      .argument('<name>', 'user name')
      .option('--role <ROLE[:SELECTOR]>', 'a role, on the whole fleet or on a selector (repeatable; none: no roles)', collectRole, [])
      .addHelpText('after', '\nExample:\n  corral user roles alice --role operator:env=staging --role viewer'),
  ).action(async (name: string, flags: ConnectionFlags & { role: ApiRoleBinding[] }) => {
    const res = await apiFor(flags, io).request<ApiUser>('PATCH', path(name), { roles: flags.role });
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(`user ${res.name} now has ${rolesText(res.roles)}\n`);
  });

  for (const [verb, disabled, text] of [
    ['disable', true, "Disable a user: its tokens are refused until it is enabled (you cannot disable yourself, or the last admin)"],
    ['enable', false, 'Enable a disabled user again'],
  ] as const) {
    withConnection(user.command(verb).description(text).argument('<name>', 'user name').addHelpText('after', `\nExample:\n  corral user ${verb} alice`)).action(async (name: string, flags: ConnectionFlags) => {
      const res = await apiFor(flags, io).request<ApiUser>('PATCH', path(name), { disabled });
      if (flags.output === 'json') return printJson(io, res);
      io.stdout.write(`${verb}d user ${res.name}\n`);
    });
  }

  withConnection(
    user
      .command('delete')
      .description('Delete a user and revoke its tokens (not yourself, not the last admin, not the built-in admin)')
      .argument('<name>', 'user name')
      .addHelpText('after', '\nExample:\n  corral user delete alice'),
  ).action(async (name: string, flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<{ deleted: string }>('DELETE', path(name));
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(`deleted user ${res.deleted}; its tokens are revoked\n`);
  });

  const token = user
    .command('token')
    .description("Manage a user's API tokens")
    .addHelpText('after', '\nExamples:\n  corral user token create alice --name laptop --expires 30d\n  corral user token list alice\n  corral user token revoke alice <token id>');

  withConnection(
    token
      .command('create')
      .description('Create an API token for a user; its secret is shown only once')
      .argument('<user>', 'user name')
      .requiredOption('--name <name>', 'what the token is for (laptop, ci, ...)')
      .option('--expires <when>', 'refused after this: a duration (90s, 30m, 24h, 7d) or an ISO date-time (default: never)')
      .option('--role <ROLE[:SELECTOR]>', "narrow the token to this role, within the user's roles (repeatable; default: all of the user's roles)", collectRole)
      .addHelpText(
        'after',
        `${NARROW_HELP}

The secret is printed once and never again (the server keeps only its hash).
With -o json it is the "token" field. The user logs in with it:
  corral login --server <url> --token <secret>

Examples:
  corral user token create alice --name laptop --expires 30d
  corral user token create alice --name dashboards --role viewer
  TOKEN=$(corral user token create ci-bot --name pipeline -o json | jq -r .token)`,
      ),
  ).action(async (userName: string, flags: ConnectionFlags & { name: string; expires?: string; role?: ApiRoleBinding[] }) => {
    const body: Record<string, unknown> = { name: flags.name };
    if (flags.expires !== undefined) body[/^\d+[smhd]$/.test(flags.expires) ? 'expiresIn' : 'expiresAt'] = flags.expires;
    if (flags.role !== undefined) body.roles = flags.role;
    const res = await apiFor(flags, io).request<ApiUserToken>('POST', `${path(userName)}/tokens`, body);
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(
      `created API token ${res.id} (${res.name}) for ${userName}${res.roles ? `, narrowed to ${rolesText(res.roles)}` : ''}${res.expiresAt ? `, expires ${res.expiresAt}` : ''}\n\n    ${res.token}\n\n` +
        `This secret is shown only once: copy it now. ${userName} logs in with it:\n  corral login --server <url> --token <secret>\n`,
    );
  });

  withConnection(
    addTokenListOptions(token.command('list').description("List a user's API tokens, oldest first (secrets are never shown again)").argument('<user>', 'user name')).addHelpText(
      'after',
      '\nWith -o json, prints the API\'s { "tokens": [...], "total", "nextCursor" }.\n\nExamples:\n  corral user token list alice\n  corral user token list alice --state active --newest',
    ),
  ).action(async (userName: string, flags: TokenListFlags) => {
    const res = await readTokenPages<ApiUserToken>(io, flags, `${path(userName)}/tokens`);
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(formatTable(['ID', 'NAME', 'PREFIX', 'ROLES', 'EXPIRES', 'CREATED', 'STATUS'], res.tokens.map((t) => [t.id, t.name, `${t.prefix}…`, tokenRolesText(t), t.expiresAt ?? 'never', t.createdAt, tokenStatus(t)])));
    moreTokensNote(io, res.tokens.length, res);
  });

  withConnection(
    token
      .command('revoke')
      .description("Revoke one of a user's API tokens, and the tokens the user created with it: refused from the next request on")
      .argument('<user>', 'user name')
      .argument('<id>', 'token id (from corral user token list)')
      .addHelpText('after', '\nExample:\n  corral user token revoke alice <token id>'),
  ).action(async (userName: string, id: string, flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<ApiUserToken>('DELETE', `${path(userName)}/tokens/${encodeURIComponent(id)}`);
    if (flags.output === 'json') return printJson(io, res);
    const also = res.alsoRevoked ?? [];
    io.stdout.write(`revoked API token ${res.id} (${res.name}) of ${userName}${also.length > 0 ? `, and ${also.length} created with it: ${also.join(', ')}` : ''}\n`);
  });

  withConnection(program.command('whoami').description('Show the user your token acts as, and what it may do (for a narrowed token: its roles within the user\'s)').addHelpText('after', '\nExample:\n  corral whoami -o json')).action(async (flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<ApiWhoami>('GET', '/api/v1/whoami');
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(`${res.name} (${rolesText(res.roles)})${res.tokenRoles ? `\nthis token is narrowed to ${rolesText(res.tokenRoles)}` : ''}\n`);
  });
}
