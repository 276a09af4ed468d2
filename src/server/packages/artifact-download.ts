/**
 * `GET /api/v1/artifacts/{sha256}`: streams a package artifact from disk
 * (never read whole into memory), with single-range `Range` support so an
 * interrupted download resumes. The admin token downloads any artifact; an
 * agent's credential only the artifacts currently offered to that agent; an
 * enrollment token that could still enroll an agent only the artifacts of
 * `kind: agent` packages, for the one-line install (403 ARTIFACT_NOT_OFFERED
 * otherwise, whether or not the artifact exists).
 *
 * A download holds a slot of the `DownloadLimiter` from the moment its body
 * starts until the response is over: finished, failed, or cut by the client.
 * With every slot taken the answer is 503 + `Retry-After` (a few seconds,
 * jittered) and the usual JSON error body; agents wait and resume with Range.
 */
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { AgentRecord, Store } from '../store/index.js';
import { bearerToken, hashSecret } from '../auth/tokens.js';
import { authenticateApiToken } from '../auth/api-token.js';
import { ACCESS_RULES, ARTIFACT_ROUTE } from '../api/access-rules.js';
import { bindingsGranting } from '../api/scope.js';
import { ArtifactNotFoundError } from '../errors.js';
import type { PackageService } from './package-service.js';
import { downloadRetryAfterSeconds, type DownloadLimiter } from './download-limiter.js';
import { installToken, isAgentArtifact } from '../install/install-agent.js';

export const ARTIFACT_PATH = /^\/api\/v1\/artifacts\/([^/]+)$/;

function json(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { code, message } }));
}

/** Parses `bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX` for a file of `size`; null when unsatisfiable. */
export function parseRange(header: string, size: number): { start: number; end: number } | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : null;
}

/**
 * Who is downloading: a user allowed to (ACCESS_RULES: viewer; packages are
 * fleet-wide, so any binding will do), an agent (its record), an enrollment
 * token that could enroll an agent now (the one-line install), or nobody we know (null).
 */
async function downloader(store: Store, header: string | undefined): Promise<'user' | 'installer' | AgentRecord | null> {
  const token = bearerToken(header);
  if (!token) return null;
  const agent = await store.findAgentByCredentialHash(hashSecret(token));
  if (agent) return agent.status !== 'revoked' ? agent : null;
  const auth = await authenticateApiToken(store, header, Date.now());
  const rule = ACCESS_RULES[ARTIFACT_ROUTE]!;
  if (auth.ok && rule.role !== 'authenticated' && bindingsGranting(auth.actor, rule.role).length > 0) return 'user';
  return (await installToken(store, token, Date.now())) ? 'installer' : null;
}

export interface ArtifactDownloadDeps {
  store: Store;
  packages: PackageService;
  log: Logger;
  limiter: DownloadLimiter;
  /** Whether the artifact is offered to this agent now (its deployments' packages, its own package). */
  offeredTo: (agent: AgentRecord, sha256: string) => Promise<boolean>;
  /** Counts downloads refused because every slot was taken. */
  onRefused?: () => void;
  /** Jitter source for Retry-After. Default Math.random. */
  random?: () => number;
}

export async function serveArtifact(req: IncomingMessage, res: ServerResponse, sha256: string, deps: ArtifactDownloadDeps): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, 'METHOD_NOT_ALLOWED', 'artifacts are read with GET');
  const who = await downloader(deps.store, req.headers.authorization);
  if (!who) return json(res, 401, 'UNAUTHENTICATED', 'an API token of a user with a role, or an agent credential, is required');
  // Checked before the artifact is looked up, so the answer says nothing about which artifacts exist.
  if (who === 'installer') {
    if (!(await isAgentArtifact(deps.store, sha256))) {
      return json(res, 403, 'ARTIFACT_NOT_OFFERED', `artifact ${sha256} is not an agent package: an enrollment token downloads only kind: agent packages (for the one-line install)`);
    }
  } else if (who !== 'user' && !(await deps.offeredTo(who, sha256))) {
    return json(res, 403, 'ARTIFACT_NOT_OFFERED', `artifact ${sha256} is not offered to agent ${who.id}: an agent downloads only the packages offered to it`);
  }
  let artifact;
  try {
    artifact = await deps.packages.artifact(sha256);
  } catch (e) {
    if (e instanceof ArtifactNotFoundError) return json(res, 404, e.code, e.message);
    throw e;
  }
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/gzip',
    'Accept-Ranges': 'bytes',
    ETag: `"${sha256}"`,
    'Cache-Control': 'private, immutable',
  };
  let range = { start: 0, end: artifact.size - 1 };
  let status = 200;
  const rangeHeader = req.headers.range;
  const ifRange = req.headers['if-range'];
  if (rangeHeader && (!ifRange || ifRange === `"${sha256}"`)) {
    const parsed = parseRange(rangeHeader, artifact.size);
    if (!parsed) {
      res.writeHead(416, { 'Content-Range': `bytes */${artifact.size}` });
      return void res.end();
    }
    range = parsed;
    status = 206;
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${artifact.size}`;
  }
  headers['Content-Length'] = artifact.size === 0 ? 0 : range.end - range.start + 1;
  if (req.method === 'HEAD' || artifact.size === 0) {
    res.writeHead(status, headers);
    return void res.end();
  }
  // The client left while the artifact was looked up: 'close' has fired already and would never release a slot.
  if (res.destroyed) return;
  const release = deps.limiter.tryAcquire();
  if (!release) {
    deps.onRefused?.();
    const retryAfter = downloadRetryAfterSeconds(deps.random ?? Math.random);
    return json(res, 503, 'DOWNLOAD_LIMIT', `the server is at its download limit (${deps.limiter.opts.maxDownloads} at once); retry after ${retryAfter} s and resume with Range`, {
      'Retry-After': String(retryAfter),
    });
  }
  // 'close' follows both a finished response and a connection cut mid-body, so the slot is always given back.
  res.once('close', release);
  res.writeHead(status, headers);
  try {
    await pipeline(createReadStream(artifact.path, { start: range.start, end: range.end }), res);
  } catch (err) {
    // The client went away mid-download; it may resume with Range.
    deps.log.debug({ err, sha256 }, 'artifact download interrupted');
  }
}
