/**
 * The agent's front door. `startAgent` connects and keeps connecting until
 * `stop()`; it throws at once for a bad data dir or identity file.
 */
import type { Logger } from 'pino';
import { AgentConnection } from './connection.js';
import { IdentityStore } from './identity.js';
import { RemoteConfigManager } from './remote-config.js';
import { ServicesManager } from './services/services-manager.js';
import { DEFAULT_ROTATION } from './services/log-rotation.js';
import { describeAgent } from './description.js';
import { customHandlers } from './custom-handlers.js';
import { ResourceSampler } from './resource-sampler.js';
import type { DownloadTarget } from './packages/download.js';
import type { CompiledAgentOptions } from './options.js';
import { SelfUpgrader } from './upgrade/self-upgrade.js';
import { describeSupport, detectHostCgroups } from './cgroups/detect.js';
import { ServiceCgroups } from './cgroups/cgroups.js';

export {
  compileAgentOptions,
  parseLabels,
  AgentOptionsError,
  SUPERVISOR_ENV,
  SUPERVISOR_UNIT_ENV,
  type AgentOptions,
  type AgentSupervisor,
  type CompiledAgentOptions,
} from './options.js';
export { IdentityError } from './identity.js';
export { AgentPolicyError, DEFAULT_POLICY_FILE } from './policy/agent-policy.js';
export { runUpgradeWatcher, WatcherError } from './upgrade/watcher.js';
export { AGENT_NODE_FLAGS } from './node-flags.js';

export interface RunningAgent {
  /** The uid in use now (it changes when the server assigns a new one). */
  readonly instanceUid: string;
  stop(): Promise<void>;
}

/**
 * Starts the agent. `exitForUpgrade` is called once a new version is
 * unpacked and its watcher runs: the caller stops the agent (not its
 * services) and exits the process, and the watcher starts the new version.
 */
export function startAgent(opts: CompiledAgentOptions, deps: { log: Logger; exitForUpgrade: () => void }): RunningAgent {
  const platform = describeAgent({ instanceUid: '', name: '', labels: {} }).nonIdentifying;
  const cgroupSupport = detectHostCgroups();
  const cgroups = new ServiceCgroups(
    cgroupSupport,
    { parentName: opts.cgroupParent, allowUnenforced: opts.policy.services.allowUnenforcedLimits, policySource: opts.policy.source },
    { log: deps.log.child({ component: 'cgroups' }) },
  );
  if (cgroupSupport.version === null) {
    deps.log.warn(
      { reason: cgroupSupport.reason, allowUnenforcedLimits: opts.policy.services.allowUnenforcedLimits },
      opts.policy.services.allowUnenforcedLimits
        ? 'service resource limits CANNOT be enforced on this host; services declaring them run without them (policy services.allowUnenforcedLimits)'
        : 'service resource limits CANNOT be enforced on this host; services declaring them will fail to install',
    );
  } else {
    deps.log.info({ cgroups: describeSupport(cgroupSupport), parent: opts.cgroupParent }, 'service resource limits enforced through cgroups');
  }
  const services = new ServicesManager(
    {
      dataDir: opts.dataDir,
      os: platform['os.type']!,
      arch: platform['host.arch']!,
      logRotation: { ...DEFAULT_ROTATION, maxBytes: opts.logMaxBytes },
      logCheckMs: opts.logCheckMs,
      policy: opts.policy,
      cgroups,
    },
    // Called only once services converge, after `connection` exists.
    { log: deps.log.child({ component: 'services' }), target: (): DownloadTarget => connection.downloadTarget() },
  );
  const upgrader = new SelfUpgrader(
    { dataDir: opts.dataDir, graceMs: opts.upgradeGraceMs, supervisor: opts.supervisor, policy: opts.policy },
    { log: deps.log.child({ component: 'upgrade' }), target: (): DownloadTarget => connection.downloadTarget(), exitForUpgrade: deps.exitForUpgrade },
  );
  const connection = new AgentConnection(opts, {
    log: deps.log,
    identity: new IdentityStore(opts.dataDir),
    remoteConfig: new RemoteConfigManager(opts.dataDir),
    services,
    custom: customHandlers(services, opts.dataDir, { noExec: opts.noExec, policy: opts.policy, log: deps.log.child({ component: 'logs' }) }),
    sampler: new ResourceSampler(opts.dataDir),
    upgrader,
  });
  // Services follow the last desired state on disk, whether or not a server answers.
  void connection.reconcileServices();
  connection.start();
  deps.log.info({ instanceUid: connection.instanceUid, server: opts.opampUrl, dataDir: opts.dataDir, supervisor: opts.supervisor?.unit ?? null, policy: opts.policy.source ?? 'defaults (no policy file)' }, 'agent started');
  return {
    // Read live: the server may assign a new uid (OpAMP duplicate-uid handling).
    get instanceUid() {
      return connection.instanceUid;
    },
    stop: () => {
      services.stop();
      return connection.stop();
    },
  };
}
