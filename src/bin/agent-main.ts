/**
 * The entry of the self-contained agent (`npm run build:agent`): the same
 * `corral agent …` commands as dist/bin/corral.js (run, watch, install,
 * uninstall), without the server and the client commands, so a bundle of it
 * pulls in neither the store (better-sqlite3, pg) nor the API. The bundle is
 * written as dist/bin/corral.js inside a `kind: agent` package, where the
 * systemd unit and the upgrade watcher look for the agent.
 */
import { Command, CommanderError } from 'commander';
import { agentCommand } from './agent-command.js';
import { AGENT_VERSION } from '../agent/description.js';

const program = new Command('corral')
  .description('Corral host agent (self-contained build: `corral agent …` only)')
  .version(AGENT_VERSION)
  .showHelpAfterError('(run with --help for usage)');
const agent = agentCommand();
program.addCommand(agent);
program.enablePositionalOptions();
agent.enablePositionalOptions();

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${message}\n`);
  process.exit(err instanceof CommanderError ? err.exitCode : 1);
});
