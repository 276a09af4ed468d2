/** audit [-f], audit export, audit verify: the audit log of every write, with its hash chain. */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { readSse } from '../sse.js';
import { formatTable } from '../table.js';
import { apiFor, intFlag, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';

/** GET /api/v1/audit's records (see the server's AuditRecord schema). */
export interface ApiAuditRecord {
  id: number;
  at: string;
  actor: { name: string; userId: string; tokenId: string };
  source: string;
  action: string;
  summary: Record<string, unknown>;
  target: Record<string, unknown>;
  outcome: { status: number; result: 'ok' | 'denied' | 'error'; message: string };
  prevHash: string;
  hash: string;
}

interface ApiAuditVerify {
  ok: boolean;
  records: number;
  firstId: number | null;
  head: { id: number; hash: string } | null;
  failure: { id: number; reason: string } | null;
}

interface FilterFlags {
  user?: string;
  since?: string;
  until?: string;
  action?: string;
  outcome?: string;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 24 * 3600_000 };

/** `1h` (that long ago) or an ISO 8601 date-time → ISO; anything else is a usage error naming the flag. */
export function timeFlag(flag: string, value: string, now = Date.now()): string {
  const rel = /^(\d{1,9})([smhd])$/.exec(value.trim());
  if (rel) return new Date(now - Number(rel[1]) * UNIT_MS[rel[2]!]!).toISOString();
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || !Number.isFinite(ms)) {
    throw new CliError(`${flag} must be a duration ago (90s, 30m, 1h, 7d) or an ISO 8601 date-time, got "${value}"`, EXIT.ERROR, 'INVALID_ARGUMENT');
  }
  return new Date(ms).toISOString();
}

function filterQuery(flags: FilterFlags, extra: Record<string, string>): URLSearchParams {
  const q = new URLSearchParams(extra);
  if (flags.user) q.set('user', flags.user);
  if (flags.since) q.set('since', timeFlag('--since', flags.since));
  if (flags.until) q.set('until', timeFlag('--until', flags.until));
  if (flags.action) q.set('action', flags.action);
  if (flags.outcome) q.set('outcome', flags.outcome);
  return q;
}

function targetText(t: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(t)) {
    if (k === 'agentIds') continue;
    if (k === 'agentCount') parts.push(`agents=${String(v)}`);
    else parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.join(' ');
}

function rows(records: ApiAuditRecord[]): string[][] {
  return records.map((r) => [
    String(r.id),
    r.at,
    r.actor.name,
    r.action,
    targetText(r.target).slice(0, 80),
    `${r.outcome.result} ${r.outcome.status}${r.outcome.message ? `: ${r.outcome.message.slice(0, 60)}` : ''}`,
  ]);
}

const HEADERS = ['ID', 'TIME', 'USER', 'ACTION', 'TARGET', 'OUTCOME'];
const FOLLOW_HELP = 'keep printing new records as they are made (Ctrl-C stops)';

function addFilters(cmd: Command): Command {
  return cmd
    .option('--user <name>', 'only what this user did (corral for what the server did itself)')
    .option('--since <when>', 'only records from then on: a duration ago (30m, 1h, 7d) or an ISO 8601 date-time')
    .option('--until <when>', 'only records before then (same forms as --since)')
    .option('--action <action>', "only this action, e.g. 'POST /api/v1/jobs'")
    .option('--outcome <outcome>', 'only records with this outcome: ok, denied or error');
}

export function addAuditCommands(program: Command, io: CliIo): void {
  const audit = withConnection(
    addFilters(
      program
        .command('audit')
        .description('Show the audit log, oldest first: every write through the API with who, from where, what, the target and the outcome')
        .option('--limit <n>', 'how many records (1-1000): the newest, or the first ones from --since', '50')
        .option('-f, --follow', FOLLOW_HELP),
    ).addHelpText(
      'after',
      `
With -o json, prints the API's { "records": [...] }; with --follow, one record
object per line instead (JSON Lines). Admin only.

Examples:
  corral audit --since 1h
  corral audit --user alice --action 'POST /api/v1/jobs' -o json
  corral audit -f
  corral audit export --since 2026-01-01T00:00:00Z --file audit.jsonl
  corral audit verify`,
    ),
  ).action(async (flags: ConnectionFlags & FilterFlags & { limit: string; follow?: boolean }) => {
    const limit = intFlag('--limit', flags.limit, 1, 1000);
    const api = apiFor(flags, io);
    const first = await api.request<{ records: ApiAuditRecord[] }>('GET', `/api/v1/audit?${filterQuery(flags, { limit: String(limit) }).toString()}`);
    if (flags.output === 'json' && !flags.follow) return printJson(io, first);
    if (flags.output === 'json') for (const r of first.records) io.stdout.write(`${JSON.stringify(r)}\n`);
    else io.stdout.write(formatTable(HEADERS, rows(first.records)));
    if (!flags.follow) return;
    const after = first.records.at(-1)?.id;
    const q = filterQuery({ ...flags, since: undefined }, after !== undefined ? { after: String(after) } : {});
    const body = await api.events(`/api/v1/audit/follow?${q.toString()}`);
    for await (const e of readSse(body)) {
      if (e.event !== 'record') continue;
      const r = JSON.parse(e.data) as ApiAuditRecord;
      io.stdout.write(flags.output === 'json' ? `${e.data}\n` : `${rows([r])[0]!.join('  ')}\n`);
    }
    throw new CliError('lost the connection to the server while following the audit log', EXIT.UNREACHABLE);
  });
  // `corral audit export --user U` / `verify -o json`: options after a subcommand belong to it, not to `audit`.
  audit.enablePositionalOptions();

  withConnection(
    addFilters(
      audit
        .command('export')
        .description('Write audit records as JSON Lines (one record per line, oldest first), all of them or those the filters pick')
        .option('--file <path>', 'write to this file (created with mode 0600) instead of stdout'),
    ).addHelpText('after', '\nExamples:\n  corral audit export > audit.jsonl\n  corral audit export --since 30d --file audit-last-month.jsonl'),
    ['json'],
  ).action(async (flags: ConnectionFlags & FilterFlags & { file?: string }) => {
    const api = apiFor(flags, io);
    let file: WriteStream | null = null;
    if (flags.file) {
      file = createWriteStream(flags.file, { mode: 0o600, flags: 'w' });
      await new Promise<void>((resolve, reject) => file!.once('open', () => resolve()).once('error', reject));
    }
    const write = (s: string) => (file ? new Promise<void>((resolve, reject) => file!.write(s, (err) => (err ? reject(err) : resolve()))) : io.stdout.write(s));
    let after = 0;
    let count = 0;
    try {
      for (;;) {
        const page = await api.request<{ records: ApiAuditRecord[] }>('GET', `/api/v1/audit?${filterQuery(flags, { after: String(after), limit: '1000' }).toString()}`);
        for (const r of page.records) await write(`${JSON.stringify(r)}\n`);
        count += page.records.length;
        if (page.records.length < 1000) break;
        after = page.records.at(-1)!.id;
      }
    } finally {
      if (file) await new Promise<void>((resolve) => file!.end(() => resolve()));
    }
    if (flags.file) io.stderr.write(`wrote ${count} records to ${flags.file}\n`);
  });

  withConnection(
    audit
      .command('verify')
      .description("Walk the audit log's hash chain on the server: exit 0 when intact, else 1 naming the first record that fails and why")
      .option('--expect-head <hash>', 'a head hash printed by an earlier verify: it must still be in the chain (catches a chain rewritten or cut short)')
      .addHelpText(
        'after',
        `
Note the head hash it prints somewhere the database's writers cannot reach
(a ticket, a log shipped elsewhere), and pass it to a later verify with
--expect-head: only then is a chain rewritten from scratch detectable.

Examples:
  corral audit verify
  corral audit verify --expect-head 3f1c...e9`,
      ),
  ).action(async (flags: ConnectionFlags & { expectHead?: string }) => {
    const api = apiFor(flags, io);
    if (flags.expectHead !== undefined && !/^[0-9a-f]{64}$/.test(flags.expectHead)) {
      throw new CliError(`--expect-head must be a sha256 hex hash (64 characters 0-9a-f), got "${flags.expectHead}"`, EXIT.ERROR, 'INVALID_ARGUMENT');
    }
    const q = flags.expectHead ? `?expectHead=${flags.expectHead}` : '';
    const v = await api.request<ApiAuditVerify>('GET', `/api/v1/audit/verify${q}`);
    if (flags.output === 'json') printJson(io, v);
    else if (v.ok) {
      io.stdout.write(`audit log intact: ${v.records} records${v.firstId !== null && v.firstId > 1 ? ` (from record ${v.firstId}; older ones pruned)` : ''}\n`);
      if (v.head) io.stdout.write(`head: record ${v.head.id} hash ${v.head.hash}\n`);
    }
    if (!v.ok) throw new CliError(`audit log verification failed at record ${v.failure!.id}: ${v.failure!.reason}`, EXIT.ERROR, 'AUDIT_CHAIN_BROKEN');
  });
}
