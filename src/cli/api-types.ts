/**
 * Shapes of the REST API's JSON, copied from the server's schemas (the CLI
 * talks to the server only over HTTP; see /api/v1/openapi.json).
 */
export interface ApiAgent {
  id: string;
  name: string;
  kind: 'corral' | 'opamp';
  status: 'online' | 'offline' | 'revoked';
  /** Trusted labels (token-bound, overridden by operator labels): what plain selector terms match. */
  labels: Record<string, string>;
  operatorLabels: Record<string, string>;
  /** Absent from older servers. */
  boundLabels?: Record<string, string>;
  /** What the agent reports about itself as labels (claims; matched by claim.<key>). */
  claimedLabels?: Record<string, string>;
  approval?: 'approved' | 'pending';
  enrollmentTokenId?: string | null;
  identifyingAttributes: Record<string, string>;
  nonIdentifyingAttributes: Record<string, string>;
  os: string;
  arch: string;
  agentVersion: string;
  firstSeenAt: string;
  lastSeenAt: string;
  health: { healthy: boolean; status: string; lastError: string } | null;
  config: { desiredHash: string | null; reportedHash: string | null; status: string; errorMessage: string };
  /** The agent's own package (upgrades); absent from older servers, null before any upgrade offer. */
  agentPackage?: { version: string; offeredVersion: string; status: string; error: string; downloadPercent: number | null } | null;
}

export interface ApiHealthTree {
  healthy: boolean;
  startTimeMs: number;
  lastError: string;
  status: string;
  statusTimeMs: number;
  /** Sub-component health by name, each shaped like this object. */
  components: Record<string, ApiHealthTree>;
}

export interface ApiAgentDetail extends ApiAgent {
  capabilities: number;
  healthTree: ApiHealthTree | null;
  effectiveConfig: { files: Record<string, { contentType: string; body: string }> } | null;
  packageStatuses: Record<string, unknown>[] | null;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
  /** Scope (absent from older servers). */
  labels?: Record<string, string>;
  expiresAt?: string | null;
  maxAgents?: number | null;
  enrolledAgents?: number;
  requireApproval?: boolean;
  token?: string;
}

export interface ApiConfig {
  name: string;
  selector: string;
  /** A secret file's body is "***", with the sha256 of its content. */
  files: Record<string, { contentType: string; body: string; secret?: boolean; sha256?: string }>;
  hash: string;
  createdAt: string;
  updatedAt: string;
}

export interface ApiConfigStatus {
  name: string;
  hash: string;
  counts: Record<string, number>;
  agents: { id: string; name: string; agentStatus: string; desiredHash: string | null; status: string; errorMessage: string }[];
}

export interface ApiEvent {
  id: number;
  at: string;
  type: string;
  agentId: string | null;
  data: Record<string, unknown>;
}

export interface ApiRoleBinding {
  role: 'viewer' | 'operator' | 'admin';
  /** '' = the whole fleet. */
  selector: string;
}

export interface ApiUser {
  id: string;
  name: string;
  createdAt: string;
  disabledAt: string | null;
  builtin: boolean;
  roles: ApiRoleBinding[];
}

export interface ApiUserToken {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /** The token this one was created with (by its user); revoking that one revokes this one. null: created by an admin. */
  parentId: string | null;
  /** The token's own role bindings (it acts with those within its user's roles); null or absent (older servers): all of its user's roles. */
  roles?: ApiRoleBinding[] | null;
  /** Only in the answer that created it. */
  token?: string;
  /** Only in the answer that revoked it: the tokens created with it that were revoked too. */
  alsoRevoked?: string[];
}

export interface ApiWhoami {
  id: string;
  name: string;
  /** What requests with this token may do now (for a narrowed token, its roles within the user's). */
  roles: ApiRoleBinding[];
  /** The token's own role bindings; null or absent (older servers): it acts with all of the user's roles. */
  tokenRoles?: ApiRoleBinding[] | null;
  tokenId: string;
}
