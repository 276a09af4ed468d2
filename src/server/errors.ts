/**
 * Domain errors: each has a stable `code` that the REST layer maps to an
 * HTTP status in one place (`api/error-handler.ts`).
 */
export class CorralError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class AgentNotFoundError extends CorralError {
  constructor(readonly agentId: string) {
    super('AGENT_NOT_FOUND', `agent ${agentId} not found`);
  }
}

export class AgentRevokedError extends CorralError {
  constructor(readonly agentId: string) {
    super('AGENT_REVOKED', `agent ${agentId} is revoked`);
  }
}

/** Over a rate limit: retry after `retryAfterSeconds`. */
export class RateLimitedError extends CorralError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('RATE_LIMITED', message);
  }
}

/** The enrollment token a session was authenticated with has been revoked. */
export class TokenRevokedError extends CorralError {
  constructor(readonly tokenId: string) {
    super('TOKEN_REVOKED', `enrollment token ${tokenId} is revoked`);
  }
}

export class TokenNotFoundError extends CorralError {
  constructor(readonly tokenId: string) {
    super('TOKEN_NOT_FOUND', `token ${tokenId} not found`);
  }
}

/** A user has as many API tokens as a bound allows (`limit` names it: MAX_ACTIVE_TOKENS_PER_USER, ...). */
export class TokenLimitError extends CorralError {
  constructor(
    message: string,
    readonly limit: string,
  ) {
    super('TOKEN_LIMIT', message);
  }
}

export class ConfigNotFoundError extends CorralError {
  constructor(readonly configName: string) {
    super('CONFIG_NOT_FOUND', `config ${configName} not found`);
  }
}

export class ValidationError extends CorralError {
  constructor(message: string, readonly field?: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** A selector that does not parse: where, and what was expected there (the message says both). */
export class InvalidSelectorError extends CorralError {
  constructor(
    message: string,
    readonly selector: string,
    readonly position: number,
  ) {
    super('INVALID_SELECTOR', message);
  }

  /** Added to the error body, so a client can point at the spot. */
  get details(): Record<string, unknown> {
    return { selector: this.selector, position: this.position };
  }
}

export class StoreError extends CorralError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_ERROR', message, options);
  }
}

export class PackageConflictError extends CorralError {
  constructor(readonly pkg: string, readonly existingSha256: string) {
    super('PACKAGE_CONFLICT', `${pkg} was already published with different content (sha256 ${existingSha256}); publish a new version instead`);
  }
}

export class InvalidPackageError extends CorralError {
  constructor(message: string) {
    super('INVALID_PACKAGE', message);
  }
}

export class ArtifactNotFoundError extends CorralError {
  constructor(readonly sha256: string) {
    super('ARTIFACT_NOT_FOUND', `no artifact with sha256 ${sha256}`);
  }
}

export class DeploymentNotFoundError extends CorralError {
  constructor(readonly deployment: string) {
    super('DEPLOYMENT_NOT_FOUND', `deployment ${deployment} not found`);
  }
}

export class PackageNotFoundError extends CorralError {
  constructor(readonly pkg: string) {
    super('PACKAGE_NOT_FOUND', `package ${pkg} is not published; push it first (corral package push)`);
  }
}

export class AgentUnavailableError extends CorralError {
  constructor(readonly agentId: string, reason: string) {
    super('AGENT_UNAVAILABLE', `agent ${agentId} ${reason}`);
  }
}

/** Only a revoked agent's records may be deleted. */
export class AgentNotRevokedError extends CorralError {
  constructor(readonly agentId: string, name: string, status: string) {
    super('AGENT_NOT_REVOKED', `agent ${name || agentId} (${agentId}) is ${status}; only a revoked agent can be deleted: revoke it first (corral revoke ${agentId})`);
  }
}

export class AgentTimeoutError extends CorralError {
  constructor(readonly agentId: string, timeoutMs: number) {
    super('AGENT_TIMEOUT', `agent ${agentId} did not answer within ${timeoutMs} ms`);
  }
}

export class RevisionNotFoundError extends CorralError {
  constructor(
    readonly deployment: string,
    readonly revision: number,
    known: number[],
  ) {
    super('REVISION_NOT_FOUND', `deployment ${deployment} has no revision ${revision}${known.length > 0 ? ` (it has ${known.length <= 20 ? known.sort((a, b) => a - b).join(', ') : `1 to ${Math.max(...known)}`})` : ''}`);
  }
}

export class RolloutNotFoundError extends CorralError {
  constructor(readonly rollout: string) {
    super('ROLLOUT_NOT_FOUND', `rollout ${rollout} not found`);
  }
}

/** An operator action that does not apply to the rollout as it is now (e.g. resuming a finished one). */
export class RolloutStateError extends CorralError {
  constructor(message: string) {
    super('ROLLOUT_STATE', message);
  }
}

/**
 * An enrollment the server refuses: 401 when the token cannot be used at all
 * (expired), 403 when it is valid but may not enroll this agent (its agent
 * cap is reached). The message says which, for the agent's log.
 */
export class EnrollmentRefusedError extends CorralError {
  constructor(
    readonly status: 401 | 403,
    reason: string,
  ) {
    super('ENROLLMENT_REFUSED', reason);
  }
}

export class UserNotFoundError extends CorralError {
  constructor(readonly user: string) {
    super('USER_NOT_FOUND', `user ${user} not found`);
  }
}

export class UserExistsError extends CorralError {
  constructor(readonly user: string) {
    super('USER_EXISTS', `a user named ${user} already exists`);
  }
}

/** The change would leave no enabled user holding admin on the whole fleet. */
export class LastAdminError extends CorralError {
  constructor(readonly user: string, what: string) {
    super('LAST_ADMIN', `cannot ${what} ${user}: no other enabled user holds admin on the whole fleet (create one first)`);
  }
}

/** The caller's roles do not allow the request (HTTP 403); the message names the role needed and the caller's roles. */
export class ForbiddenError extends CorralError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}
