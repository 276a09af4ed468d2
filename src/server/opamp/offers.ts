/** Builders for what the server offers agents in ServerToAgent. */
import { createHash } from 'node:crypto';
import {
  AgentRemoteConfigSchema,
  SIGNING_CONNECTION,
  SIGNING_KEY_SETTING,
  ConnectionSettingsOffersSchema,
  create,
  type AgentRemoteConfig,
  type ConnectionSettingsOffers,
} from '../../protocol/index.js';
import { hashConfigFiles, type DesiredConfig } from '../fleet/remote-config.js';

/** The remote config offer; `null` desired means "no config": an empty map, so the agent drops what it had. */
export function configOffer(desired: DesiredConfig | null): AgentRemoteConfig {
  const files = desired?.files ?? {};
  const hash = desired?.hash ?? hashConfigFiles({});
  const configMap: Record<string, { body: Uint8Array; contentType: string }> = {};
  for (const [name, f] of Object.entries(files)) {
    configMap[name] = { body: Buffer.from(f.body, 'utf8'), contentType: f.contentType };
  }
  return create(AgentRemoteConfigSchema, {
    config: { configMap },
    configHash: Buffer.from(hash, 'hex'),
  });
}

/**
 * Offers the agent its own credential, the heartbeat interval, and the
 * server's package-signing public key (which the agent pins from then on).
 * `endpoint` is '' (the agent keeps its URL) unless the server has a public
 * URL (endpoint.ts).
 */
export function connectionSettingsOffer(
  credential: string,
  opts: { endpoint: string; heartbeatMs: number; signingPublicKeyPem: string },
): ConnectionSettingsOffers {
  const headers = [{ key: 'Authorization', value: `Bearer ${credential}` }];
  return create(ConnectionSettingsOffersSchema, {
    hash: createHash('sha256').update(credential).update(opts.endpoint).update(opts.signingPublicKeyPem).digest(),
    opamp: {
      destinationEndpoint: opts.endpoint,
      headers: { headers },
      heartbeatIntervalSeconds: BigInt(Math.max(1, Math.round(opts.heartbeatMs / 1000))),
    },
    otherConnections: { [SIGNING_CONNECTION]: { otherSettings: { [SIGNING_KEY_SETTING]: opts.signingPublicKeyPem } } },
  });
}
