/**
 * How a failed command reports itself on stderr: `error: <message> (<code>)`,
 * or with `-o json` one line of JSON, `{"error":{"code","message"}}`, the
 * shape the API's errors have, so a script reading JSON gets JSON either way.
 */
import { CommanderError } from 'commander';
import { CliError, EXIT } from './exit-codes.js';

/** Whether argv asks for JSON output (`-o json`, `-ojson`, `--output json`, `--output=json`), before `--`. */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const args = end >= 0 ? argv.slice(0, end) : argv;
  return args.some((a, i) => a === '-ojson' || a === '--output=json' || ((a === '-o' || a === '--output') && args[i + 1] === 'json'));
}

/** The JSON error line: `{"error":{"code":"...","message":"..."}}` and a newline. */
export function jsonErrorLine(code: string, message: string): string {
  return `${JSON.stringify({ error: { code, message } })}\n`;
}

/** Commander's own error text ("error: unknown option '--x'\n") as a JSON error line (code INVALID_ARGUMENT). */
export function commanderErrorAsJson(text: string): string {
  return jsonErrorLine('INVALID_ARGUMENT', text.trim().replace(/^error: /, ''));
}

/**
 * Writes `err` to `stderr` and returns the exit code for it. Commander's own
 * errors (usage, --help, --version) are already printed by commander, so
 * only their exit code is returned.
 */
export function writeError(err: unknown, stderr: { write(s: string): unknown }, json: boolean): number {
  if (err instanceof CommanderError) return err.exitCode;
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown }).code;
  const codeText = typeof code === 'string' ? code : undefined;
  if (json) stderr.write(jsonErrorLine(codeText ?? 'ERROR', message));
  else stderr.write(`error: ${message}${codeText ? ` (${codeText})` : ''}\n`);
  return err instanceof CliError ? err.exitCode : EXIT.ERROR;
}
