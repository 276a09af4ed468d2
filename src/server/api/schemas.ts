/**
 * REST wire shapes (zod, with OpenAPI metadata). These are the API's
 * contract: the CLI and the console read exactly these fields.
 */
import { z } from '@hono/zod-openapi';
import { labelKeyProblem, MAX_TOKEN_LABELS } from '../auth/label-rules.js';

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      field: z.string().optional().openapi({ description: '400 only, when one field is at fault: its dotted path in the request (selector, policy.canary, roles, values)' }),
      selector: z.string().optional().openapi({ description: 'INVALID_SELECTOR only: the selector as given' }),
      position: z.number().optional().openapi({ description: 'INVALID_SELECTOR only: the 0-based character position where parsing failed' }),
    }),
  })
  .openapi('Error');

const Health = z
  .object({ healthy: z.boolean(), status: z.string(), lastError: z.string() })
  .openapi('HealthSummary');

export const AgentConfigStatus = z
  .object({
    desiredHash: z.string().nullable().openapi({ description: 'hash of the config the server offers; null when no config matches' }),
    reportedHash: z.string().nullable(),
    status: z.enum(['NONE', 'PENDING', 'APPLYING', 'APPLIED', 'FAILED']),
    errorMessage: z.string(),
  })
  .openapi('AgentConfigStatus');

export const AgentSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(['corral', 'opamp']),
    status: z.enum(['online', 'offline', 'revoked']),
    labels: z.record(z.string(), z.string()).openapi({
      description: 'trusted labels, what plain selector terms match: bound by the enrollment token, overridden by operator labels',
    }),
    operatorLabels: z.record(z.string(), z.string()).openapi({ description: 'labels set with corral label (trusted)' }),
    boundLabels: z.record(z.string(), z.string()).openapi({ description: 'labels bound by the enrollment token the agent enrolled with (trusted)' }),
    claimedLabels: z.record(z.string(), z.string()).openapi({
      description: "labels the agent reports about itself (a Corral agent's --label flags): claims, matched only by claim.<key> selector terms",
    }),
    approval: z.enum(['approved', 'pending']).openapi({ description: 'pending: enrolled, waiting for corral agent approve; nothing is offered to it' }),
    enrollmentTokenId: z.string().nullable().openapi({ description: 'the enrollment token it enrolled with; null when enrolled before tokens were scoped' }),
    identifyingAttributes: z.record(z.string(), z.string()),
    nonIdentifyingAttributes: z.record(z.string(), z.string()),
    os: z.string(),
    arch: z.string(),
    agentVersion: z.string(),
    firstSeenAt: z.string(),
    lastSeenAt: z.string(),
    health: Health.nullable(),
    config: AgentConfigStatus,
    agentPackage: z
      .object({
        version: z.string().openapi({ description: 'the agent version it runs' }),
        offeredVersion: z.string(),
        status: z.string().openapi({ description: 'installed, installing, downloading, install-failed' }),
        error: z.string(),
        downloadPercent: z.number().nullable(),
      })
      .nullable()
      .openapi({ description: "the agent's own package (OpAMP top-level package) as it last reported it; null before any upgrade offer" }),
  })
  .openapi('Agent');

const HealthTree = z
  .object({
    healthy: z.boolean(),
    startTimeMs: z.number(),
    lastError: z.string(),
    status: z.string(),
    statusTimeMs: z.number(),
    components: z.record(z.string(), z.unknown()).openapi({ description: 'sub-component health by name, each shaped like this object' }),
  })
  .openapi('HealthTree');

export const AgentDetail = AgentSummary.extend({
  capabilities: z.number(),
  healthTree: HealthTree.nullable(),
  effectiveConfig: z
    .object({ files: z.record(z.string(), z.object({ contentType: z.string(), body: z.string() })) })
    .nullable(),
  packageStatuses: z.array(z.record(z.string(), z.unknown())).nullable(),
}).openapi('AgentDetail');

export const LabelsPatch = z
  .object({
    labels: z
      .record(
        z
          .string()
          .regex(/^[A-Za-z0-9._/-]{1,128}$/, 'label keys use letters, digits and ._/- (at most 128)')
          .superRefine((k, ctx) => {
            const problem = labelKeyProblem(k);
            if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
          }),
        z.string().regex(/^[A-Za-z0-9._/:-]{0,256}$/, 'label values use letters, digits and ._/:- (at most 256)').nullable())
      .openapi({ description: 'labels to set; null removes an operator label' }),
  })
  .strict()
  .openapi('LabelsPatch');

export const EnrollmentToken = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
    labels: z.record(z.string(), z.string()).openapi({ description: 'bound to every agent enrolled with it, as trusted labels' }),
    expiresAt: z.string().nullable().openapi({ description: 'no new enrollments from then on; null for never' }),
    maxAgents: z.number().nullable().openapi({ description: 'at most this many agents enroll with it; null for no cap' }),
    enrolledAgents: z.number().openapi({ description: 'agents enrolled with it so far' }),
    requireApproval: z.boolean().openapi({ description: 'agents enrolled with it wait (pending) until corral agent approve' }),
  })
  .openapi('EnrollmentToken');

export const NewEnrollmentToken = z
  .object({
    name: z.string().min(1).max(128).default('enrollment'),
    labels: z
      .record(z.string().max(200), z.string().max(300))
      .optional()
      .openapi({ description: `labels bound to every agent that enrolls with it (trusted; at most ${MAX_TOKEN_LABELS})`, example: { env: 'prod' } }),
    expiresAt: z.string().max(64).optional().openapi({ description: 'ISO 8601 date-time after which it enrolls no new agent' }),
    expiresIn: z.string().max(16).optional().openapi({ description: 'the same as a duration from now: 90s, 30m, 24h, 7d', example: '24h' }),
    maxAgents: z.number().int().optional().openapi({ description: 'at most this many agents may enroll with it' }),
    requireApproval: z.boolean().optional().openapi({ description: 'agents enrolled with it wait (pending) until an operator approves them' }),
  })
  .strict()
  .openapi('NewEnrollmentToken');

export const CreatedEnrollmentToken = EnrollmentToken.extend({
  token: z.string().openapi({ description: 'the secret, shown only once' }),
}).openapi('CreatedEnrollmentToken');

export const ConfigFileBody = z.object({
  contentType: z.string().min(1).max(256).default('text/plain'),
  body: z.string(),
  secret: z
    .boolean()
    .optional()
    .openapi({ description: 'a secret file: stored encrypted, shown only as "***" and its sha256, delivered only to the agents the config matches; body "***" keeps the stored one' }),
});

const FILE_NAME = /^[A-Za-z0-9._-]{1,255}$/;

export const ConfigPut = z
  .object({
    selector: z.string().max(4096).openapi({ example: 'env=prod,role in (web,api)' }),
    files: z
      .record(z.string().regex(FILE_NAME, 'file names use letters, digits and ._- (at most 255)').refine((n) => n !== '.' && n !== '..', 'file name may not be . or ..'), ConfigFileBody)
      .refine((f) => Object.keys(f).length > 0, 'at least one file'),
  })
  .strict()
  .openapi('ConfigPut');

export const Config = z
  .object({
    name: z.string(),
    selector: z.string(),
    files: z.record(
      z.string(),
      z.object({
        contentType: z.string(),
        body: z.string().openapi({ description: 'the content; "***" for a secret file' }),
        secret: z.boolean().optional(),
        sha256: z.string().optional().openapi({ description: 'secret files: sha256 hex of the content' }),
      }),
    ),
    hash: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Config');

export const ConfigStatus = z
  .object({
    name: z.string(),
    hash: z.string(),
    counts: z.record(z.string(), z.number()),
    agents: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        agentStatus: z.enum(['online', 'offline', 'revoked']),
        desiredHash: z.string().nullable(),
        status: z.enum(['NONE', 'PENDING', 'APPLYING', 'APPLIED', 'FAILED']),
        errorMessage: z.string(),
      }),
    ),
  })
  .openapi('ConfigStatus');

export const Event = z
  .object({
    id: z.number(),
    at: z.string(),
    type: z.string(),
    agentId: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
  })
  .openapi('Event');

export const CONFIG_NAME = /^[A-Za-z0-9._-]{1,128}$/;

export const PackageSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    os: z.string(),
    arch: z.string(),
    sha256: z.string(),
    size: z.number(),
    signature: z.string().openapi({ description: 'ed25519 signature (hex) of the sha256 digest' }),
    publisherSignature: z.string().nullable().optional().openapi({ description: "the publisher's own ed25519 signature (hex) of the sha256 digest (corral package sign), if any" }),
    manifest: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    downloadPath: z.string(),
  })
  .openapi('Package');
