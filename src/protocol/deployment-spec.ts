/**
 * How a deployment reaches a Corral agent: as one file of its OpAMP remote
 * config, `deployment.<name>.json` with content type
 * `application/vnd.corral.deployment+json`. So desired state rides the
 * standard config offer, hash and APPLIED/FAILED status; the artifacts it
 * names are downloaded from the server, checked against sha256 and the
 * server's ed25519 signature, and only then unpacked. Agents validate every
 * spec (unknown keys rejected) before acting on it.
 */
import { z } from 'zod';
import { ResourcesSchema } from './resources.js';

export const DEPLOYMENT_CONTENT_TYPE = 'application/vnd.corral.deployment+json';

/** service.name a Corral agent reports in its AgentDescription: only these run deployments. */
export const CORRAL_AGENT_SERVICE_NAME = 'io.corral.agent';
export const DEPLOYMENT_FILE_PREFIX = 'deployment.';

export const deploymentFileName = (name: string): string => `${DEPLOYMENT_FILE_PREFIX}${name}.json`;

const Artifact = z
  .object({
    os: z.string(),
    arch: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    signature: z.string().regex(/^[0-9a-f]{128}$/),
    /** The publisher's ed25519 signature of the sha256 digest (corral package sign), checked by agents that pin publisher keys. */
    publisherSignature: z.string().regex(/^[0-9a-f]{128}$/).optional(),
    size: z.number().int().nonnegative(),
    /** Server-relative download path, e.g. /api/v1/artifacts/<sha256>. */
    path: z.string().regex(/^\/api\/v1\/artifacts\/[0-9a-f]{64}$/),
  })
  .strict();

export const DeploymentSpecSchema = z
  .object({
    apiVersion: z.literal('corral.io/v1'),
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/),
    /** Which revision of the deployment this is; the agent reports it back once in effect. */
    revision: z.number().int().positive().optional(),
    package: z.string().min(1).max(63),
    version: z.string().min(1).max(64),
    desiredState: z.enum(['running', 'stopped']),
    values: z.record(z.string(), z.string()),
    /** The deployment's override of the manifest's `resources`, field by field (absent: the manifest's own). */
    resources: ResourcesSchema.optional(),
    artifacts: z.array(Artifact).min(1),
  })
  .strict();

export type DeploymentSpec = z.infer<typeof DeploymentSpecSchema>;
export type DeploymentArtifact = z.infer<typeof Artifact>;

/** The artifact for a platform: an exact arch match, else one built for any arch. */
export function artifactFor(spec: DeploymentSpec, os: string, arch: string): DeploymentArtifact | undefined {
  return spec.artifacts.find((a) => a.os === os && a.arch === arch) ?? spec.artifacts.find((a) => a.os === os && a.arch === 'any');
}

/** OpAMP "other connection" through which the server hands agents its package-signing key at enrollment. */
export const SIGNING_CONNECTION = 'io.corral.package-signing';
export const SIGNING_KEY_SETTING = 'ed25519_public_key_pem';
