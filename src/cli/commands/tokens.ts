/** token create | list | revoke: enrollment tokens. */
import type { Command } from 'commander';
import type { ApiToken } from '../api-types.js';
import { formatTable } from '../table.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';

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
      .addHelpText(
        'after',
        `
The secret is printed once and never again (the server keeps only its hash).
With -o json it is the "token" field.

Examples:
  corral token create --name rack-4
  TOKEN=$(corral token create -o json | jq -r .token)`,
      ),
  ).action(async (flags: ConnectionFlags & { name: string }) => {
    const res = await apiFor(flags, io).request<ApiToken>('POST', '/api/v1/enrollment-tokens', { name: flags.name });
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(
      `created enrollment token ${res.id} (${res.name})\n\n    ${res.token}\n\n` +
        'This secret is shown only once: copy it now. Agents enroll with it:\n  corral agent --server <url> --token <secret>\n',
    );
  });

  withConnection(token.command('list').description('List enrollment tokens (secrets are never shown again)').addHelpText('after', '\nExample:\n  corral token list -o json')).action(async (flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<{ tokens: ApiToken[] }>('GET', '/api/v1/enrollment-tokens');
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(
      formatTable(
        ['ID', 'NAME', 'PREFIX', 'CREATED', 'STATUS'],
        res.tokens.map((t) => [t.id, t.name, `${t.prefix}…`, t.createdAt, t.revokedAt ? `revoked ${t.revokedAt}` : 'active']),
      ),
    );
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
