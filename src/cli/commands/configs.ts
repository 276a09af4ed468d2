/** config set | get | list | delete | status: named remote configs for any OpAMP agent. */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import type { ApiConfig, ApiConfigStatus } from '../api-types.js';
import { CliError, EXIT } from '../exit-codes.js';
import { formatTable } from '../table.js';
import { apiFor, intFlag, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.toml': 'application/toml',
};

/** The content type for a file's extension; text/plain when it has none we know. */
export function contentTypeFor(fileName: string): string {
  return CONTENT_TYPES[extname(fileName).toLowerCase()] ?? 'text/plain';
}

const collect = (v: string, acc: string[]) => [...acc, v];
const usage = (message: string) => new CliError(message, EXIT.ERROR, 'INVALID_ARGUMENT');

/**
 * Builds the PUT body's files from `--file name=path` (or a bare path, named
 * by its base name) and `--content-type name=type` flags. Files are read as
 * UTF-8; the content type comes from the name's extension, else the path's.
 * Unreadable files, duplicate names and overrides for unknown names are usage
 * errors naming the argument.
 */
export function readConfigFiles(
  fileArgs: string[],
  typeArgs: string[],
  secretArgs: string[] = [],
  keepSecrets: string[] = [],
): Record<string, { contentType: string; body: string; secret?: boolean }> {
  if (fileArgs.length === 0 && secretArgs.length === 0 && keepSecrets.length === 0) throw usage('give at least one --file name=path');
  const files: Record<string, { contentType: string; body: string; secret?: boolean }> = {};
  // "***" keeps the stored secret file of that name (the server refuses it when there is none).
  for (const name of keepSecrets) files[name] = { contentType: 'text/plain', body: '***', secret: true };
  for (const [flag, args] of [['--file', fileArgs], ['--secret-file', secretArgs]] as const) {
    for (const f of args) {
      const eq = f.indexOf('=');
      const [name, path] = eq < 0 ? [basename(f), f] : [f.slice(0, eq), f.slice(eq + 1)];
      if (!name || !path) throw usage(`${flag} "${f}": expected name=path, e.g. logging.json=./logging.json`);
      if (files[name]) throw usage(`${flag} "${f}": ${name} is given twice`);
      let body: string;
      try {
        body = readFileSync(path, 'utf8');
      } catch (e) {
        throw new CliError(`cannot read ${path} for ${flag} ${name}: ${(e as Error).message}`, EXIT.ERROR, 'INVALID_ARGUMENT', { cause: e });
      }
      files[name] = { contentType: extname(name) ? contentTypeFor(name) : contentTypeFor(path), body, ...(flag === '--secret-file' ? { secret: true } : {}) };
    }
  }
  for (const t of typeArgs) {
    const eq = t.indexOf('=');
    if (eq <= 0 || eq === t.length - 1) throw usage(`--content-type "${t}": expected name=type, e.g. agent.conf=application/yaml`);
    const file = files[t.slice(0, eq)];
    if (!file) throw usage(`--content-type "${t}": no --file named ${t.slice(0, eq)}`);
    file.contentType = t.slice(eq + 1);
  }
  return files;
}

const STATUS_ORDER = ['APPLIED', 'APPLYING', 'PENDING', 'FAILED', 'NONE'];

/** "3 agents: 2 APPLIED, 1 FAILED" (known statuses in a fixed order, then any others). */
export function statusSummary(counts: Record<string, number>): string {
  const keys = [...STATUS_ORDER.filter((k) => k in counts), ...Object.keys(counts).filter((k) => !STATUS_ORDER.includes(k)).sort()];
  const parts = keys.filter((k) => (counts[k] ?? 0) > 0).map((k) => `${counts[k]} ${k}`);
  const total = keys.reduce((n, k) => n + (counts[k] ?? 0), 0);
  return total === 0 ? 'no matching agents' : `${total} agent${total === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

function statusTable(s: ApiConfigStatus): string {
  return (
    formatTable(
      ['AGENT', 'NAME', 'AGENT STATUS', 'CONFIG STATUS', 'ERROR'],
      s.agents.map((a) => [a.id.slice(-12), a.name, a.agentStatus, a.status, a.errorMessage]),
    ) + `\n${s.name} (hash ${s.hash.slice(0, 12)}): ${statusSummary(s.counts)}\n`
  );
}

const unsettled = (s: ApiConfigStatus) => (s.counts.PENDING ?? 0) + (s.counts.APPLYING ?? 0);

export function addConfigCommands(program: Command, io: CliIo): void {
  const config = program
    .command('config')
    .description('Manage named remote configs offered to the agents a selector matches')
    .addHelpText('after', '\nExample:\n  corral config set logging -s env=prod --file logging.json=./logging.json\n  corral config status logging --wait');

  withConnection(
    config
      .command('set')
      .description('Create or replace a named config')
      .argument('<name>', 'config name (letters, digits, ._-)')
      .requiredOption('-s, --selector <selector>', "which agents get it, e.g. 'env=prod' (trusted labels), 'claim.host.arch=arm64' (what agents report); '' for all")
      .option('--file <name=path>', 'a file to offer, as name=path, or a path named by its base name (repeatable)', collect, [])
      .option('--secret-file <name=path>', 'like --file, for a secret: stored encrypted, shown only as *** and its sha256, delivered only to the agents the selector matches (repeatable)', collect, [])
      .option('--keep-secret-file <name>', 'keep this stored secret file as it is (content and content type) (repeatable)', collect, [])
      .option('--content-type <name=type>', 'override the content type of a --file (repeatable)', collect, [])
      .addHelpText(
        'after',
        `
Content types come from the extension: .json application/json, .yaml/.yml
application/yaml, .toml application/toml, anything else text/plain.

Examples:
  corral config set logging -s env=prod --file logging.json=./logging.json
  corral config set collector -s 'role in (web,api)' --file otel.yaml=./otel.yaml --file extra.conf=./extra.conf --content-type extra.conf=application/yaml
  corral config set tls -s env=prod --file tls.crt=./tls.crt --secret-file tls.key=./tls.key

A config set replaces the whole config: files not given are removed. Keep a stored secret file
without having its content at hand with --keep-secret-file NAME:
  corral config set tls -s env=prod --file tls.crt=./new.crt --keep-secret-file tls.key`,
      ),
  ).action(async (name: string, flags: ConnectionFlags & { selector: string; file: string[]; secretFile: string[]; keepSecretFile: string[]; contentType: string[] }) => {
    const files = readConfigFiles(flags.file, flags.contentType, flags.secretFile, flags.keepSecretFile);
    const res = await apiFor(flags, io).request<ApiConfig>('PUT', `/api/v1/configs/${encodeURIComponent(name)}`, { selector: flags.selector, files });
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(`config ${res.name} set for '${res.selector}' (hash ${res.hash.slice(0, 12)}); watch it with: corral config status ${res.name} --wait\n`);
  });

  withConnection(config.command('get').description('Show a named config and its files').argument('<name>').addHelpText('after', '\nExample:\n  corral config get logging -o json')).action(
    async (name: string, flags: ConnectionFlags) => {
      const res = await apiFor(flags, io).request<ApiConfig>('GET', `/api/v1/configs/${encodeURIComponent(name)}`);
      if (flags.output === 'json') return printJson(io, res);
      io.stdout.write(`name:     ${res.name}\nselector: ${res.selector}\nhash:     ${res.hash}\nupdated:  ${res.updatedAt}\n`);
      for (const [file, f] of Object.entries(res.files)) {
        if (f.secret) io.stdout.write(`--- ${file} (${f.contentType}, secret, sha256 ${f.sha256 ?? '?'})\n${f.body}\n`);
        else io.stdout.write(`--- ${file} (${f.contentType})\n${f.body}${f.body.endsWith('\n') ? '' : '\n'}`);
      }
    },
  );

  withConnection(config.command('list').description('List named configs').addHelpText('after', '\nExample:\n  corral config list')).action(async (flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<{ configs: ApiConfig[] }>('GET', '/api/v1/configs');
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(formatTable(['NAME', 'SELECTOR', 'FILES', 'HASH', 'UPDATED'], res.configs.map((c) => [c.name, c.selector, Object.keys(c.files).join(','), c.hash.slice(0, 12), c.updatedAt])));
  });

  withConnection(
    config.command('delete').description('Delete a named config; agents are offered what remains').argument('<name>').addHelpText('after', '\nExample:\n  corral config delete logging'),
  ).action(async (name: string, flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<{ deleted: string }>('DELETE', `/api/v1/configs/${encodeURIComponent(name)}`);
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(`deleted config ${res.deleted}\n`);
  });

  withConnection(
    config
      .command('status')
      .description("Per matching agent: PENDING, APPLYING, APPLIED or FAILED (with the agent's error)")
      .argument('<name>')
      .option('-w, --wait', 'poll until no agent is PENDING or APPLYING (or --timeout passes)')
      .option('--timeout <seconds>', 'how long --wait waits', '60')
      .addHelpText(
        'after',
        `
Exit codes with --wait:
  0  every matching agent APPLIED the config (or none matches)
  1  some agent FAILED to apply it (the table shows its error)
  2  --timeout passed with agents still PENDING or APPLYING (an offline agent stays PENDING)
Without --wait the exit code is 0 whatever the statuses.

Examples:
  corral config status logging
  corral config status logging --wait --timeout 120 && echo rolled out`,
      ),
  ).action(async (name: string, flags: ConnectionFlags & { wait?: boolean; timeout: string }) => {
    const timeoutS = intFlag('--timeout', flags.timeout, 0, 86_400);
    const api = apiFor(flags, io);
    const path = `/api/v1/configs/${encodeURIComponent(name)}/status`;
    const deadline = Date.now() + timeoutS * 1000;
    let s = await api.request<ApiConfigStatus>('GET', path);
    let lastProgress = '';
    while (flags.wait && unsettled(s) > 0 && Date.now() < deadline) {
      const progress = statusSummary(s.counts);
      if (progress !== lastProgress) io.stderr.write(`waiting for ${name}: ${(lastProgress = progress)}\n`);
      await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
      s = await api.request<ApiConfigStatus>('GET', path);
    }
    if (flags.output === 'json') printJson(io, s);
    else io.stdout.write(statusTable(s));
    if (!flags.wait) return;
    if (s.counts.FAILED) throw new CliError(`${s.counts.FAILED} agent(s) FAILED to apply ${name}`, EXIT.ERROR, 'CONFIG_FAILED');
    if (unsettled(s) > 0) throw new CliError(`timed out after ${timeoutS}s with ${unsettled(s)} agent(s) still PENDING or APPLYING`, EXIT.TIMEOUT, 'TIMEOUT');
  });
}
