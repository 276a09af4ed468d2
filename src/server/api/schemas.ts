/**
 * REST wire shapes (zod, with OpenAPI metadata). These are the API's
 * contract: the CLI and the console read exactly these fields.
 */
import { z } from '@hono/zod-openapi';

export const ErrorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
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
    labels: z.record(z.string(), z.string()).openapi({ description: "effective labels: the agent's own, overridden by operator labels" }),
    operatorLabels: z.record(z.string(), z.string()),
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
      .record(z.string().regex(/^[A-Za-z0-9._/-]{1,128}$/, 'label keys use letters, digits and ._/- (at most 128)'), z.string().regex(/^[A-Za-z0-9._/:-]{0,256}$/, 'label values use letters, digits and ._/:- (at most 256)').nullable())
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
  })
  .openapi('EnrollmentToken');

export const NewEnrollmentToken = z.object({ name: z.string().min(1).max(128).default('enrollment') }).strict();

export const CreatedEnrollmentToken = EnrollmentToken.extend({
  token: z.string().openapi({ description: 'the secret, shown only once' }),
}).openapi('CreatedEnrollmentToken');

export const ConfigFileBody = z.object({
  contentType: z.string().min(1).max(256).default('text/plain'),
  body: z.string(),
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
    files: z.record(z.string(), z.object({ contentType: z.string(), body: z.string() })),
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
