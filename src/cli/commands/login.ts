/** login / logout: remember a server and admin token for later commands. */
import type { Command } from 'commander';
import { ApiClient } from '../api-client.js';
import { DEFAULT_SERVER, normalizeServer, removeCredentials, saveCredentials } from '../credentials.js';
import { CliError, EXIT } from '../exit-codes.js';
import { readCliCaFile } from '../ca-fetch.js';
import type { CliIo } from '../context.js';

export function addLoginCommands(program: Command, io: CliIo): void {
  program
    .command('login')
    .description('Check a server URL and admin token, and save them for later commands (mode 0600)')
    .option('--server <url>', `Corral server URL (default: $CORRAL_SERVER, ${DEFAULT_SERVER})`)
    .option('--token <token>', 'admin token (default: $CORRAL_TOKEN)')
    .option('--ca-file <file>', "PEM file of the CAs that sign an https server's certificate, to check it (default: $CORRAL_CA_FILE, else the bundled CAs; not saved)")
    .addHelpText(
      'after',
      `
The login is saved in $XDG_CONFIG_HOME/corral/credentials.json (or
~/.config/corral/credentials.json). Later commands use it unless --server/--token
or CORRAL_SERVER/CORRAL_TOKEN say otherwise; the saved token is only ever sent
to the saved server.

Example:
  corral login --server https://corral.example.com:4320 --token "$ADMIN_TOKEN"`,
    )
    .action(async (flags: { server?: string; token?: string; caFile?: string }) => {
      // The saved file is not read: a broken one must not stop a fresh login.
      const server = normalizeServer(flags.server || io.env.CORRAL_SERVER || DEFAULT_SERVER);
      const token = flags.token || io.env.CORRAL_TOKEN;
      if (!token) throw new CliError('give the admin token with --token (or CORRAL_TOKEN)', EXIT.ERROR, 'INVALID_ARGUMENT');
      try {
        const caFile = flags.caFile || io.env.CORRAL_CA_FILE;
        await new ApiClient({ server, token }, caFile ? readCliCaFile(caFile) : null).request('GET', '/api/v1/agents?selector=');
      } catch (e) {
        if (e instanceof CliError && e.exitCode === EXIT.AUTH) {
          throw new CliError(`the server at ${server} refused the token; check it and try again`, EXIT.AUTH, e.code, { cause: e });
        }
        throw e;
      }
      const file = saveCredentials({ server, token }, io.configDir);
      io.stdout.write(`logged in to ${server}; saved in ${file}\n`);
    });

  program
    .command('logout')
    .description('Forget the saved server and token')
    .addHelpText('after', '\nExample:\n  corral logout')
    .action(() => {
      io.stdout.write(removeCredentials(io.configDir) ? 'logged out\n' : 'not logged in\n');
    });
}
