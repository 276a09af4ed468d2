/** The CLI's front door: client commands that talk to the server over HTTP only. */
export { registerClientCommands, addAgentShowSubcommand } from './register.js';
export { runCli, reportError } from './run-cli.js';
export { defaultCliIo, type CliIo } from './context.js';
export { EXIT, EXIT_CODES_HELP, CliError } from './exit-codes.js';
export { wantsJson, commanderErrorAsJson } from './error-output.js';
