/**
 * The agent's side of Corral's custom messages: restart a service now, and
 * read or follow a service's output. Each handler validates its request (hostile until
 * proven otherwise) and returns the reply fields, or throws with the reason.
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  EXEC_CAPABILITY,
  SERVICES_CAPABILITY,
  LOGS_CAPABILITY,
  LogsCancelRequestSchema,
  LogsFollowRequestSchema,
  MAX_LOG_CHUNK_BYTES,
  RESTART_CAPABILITY,
  type LogsResult,
} from '../protocol/index.js';
import { runCommand } from './exec.js';
import { cleanEnvironment } from './environment.js';
import type { AgentPolicy } from './policy/agent-policy.js';
import { checkExec } from './policy/exec-policy.js';
import { LogFollows, type LogFollowsOptions } from './log-follows.js';
import type { ServicesManager } from './services/services-manager.js';

/**
 * Handles one request; `progress` streams chunks before the reply. Throws
 * with the reason to refuse. `signal` aborts when the server connection the
 * request came on closes (its reply would go nowhere).
 */
export type CustomHandler = (
  request: Record<string, unknown>,
  progress: (chunk: Record<string, unknown>) => void,
  signal: AbortSignal,
) => Promise<Record<string, unknown>>;

const SERVICE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function serviceName(request: Record<string, unknown>): string {
  const name = request.service;
  if (typeof name !== 'string' || !SERVICE.test(name)) throw new Error('"service" must be a deployment name');
  return name;
}

/** Reads a window of a log file: from `offset`, or the last `tailBytes`. */
export async function readLogWindow(file: string, offset: number | undefined, tailBytes: number): Promise<LogsResult> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return { data: '', nextOffset: 0 };
  }
  // A rotated (truncated) file starts over.
  let start = offset === undefined ? Math.max(0, size - tailBytes) : offset > size ? 0 : offset;
  const length = Math.min(size - start, MAX_LOG_CHUNK_BYTES);
  if (length <= 0) return { data: '', nextOffset: size };
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, start);
    start += bytesRead;
    return { data: buf.subarray(0, bytesRead).toString('utf8'), nextOffset: start };
  } finally {
    await fh.close();
  }
}

function parse<T>(schema: z.ZodType<T>, request: Record<string, unknown>): T {
  const r = schema.safeParse(request);
  if (!r.success) throw new Error(`invalid request: ${r.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

export function customHandlers(
  services: ServicesManager,
  dataDir: string,
  opts: { noExec: boolean; policy: AgentPolicy; log: Logger; follows?: LogFollowsOptions },
): Record<string, CustomHandler> {
  const logDir = (name: string) => join(dataDir, 'services', name, 'logs');
  const follows = new LogFollows({ log: opts.log, logDir, has: (name) => services.has(name) }, opts.follows);
  // Running exec commands by request id, so the server can cancel one ({ id, cancel: <request id> }).
  const execs = new Map<string, AbortController>();
  return {
    [SERVICES_CAPABILITY]: async () => ({ services: services.details().map((s) => ({ ...s, logFollowers: follows.count(s.name) })) }),
    [EXEC_CAPABILITY]: async (request, progress) => {
      // Cancelling runs nothing, so it needs no policy check.
      if (typeof request.cancel === 'string') {
        const running = execs.get(request.cancel);
        running?.abort();
        return { cancelled: running !== undefined };
      }
      const command = request.command;
      if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === 'string')) throw new Error('"command" must be a non-empty list of strings');
      const timeoutMs = typeof request.timeoutMs === 'number' && request.timeoutMs > 0 ? Math.min(request.timeoutMs, 24 * 3600_000) : 60_000;
      // The local policy decides, whatever the server asked for.
      const argv = checkExec(opts.policy, command as string[], timeoutMs, { noExecFlag: opts.noExec });
      let where = { cwd: dataDir, env: cleanEnvironment({ path: opts.policy.path }) };
      if (request.service !== undefined) where = services.environmentOf(serviceName(request));
      const cancel = new AbortController();
      const id = typeof request.id === 'string' ? request.id : '';
      execs.set(id, cancel);
      try {
        return { ...(await runCommand(argv, { ...where, timeoutMs, cancel: cancel.signal }, progress)) };
      } finally {
        execs.delete(id);
      }
    },
    [RESTART_CAPABILITY]: async (request) => {
      await services.restart(serviceName(request));
      return {};
    },
    [LOGS_CAPABILITY]: async (request, progress, signal) => {
      if ('cancel' in request) return { cancelled: follows.cancel(parse(LogsCancelRequestSchema, request).cancel) };
      if ('follow' in request) return { reason: await follows.follow(parse(LogsFollowRequestSchema, request), progress, signal) };
      const name = serviceName(request);
      const stream = request.stream === 'stderr' ? 'stderr' : 'stdout';
      const offset = typeof request.offset === 'number' && request.offset >= 0 ? Math.floor(request.offset) : undefined;
      const tail = typeof request.tailBytes === 'number' ? Math.min(Math.max(0, Math.floor(request.tailBytes)), MAX_LOG_CHUNK_BYTES) : 64 * 1024;
      if (!services.has(name)) throw new Error(`no service ${name} on this agent`);
      return { ...(await readLogWindow(join(logDir(name), `${stream}.log`), offset, tail)) };
    },
  };
}
