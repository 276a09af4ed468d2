/**
 * The scope of an enrollment token: the labels it binds to the agents that
 * enroll with it, when it expires, how many agents it may enroll, and
 * whether they wait for an operator's approval. Compiled once from what an
 * operator asks for (`compileTokenScope`), checked at every enrollment
 * (`enrollmentRefusal` here; the agent cap atomically in the store).
 */
import type { EnrollmentOutcome, Store, TokenRecord } from '../store/index.js';
import { EnrollmentRefusedError, ValidationError } from '../errors.js';
import { labelKeyProblem, labelValueProblem, MAX_TOKEN_LABELS } from './label-rules.js';

export interface TokenScopeInput {
  labels?: Record<string, string> | undefined;
  /** ISO 8601 date-time. */
  expiresAt?: string | undefined;
  /** A duration from now: `90s`, `30m`, `24h`, `7d`. */
  expiresIn?: string | undefined;
  maxAgents?: number | undefined;
  requireApproval?: boolean | undefined;
}

export type TokenScope = Pick<TokenRecord, 'labels' | 'expiresAt' | 'maxAgents' | 'requireApproval'>;

/** The longest an expiry may be from now (ten years); a longer one is a typo. */
const MAX_EXPIRY_MS = 10 * 365 * 24 * 3600_000;
export const MAX_AGENTS_PER_TOKEN = 1_000_000;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 24 * 3600_000 };

/** `24h` → milliseconds; null when it is not a duration. */
export function parseDurationMs(text: string): number | null {
  const m = /^(\d{1,9})([smhd])$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : null;
}

/** Validates and converts; throws ValidationError naming the field. */
export function compileTokenScope(input: TokenScopeInput, now: number): TokenScope {
  const labels = input.labels ?? {};
  const keys = Object.keys(labels);
  if (keys.length > MAX_TOKEN_LABELS) throw new ValidationError(`labels: at most ${MAX_TOKEN_LABELS} labels per token, got ${keys.length}`, 'labels');
  for (const k of keys) {
    const problem = labelKeyProblem(k) ?? labelValueProblem(k, labels[k]!);
    if (problem) throw new ValidationError(`labels: ${problem}`, 'labels');
  }
  if (input.expiresAt !== undefined && input.expiresIn !== undefined) throw new ValidationError('give expiresAt or expiresIn, not both', 'expiresAt');
  let expiresAt: number | null = null;
  if (input.expiresIn !== undefined) {
    const ms = parseDurationMs(input.expiresIn);
    if (ms === null || ms <= 0) throw new ValidationError(`expiresIn: "${input.expiresIn}" is not a duration such as 90s, 30m, 24h or 7d`, 'expiresIn');
    expiresAt = now + ms;
  } else if (input.expiresAt !== undefined) {
    expiresAt = Date.parse(input.expiresAt);
    if (!Number.isFinite(expiresAt) || !/^\d{4}-\d{2}-\d{2}/.test(input.expiresAt)) throw new ValidationError(`expiresAt: "${input.expiresAt}" is not an ISO 8601 date-time`, 'expiresAt');
    if (expiresAt <= now) throw new ValidationError(`expiresAt: ${input.expiresAt} is in the past`, 'expiresAt');
  }
  if (expiresAt !== null && expiresAt - now > MAX_EXPIRY_MS) throw new ValidationError('expiry: at most ten years from now', 'expiresAt');
  const maxAgents = input.maxAgents ?? null;
  if (maxAgents !== null && (!Number.isInteger(maxAgents) || maxAgents < 1 || maxAgents > MAX_AGENTS_PER_TOKEN)) {
    throw new ValidationError(`maxAgents: must be a whole number from 1 to ${MAX_AGENTS_PER_TOKEN}, got ${maxAgents}`, 'maxAgents');
  }
  return { labels: { ...labels }, expiresAt, maxAgents, requireApproval: input.requireApproval ?? false };
}

/** Why the token cannot be used to enroll (or to talk as an enrolling agent) at `now`, or null. */
export function enrollmentRefusal(token: Pick<TokenRecord, 'id' | 'name' | 'expiresAt'>, now: number): EnrollmentRefusedError | null {
  if (token.expiresAt !== null && token.expiresAt <= now) {
    return new EnrollmentRefusedError(401, `enrollment token ${token.name} (${token.id}) expired at ${new Date(token.expiresAt).toISOString()}`);
  }
  return null;
}

/** The refusal for a store enrollment outcome, or null when the agent may go on. */
export function refusalFor(outcome: EnrollmentOutcome, token: { id: string; name?: string; maxAgents?: number | null }): EnrollmentRefusedError | null {
  const name = `enrollment token ${token.name ? `${token.name} (${token.id})` : token.id}`;
  switch (outcome) {
    case 'enrolled':
    case 'exists':
      return null;
    case 'token-exhausted':
      return new EnrollmentRefusedError(403, `${name} has enrolled its maximum of ${token.maxAgents ?? '?'} agents`);
    case 'token-expired':
      return new EnrollmentRefusedError(401, `${name} has expired`);
    case 'token-revoked':
      return new EnrollmentRefusedError(401, `${name} is revoked`);
  }
}

/**
 * Admits an agent that is new to the store and talks with an enrollment
 * token: creates it with the token's labels bound, counted against the
 * token's cap. Throws EnrollmentRefusedError when the token cannot enroll it.
 */
export async function admitNewAgent(
  store: Pick<Store, 'enrollAgent'>,
  principal: { tokenId: string; tokenName?: string | undefined; maxAgents?: number | null | undefined },
  agentId: string,
  now: number,
  requireApproval: boolean,
): Promise<void> {
  const outcome = await store.enrollAgent({ id: agentId, tokenId: principal.tokenId, at: now, requireApproval });
  const refusal = refusalFor(outcome, { id: principal.tokenId, ...(principal.tokenName ? { name: principal.tokenName } : {}), maxAgents: principal.maxAgents ?? null });
  if (refusal) throw refusal;
}
