/**
 * The agent's front door. `startAgent` connects and keeps connecting until
 * `stop()`; it throws at once for a bad data dir or identity file.
 */
import type { Logger } from 'pino';
import { AgentConnection } from './connection.js';
import { IdentityStore } from './identity.js';
import { RemoteConfigManager } from './remote-config.js';
import type { CompiledAgentOptions } from './options.js';

export { compileAgentOptions, parseLabels, AgentOptionsError, type AgentOptions, type CompiledAgentOptions } from './options.js';
export { IdentityError } from './identity.js';

export interface RunningAgent {
  instanceUid: string;
  stop(): Promise<void>;
}

export function startAgent(opts: CompiledAgentOptions, deps: { log: Logger }): RunningAgent {
  const connection = new AgentConnection(opts, {
    log: deps.log,
    identity: new IdentityStore(opts.dataDir),
    remoteConfig: new RemoteConfigManager(opts.dataDir),
  });
  connection.start();
  deps.log.info({ instanceUid: connection.instanceUid, server: opts.opampUrl, dataDir: opts.dataDir }, 'agent started');
  return { instanceUid: connection.instanceUid, stop: () => connection.stop() };
}
