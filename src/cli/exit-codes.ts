/** Exit codes a script can rely on, and the error type that carries them. */
export const EXIT = {
  OK: 0,
  /** The command line was wrong, the API refused the request (4xx other than 401), the server failed (5xx), or a --wait saw a failure. */
  ERROR: 1,
  /** A --wait gave up: the timeout passed with work still pending. */
  TIMEOUT: 2,
  /** The server could not be reached. */
  UNREACHABLE: 3,
  /** The token was missing or refused (401). */
  AUTH: 4,
  /** A followed rollout (rollout status -w, deploy --wait) paused: it waits for an operator's promote, resume or rollback. */
  PAUSED: 5,
} as const;

/** The `--help` epilogue for the `corral` program: `program.addHelpText('after', EXIT_CODES_HELP)`. */
export const EXIT_CODES_HELP = `
Exit codes (client commands):
  0  success
  1  usage or request error, or a --wait that saw a failure (the message says what)
  2  a --wait timed out (e.g. corral config status NAME --wait --timeout 60)
  3  server unreachable (check --server / CORRAL_SERVER)
  4  authentication failed (check --token / CORRAL_TOKEN, or run corral login)
  5  a followed rollout paused (rollout status -w, deploy --wait): promote, resume or roll it back

With -o json, errors are JSON on stderr: {"error":{"code":"...","message":"..."}}.

Connection: --server/--token on each command, else CORRAL_SERVER/CORRAL_TOKEN,
else the login saved by corral login; the default server is http://127.0.0.1:4320.`;

/** An error the CLI prints as `error: <message> (<code>)` and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.ERROR,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}
