/**
 * systemd unit-file syntax, shared by `corral agent install` and `corral
 * server install`: quoting an argv for `ExecStart=` (and parsing it back),
 * and reading `Key=` settings. Pure: no file system.
 *
 * systemd reads an `ExecStart=` line in three passes, so a literal argument
 * is escaped for all three (systemd.service(5), "Command lines"):
 *   1. specifiers: `%x` is expanded on the whole line first, `%%` is a `%`;
 *   2. splitting: whitespace separates words, a word may be wrapped in double
 *      quotes, and C escapes (`\\`, `\"`, `\n`, `\xNN`) are decoded;
 *   3. environment: at exec time `$NAME`/`${NAME}` are substituted, `$$` is a `$`.
 */

export class SystemdUnitError extends Error {
  readonly code = 'INVALID_UNIT';
}

/** Words systemd passes through unchanged: no whitespace, quotes, backslash, `%`, `$` or `;`. */
const BARE_WORD = /^[A-Za-z0-9_@+=:,./-]+$/;

/**
 * Quotes one argument for an `ExecStart=` line so that systemd passes exactly
 * `arg` to the process. Throws SystemdUnitError for a NUL byte (no argv can hold one).
 */
export function quoteSystemdArg(arg: string): string {
  if (arg.includes('\0')) throw new SystemdUnitError('an argument cannot contain a NUL byte');
  if (BARE_WORD.test(arg)) return arg;
  let out = '"';
  for (const ch of arg) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '%') out += '%%';
    else if (ch === '$') out += '$$';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Joins a whole argv (argv[0] an absolute executable path) for `ExecStart=`. */
export function renderExecStart(argv: readonly string[]): string {
  if (!argv[0]?.startsWith('/')) throw new SystemdUnitError(`ExecStart needs an absolute executable path, got "${argv[0] ?? ''}"`);
  return argv.map(quoteSystemdArg).join(' ');
}

/** A value for a plain (non-command) unit setting: absolute path or name, no characters systemd would reinterpret. */
export function plainValue(what: string, v: string): string {
  if (!/^[A-Za-z0-9_@+=:,./-]+$/.test(v)) throw new SystemdUnitError(`${what} "${v}" may only hold letters, digits and _@+=:,./-`);
  return v;
}

/** The value of the last `Key=` line of a unit or env file, or undefined. */
export function unitSetting(text: string, key: string): string | undefined {
  return unitSettings(text, key).at(-1);
}

/** The values of every `Key=` line, in order (for settings that may repeat, like `Environment=`). */
export function unitSettings(text: string, key: string): string[] {
  const values: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s?(.*)$/.exec(line);
    if (m && m[1] === key) values.push(m[2]!.trimEnd());
  }
  return values;
}

const C_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', s: ' ', '\\': '\\', '"': '"', "'": "'" };

/**
 * Splits an `ExecStart=` value into the argv systemd would exec: `%%`, quotes,
 * C escapes and `$$`. Throws SystemdUnitError for what it does not model
 * (other specifiers, `$VAR` substitution, `;` command separators, prefixes like `-`/`@`).
 */
export function parseExecStart(value: string): string[] {
  const line = value.replace(/%(.?)/g, (_m, c: string) => {
    if (c === '%') return '%';
    throw new SystemdUnitError(`specifier %${c} is not supported`);
  });
  const words: string[] = [];
  let i = 0;
  const escape = (): string => {
    const c = line[i + 1];
    if (c === undefined) throw new SystemdUnitError('trailing backslash');
    if (c === 'x') {
      const hex = line.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new SystemdUnitError(`bad escape \\x${hex}`);
      i += 4;
      return String.fromCharCode(parseInt(hex, 16));
    }
    const mapped = C_ESCAPES[c];
    if (mapped === undefined) throw new SystemdUnitError(`escape \\${c} is not supported`);
    i += 2;
    return mapped;
  };
  for (;;) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    let word = '';
    const quote = line[i] === '"' || line[i] === "'" ? line[i] : undefined;
    if (quote) {
      i++;
      while (line[i] !== quote) {
        if (i >= line.length) throw new SystemdUnitError('unterminated quote');
        if (line[i] === '\\') word += escape();
        else word += line[i++];
      }
      i++;
      if (i < line.length && !/\s/.test(line[i]!)) throw new SystemdUnitError('a closing quote must end the word');
    } else {
      if (line[i] === ';') throw new SystemdUnitError('";" command separators are not supported');
      while (i < line.length && !/\s/.test(line[i]!)) {
        if (line[i] === '\\') word += escape();
        else word += line[i++];
      }
    }
    words.push(
      word.replace(/\$(.?)/g, (_m, c: string) => {
        if (c === '$') return '$';
        throw new SystemdUnitError('environment substitution ($NAME) is not supported');
      }),
    );
  }
  if (!words[0]?.startsWith('/')) throw new SystemdUnitError(`ExecStart must start with an absolute path, got "${words[0] ?? ''}"`);
  return words;
}

/** The `--data-dir` a Corral unit's ExecStart passes (the last one wins, as for the CLI), if any. */
export function unitDataDir(unit: string): string | undefined {
  const argv = parseExecStart(unitSetting(unit, 'ExecStart') ?? '');
  const i = argv.lastIndexOf('--data-dir');
  return i >= 0 ? argv[i + 1] : undefined;
}
