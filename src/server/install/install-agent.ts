/**
 * The server's side of the one-line host install (docs/agent-install.md):
 * `GET /install.sh` (a static POSIX sh script, no token) and
 * `GET /api/v1/install/agent?os=&arch=` (with an enrollment token), which
 * names the agent package the script downloads and the signing key it checks
 * it with. The script then downloads `/api/v1/artifacts/{sha256}` with the
 * same enrollment token, which may fetch `kind: agent` packages and nothing
 * else (artifact-download.ts).
 */
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PackageRecord, Store, TokenRecord } from '../store/index.js';
import { hashSecret } from '../auth/tokens.js';

/** The package the script installs unless `--package NAME` says another `kind: agent` one. */
export const INSTALL_AGENT_PACKAGE = 'corral-agent';
export const INSTALL_SCRIPT_PATH = '/install.sh';

let script: string | null = null;
/** The script's text, read once from assets/install.sh of this installation. */
export function installScript(): string {
  script ??= readFileSync(new URL('../../../assets/install.sh', import.meta.url), 'utf8');
  return script;
}

/**
 * The fingerprint the install command pins: `SHA256:` and the unpadded
 * base64 of the sha256 of the key's DER SubjectPublicKeyInfo (the form
 * `ssh-keygen -l` prints; the script computes it with openssl).
 */
export function signingKeyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
}

/** The key as one line: the base64 of its DER (the script rebuilds the PEM from it). */
export function signingKeyDerBase64(publicKeyPem: string): string {
  return createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' }).toString('base64');
}

/**
 * An enrollment token that could enroll an agent now: active, not expired,
 * not full. Only such a token may fetch what installs an agent.
 */
export async function installToken(store: Store, secret: string, now: number): Promise<TokenRecord | null> {
  const t = await store.findActiveTokenByHash(hashSecret(secret));
  if (!t || t.kind !== 'enrollment') return null;
  if (t.expiresAt !== null && t.expiresAt <= now) return null;
  if (t.maxAgents !== null && t.enrolledAgents >= t.maxAgents) return null;
  return t;
}

/** Whether an artifact is one of a `kind: agent` package (what an enrollment token may download). */
export async function isAgentArtifact(store: Store, sha256: string): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) return false;
  return (await store.findPackagesBySha256(sha256)).some((p) => p.manifest.kind === 'agent');
}

/**
 * The agent package for a host: `kind: agent` records of `name` for `os`,
 * the exact arch (which carries a node runtime or is a single executable)
 * before `any` (needs node on the host); the latest published among them.
 */
export function pickInstallPackage(records: readonly PackageRecord[], name: string, os: string, arch: string): PackageRecord | null {
  const agents = records.filter((p) => p.name === name && p.os === os && p.manifest.kind === 'agent');
  for (const want of [arch, 'any']) {
    const latest = agents.filter((p) => p.arch === want).sort((a, b) => b.createdAt - a.createdAt || (a.version < b.version ? 1 : -1))[0];
    if (latest) return latest;
  }
  return null;
}

/** The answer the script reads: `key=value` lines, no quoting needed (every value is [A-Za-z0-9+/=._-]). */
export function installInfoText(p: PackageRecord, publicKeyPem: string): string {
  const lines = {
    name: p.name,
    version: p.version,
    os: p.os,
    arch: p.arch,
    sha256: p.sha256,
    size: String(p.size),
    signature: p.signature,
    signing_key: signingKeyDerBase64(publicKeyPem),
    fingerprint: signingKeyFingerprint(publicKeyPem),
  };
  return Object.entries(lines)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}
