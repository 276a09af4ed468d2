/** login / logout: remember a server and a user's API token for later commands. */
import type { Command } from 'commander';
import { ApiClient } from '../api-client.js';
import { DEFAULT_SERVER, normalizeServer, removeCredentials, saveCredentials } from '../credentials.js';
import { CliError, EXIT } from '../exit-codes.js';
import { readCliCaFile } from '../ca-fetch.js';
import type { CliIo } from '../context.js';
import type { ApiWhoami } from '../api-types.js';
import { rolesText } from './users.js';

export function addLoginCommands(program: Command, io: CliIo): void {
  program
    .command('login')
    .description("Check a server URL and a user's API token, and save them for later commands (mode 0600): every request then acts as that user")
    .option('--server <url>', `Corral server URL (default: $CORRAL_SERVER, ${DEFAULT_SERVER})`)
    .option('--token <token>', 'API token: a user\'s (corral user token create) or the first-start admin token (default: $CORRAL_TOKEN)')
    .option('--ca-file <file>', "PEM file of the CAs that sign an https server's certificate, to check it (default: $CORRAL_CA_FILE, else the bundled CAs; not saved)")
    .addHelpText(
      'after',
      `
The login is saved in $XDG_CONFIG_HOME/corral/credentials.json (or
~/.config/corral/credentials.json). Later commands use it unless --server/--token
or CORRAL_SERVER/CORRAL_TOKEN say otherwise; the saved token is only ever sent
to the saved server. Requests act as the user the token belongs to, with that
user's roles (corral whoami shows them).

Examples:
  corral login --server https://corral.example.com:4320 --token "$ADMIN_TOKEN"
  corral login --server https://corral.example.com:4320 --token "$(cat ~/alice.token)"`,
    )
    .action(async (flags: { server?: string; token?: string; caFile?: string }) => {
      // The saved file is not read: a broken one must not stop a fresh login.
      const server = normalizeServer(flags.server || io.env.CORRAL_SERVER || DEFAULT_SERVER);
      const token = flags.token || io.env.CORRAL_TOKEN;
      if (!token) throw new CliError('give an API token with --token (or CORRAL_TOKEN)', EXIT.ERROR, 'INVALID_ARGUMENT');
      let me: ApiWhoami;
      try {
        const caFile = flags.caFile || io.env.CORRAL_CA_FILE;
        me = await new ApiClient({ server, token }, caFile ? readCliCaFile(caFile) : null).request<ApiWhoami>('GET', '/api/v1/whoami');
      } catch (e) {
        if (e instanceof CliError && e.exitCode === EXIT.AUTH) {
          throw new CliError(`the server at ${server} refused the token; check it and try again`, EXIT.AUTH, e.code, { cause: e });
        }
        throw e;
      }
      const file = saveCredentials({ server, token }, io.configDir);
      io.stdout.write(`logged in to ${server} as ${me.name} (${rolesText(me.roles)}); saved in ${file}\n`);
    });

  program
    .command('logout')
    .description('Forget the saved server and token')
    .addHelpText('after', '\nExample:\n  corral logout')
    .action(() => {
      io.stdout.write(removeCredentials(io.configDir) ? 'logged out\n' : 'not logged in\n');
    });
}
