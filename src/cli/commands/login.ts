/** login / logout: remember a server and admin token for later commands. */
import type { Command } from 'commander';
import { ApiClient } from '../api-client.js';
import { removeCredentials, resolveCredentials, saveCredentials } from '../credentials.js';
import { CliError } from '../exit-codes.js';
import type { CliIo } from '../context.js';

export function addLoginCommands(program: Command, io: CliIo): void {
  program
    .command('login')
    .description('Check a server URL and admin token, and save them for later commands (mode 0600)')
    .option('--server <url>', 'Corral server URL')
    .option('--token <token>', 'admin token')
    .action(async (flags: { server?: string; token?: string }) => {
      const creds = resolveCredentials(flags, io.env);
      if (!creds.token) throw new CliError('give --token (or CORRAL_TOKEN)', 1, 'INVALID_ARGUMENT');
      await new ApiClient(creds).request('GET', '/api/v1/agents?selector=');
      const file = saveCredentials(creds, io.env);
      io.stdout.write(`logged in to ${creds.server}; saved in ${file}\n`);
    });
  program
    .command('logout')
    .description('Forget the saved server and token')
    .action(() => {
      removeCredentials(io.env);
      io.stdout.write('logged out\n');
    });
}
