/** Builders for what the server offers agents in ServerToAgent. */
import { createHash } from 'node:crypto';
import {
  AgentRemoteConfigSchema,
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

/** Offers the agent its own credential (and the heartbeat interval) for future connections. */
export function connectionSettingsOffer(credential: string, opts: { opampUrl: string; heartbeatMs: number }): ConnectionSettingsOffers {
  const headers = [{ key: 'Authorization', value: `Bearer ${credential}` }];
  return create(ConnectionSettingsOffersSchema, {
    hash: createHash('sha256').update(credential).update(opts.opampUrl).digest(),
    opamp: {
      destinationEndpoint: opts.opampUrl,
      headers: { headers },
      heartbeatIntervalSeconds: BigInt(Math.max(1, Math.round(opts.heartbeatMs / 1000))),
    },
  });
}
