/** config set | get | list | delete | status: named remote configs for any OpAMP agent. */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { Command } from 'commander';
import type { ApiConfig, ApiConfigStatus } from '../api-types.js';
import { CliError, EXIT } from '../exit-codes.js';
import { formatTable } from '../table.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.toml': 'application/toml',
};

const collect = (v: string, acc: string[]) => [...acc, v];

/** Builds the PUT body's files from `name=path` flags; unreadable files are errors naming them. */
export function readConfigFiles(fileArgs: string[], typeArgs: string[]): Record<string, { contentType: string; body: string }> {
  const types: Record<string, string> = {};
  for (const t of typeArgs) {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new CliError(`--content-type "${t}": expected name=type`, 1, 'INVALID_ARGUMENT');
    types[t.slice(0, eq)] = t.slice(eq + 1);
  }
  if (fileArgs.length === 0) throw new CliError('give at least one --file name=path', 1, 'INVALID_ARGUMENT');
  const files: Record<string, { contentType: string; body: string }> = {};
  for (const f of fileArgs) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new CliError(`--file "${f}": expected name=path, e.g. logging.json=./logging.json`, 1, 'INVALID_ARGUMENT');
    const name = f.slice(0, eq);
    const path = f.slice(eq + 1);
    let body: string;
    try {
      body = readFileSync(path, 'utf8');
    } catch (e) {
      throw new CliError(`cannot read ${path} for --file ${name}: ${(e as Error).message}`, 1, 'INVALID_ARGUMENT');
    }
    files[name] = { contentType: types[name] ?? CONTENT_TYPES[extname(name).toLowerCase()] ?? 'text/plain', body };
  }
  return files;
}

function statusTable(s: ApiConfigStatus): string {
  const summary = Object.entries(s.counts).map(([k, v]) => `${v} ${k}`).join(', ') || 'no matching agents';
  return (
    formatTable(
      ['AGENT', 'NAME', 'AGENT STATUS', 'CONFIG STATUS', 'ERROR'],
      s.agents.map((a) => [a.id.slice(-12), a.name, a.agentStatus, a.status, a.errorMessage]),
    ) + `\n${s.name} (hash ${s.hash.slice(0, 12)}): ${summary}\n`
  );
}

export function addConfigCommands(program: Command, io: CliIo): void {
  const config = program.command('config').description('Manage named remote configs offered to the agents a selector matches');

  withConnection(
    config
      .command('set')
      .description('Create or replace a named config')
      .argument('<name>', 'config name (letters, digits, ._-)')
      .requiredOption('-s, --selector <selector>', "which agents get it, e.g. 'env=prod' ('' for all)")
      .option('--file <name=path>', 'a file to offer, as name=path (repeatable)', collect, [])
      .option('--content-type <name=type>', 'override the content type inferred from the extension (repeatable)', collect, [])
      .addHelpText('after', '\nExample:\n  corral config set logging -s env=prod --file logging.json=./logging.json'),
  ).action(async (name: string, flags: ConnectionFlags & { selector: string; file: string[]; contentType: string[] }) => {
    const files = readConfigFiles(flags.file, flags.contentType);
    const res = await apiFor(flags, io).request<ApiConfig>('PUT', `/api/v1/configs/${encodeURIComponent(name)}`, { selector: flags.selector, files });
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(`config ${res.name} set for '${res.selector}' (hash ${res.hash.slice(0, 12)}); watch it with: corral config status ${res.name} --wait\n`);
  });

  withConnection(config.command('get').description('Show a named config').argument('<name>')).action(async (name: string, flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<ApiConfig>('GET', `/api/v1/configs/${encodeURIComponent(name)}`);
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(`name:     ${res.name}\nselector: ${res.selector}\nhash:     ${res.hash}\nupdated:  ${res.updatedAt}\n`);
    for (const [file, f] of Object.entries(res.files)) io.stdout.write(`--- ${file} (${f.contentType})\n${f.body}${f.body.endsWith('\n') ? '' : '\n'}`);
  });

  withConnection(config.command('list').description('List named configs')).action(async (flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<{ configs: ApiConfig[] }>('GET', '/api/v1/configs');
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(formatTable(['NAME', 'SELECTOR', 'FILES', 'HASH', 'UPDATED'], res.configs.map((c) => [c.name, c.selector, Object.keys(c.files).join(','), c.hash.slice(0, 12), c.updatedAt])));
  });

  withConnection(config.command('delete').description('Delete a named config').argument('<name>')).action(async (name: string, flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<{ deleted: string }>('DELETE', `/api/v1/configs/${encodeURIComponent(name)}`);
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(`deleted config ${res.deleted}\n`);
  });

  withConnection(
    config
      .command('status')
      .description('Per matching agent: PENDING, APPLYING, APPLIED or FAILED (with the agent\'s error)')
      .argument('<name>')
      .option('-w, --wait', 'wait until no agent is PENDING or APPLYING; exit 0 if all APPLIED, 2 if any FAILED or on timeout')
      .option('--timeout <seconds>', 'how long --wait waits', '60'),
  ).action(async (name: string, flags: ConnectionFlags & { wait?: boolean; timeout: string }) => {
    const api = apiFor(flags, io);
    const path = `/api/v1/configs/${encodeURIComponent(name)}/status`;
    const deadline = Date.now() + Number(flags.timeout) * 1000;
    let s = await api.request<ApiConfigStatus>('GET', path);
    while (flags.wait && (s.counts.PENDING || s.counts.APPLYING) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      s = await api.request<ApiConfigStatus>('GET', path);
    }
    if (flags.output === 'json') printJson(io, s);
    else io.stdout.write(statusTable(s));
    if (!flags.wait) return;
    if (s.counts.FAILED) throw new CliError(`${s.counts.FAILED} agent(s) FAILED to apply ${name}`, EXIT.WAIT_FAILED, 'CONFIG_FAILED');
    if (s.counts.PENDING || s.counts.APPLYING) throw new CliError(`timed out after ${flags.timeout}s with agents still pending`, EXIT.WAIT_FAILED, 'TIMEOUT');
  });
}
