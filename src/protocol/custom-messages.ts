import { z } from 'zod';

/**
 * Corral's imperative traffic over OpAMP custom messages. Each capability
 * is a reverse-DNS name with a version; agents list the ones they handle in
 * `custom_capabilities`. Requests and replies carry JSON with a request id:
 *
 *   server → agent  { capability, type: 'request', data: {"id": "...", ...args} }
 *   agent → server  { capability, type: 'reply',   data: {"id": "...", "ok": true, ...result} | {"id", "ok": false, "error"} }
 */
export const RESTART_CAPABILITY = 'io.corral.restart/v1';
export const LOGS_CAPABILITY = 'io.corral.logs/v1';

export const EXEC_CAPABILITY = 'io.corral.exec/v1';
/** Query: the agent's services in detail (state, pid, uptime, restarts, last exit, version, CPU, RSS). */
export const SERVICES_CAPABILITY = 'io.corral.services/v1';

export interface ServiceDetail {
  name: string;
  version: string;
  state: string;
  healthy: boolean;
  pid: number | null;
  uptimeSeconds: number | null;
  restarts: number;
  /** `reason`: why, where the agent knows more than the code and signal ("killed: out of memory (limit 256 MiB)"). */
  lastExit: { code: number | null; signal: string | null; at: number; reason?: string } | null;
  /** sha256 (hex, 12 chars) of the config values the service runs with. */
  configHash: string;
  cpuPercent: number | null;
  rssBytes: number | null;
  /** Live `logs -f` followers of this service on the agent (absent from agents that cannot follow). */
  logFollowers?: number;
}

/** Agent → server, unsolicited, every few seconds: resource samples (type `samples`, data: ResourceSample). */
export const SAMPLES_CAPABILITY = 'io.corral.samples/v1';
export const SAMPLES_TYPE = 'samples';

export interface ResourceSample {
  /** ms since the epoch, agent clock. */
  at: number;
  host: { cpuPercent: number | null; memUsedBytes: number; memTotalBytes: number; diskUsedBytes: number | null; diskTotalBytes: number | null };
  services: { name: string; cpuPercent: number | null; rssBytes: number | null; fds: number | null }[];
}

export const REQUEST_TYPE = 'request';
export const REPLY_TYPE = 'reply';
/** Zero or more, before the reply: streamed output of a long request ({ id, ...chunk }). */
export const PROGRESS_TYPE = 'progress';

/** Most output an exec keeps per host; beyond it output is dropped and the result says truncated. */
export const MAX_EXEC_OUTPUT_BYTES = 1024 * 1024;

export interface ExecRequest {
  id: string;
  /** argv; run without a shell. */
  command: string[];
  /** Run in this deployment's directory and environment instead of the agent's. */
  service?: string;
  timeoutMs: number;
}

export interface ExecProgress {
  id: string;
  stream: 'stdout' | 'stderr';
  data: string;
}

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
}

/** Largest log chunk one reply carries. */
export const MAX_LOG_CHUNK_BYTES = 256 * 1024;

export interface RestartRequest {
  id: string;
  service: string;
}

export interface LogsRequest {
  id: string;
  service: string;
  stream: 'stdout' | 'stderr';
  /** Read from this byte offset; omitted: the last `tailBytes` of the file. */
  offset?: number;
  tailBytes?: number;
}

export interface LogsResult {
  data: string;
  /** Where the next read continues (the file size after this read). */
  nextOffset: number;
}

/*
 * Following a service's output (`corral logs -f`), on LOGS_CAPABILITY:
 *
 *   server → agent  request  { id, service, follow: true, offsets?: { stdout?, stderr? } }
 *   agent → server  progress { id, started: true }                 once the follow is set up
 *   agent → server  progress { id, chunks: [{ stream, data }] }    new output, batched
 *   server → agent  request  { id: other, cancel: id }             stop following (replied at once)
 *   agent → server  reply    { id, ok: true, reason }              the follow ended
 *
 * `data` holds whole lines where it can (a long or stale partial line is sent
 * as it is). The agent ends a follow by itself when cancelled, when its
 * connection to the server drops, after MAX_LOG_FOLLOW_MS, or when the
 * service is removed.
 */

/** Most characters of output one follow chunk carries. */
export const MAX_LOG_FOLLOW_CHUNK_CHARS = 64 * 1024;
/** Most chunks in one follow progress message. */
export const MAX_LOG_FOLLOW_CHUNKS = 8;
/** A follow ends by itself after this long; the client may start another. */
export const MAX_LOG_FOLLOW_MS = 3600_000;

const Offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const LogsFollowRequestSchema = z
  .object({
    id: z.string().min(1).max(64),
    service: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/),
    follow: z.literal(true),
    /** Where to start in each file; omitted: at its end (only what is written from now on). */
    offsets: z.object({ stdout: Offset.optional(), stderr: Offset.optional() }).strict().optional(),
  })
  .strict();
export type LogsFollowRequest = z.infer<typeof LogsFollowRequestSchema>;

export const LogsCancelRequestSchema = z.object({ id: z.string().min(1).max(64), cancel: z.string().min(1).max(64) }).strict();
export type LogsCancelRequest = z.infer<typeof LogsCancelRequestSchema>;

export const LogChunkSchema = z.object({ stream: z.enum(['stdout', 'stderr']), data: z.string().max(MAX_LOG_FOLLOW_CHUNK_CHARS) }).strict();
export type LogChunk = z.infer<typeof LogChunkSchema>;

/** Agent → server while following; validated by the server (the agent is not trusted). */
export const LogsFollowProgressSchema = z.union([
  z.object({ id: z.string(), started: z.literal(true) }).strict(),
  z.object({ id: z.string(), chunks: z.array(LogChunkSchema).min(1).max(MAX_LOG_FOLLOW_CHUNKS) }).strict(),
]);
export type LogsFollowProgress = z.infer<typeof LogsFollowProgressSchema>;

export const LOG_FOLLOW_END_REASONS = ['cancelled', 'max-time', 'service-removed', 'disconnected', 'agent-stopping'] as const;
export type LogFollowEndReason = (typeof LOG_FOLLOW_END_REASONS)[number];

export type Reply<T> = ({ ok: true } & T & { id: string }) | { id: string; ok: false; error: string };

export function encodeJson(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Parses a JSON object payload; throws for anything else. */
export function decodeJsonObject(data: Uint8Array): Record<string, unknown> {
  const v: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('custom message data must be a JSON object');
  return v as Record<string, unknown>;
}
