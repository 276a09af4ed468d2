/** Exit codes a script can rely on. */
export const EXIT = {
  OK: 0,
  /** The request or the command line was wrong (4xx other than 401), or the server failed. */
  ERROR: 1,
  /** A --wait ended badly: something FAILED, or the timeout passed. */
  WAIT_FAILED: 2,
  /** The server could not be reached. */
  UNREACHABLE: 3,
  /** The token was missing or refused (401). */
  AUTH: 4,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  request or usage error (the message says what was wrong)
  2  a --wait ended with a failure or timed out
  3  server unreachable (check --server / CORRAL_SERVER)
  4  authentication failed (check --token / CORRAL_TOKEN, or run corral login)`;

/** An error the CLI prints as `error: <message> (<code>)` and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.ERROR,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
