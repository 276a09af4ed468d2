/** `corral agent`: runs the host agent until SIGTERM/SIGINT. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { addAgentInstallCommands } from './agent-install-command.js';

const loadAgent = () => import('../agent/index.js');

interface AgentFlags {
  server?: string;
  token?: string;
  caFile?: string;
  mtls?: boolean;
  serverFingerprint?: string;
  dataDir: string;
  label: string[];
  name?: string;
  heartbeat: number;
  logLevel: string;
  exec: boolean;
  policy: string;
  sampleInterval: number;
  upgradeGrace: number;
  logMaxBytes: number;
  logCheckInterval: number;
  cgroupParent: string;
}

const positiveSeconds = (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
};

/** `corral agent watch --handover FILE`: the upgrade watcher, started by the agent itself (hidden). */
function watchCommand(): Command {
  return new Command('watch')
    .description('Watch an agent upgrade (started by the agent itself; see docs/agent-upgrade.md)')
    .requiredOption('--handover <file>', 'the handover file the old agent wrote')
    .option('--log-level <level>', 'trace, debug, info, warn, error', process.env.CORRAL_LOG_LEVEL ?? 'info')
    .action(async (flags: { handover: string; logLevel: string }) => {
      const { runUpgradeWatcher } = await loadAgent();
      const log = pino({ level: flags.logLevel, base: { component: 'upgrade-watcher', pid: process.pid } }, pino.destination(1));
      const outcome = await runUpgradeWatcher(flags.handover, { log });
      log.info({ outcome }, 'watcher done');
      log.flush();
      process.exit(0);
    });
}

export function agentCommand(): Command {
  const agent = new Command('agent')
    .description('Run the Corral host agent: connects out to the server over OpAMP (no listening port), enrolls once, and keeps reconnecting')
    .option('--server <url>', 'Corral server URL (env CORRAL_SERVER)', process.env.CORRAL_SERVER)
    .option('--token <token>', 'enrollment token, used until the agent has its own credential (env CORRAL_TOKEN)', process.env.CORRAL_TOKEN)
    .option('--ca-file <file>', 'PEM file of the CAs that sign the server certificate, instead of the system CAs (https:// servers; env CORRAL_CA_FILE)', process.env.CORRAL_CA_FILE)
    .option(
      '--server-fingerprint <sha256:hex>',
      "trust exactly the server certificate with this sha256 (openssl x509 -noout -fingerprint -sha256), instead of CAs (https:// servers; env CORRAL_SERVER_FINGERPRINT)",
      process.env.CORRAL_SERVER_FINGERPRINT,
    )
    .option(
      '--mtls',
      'get a TLS client certificate from the server (OpAMP CSR flow: the key pair is made here and never leaves the data dir) and present it; renewed at 2/3 of its lifetime (https:// servers with --agent-ca-cert; env CORRAL_MTLS=1)',
      process.env.CORRAL_MTLS === '1',
    )
    .option('--data-dir <dir>', 'where the agent keeps its identity, credential and config', './corral-agent-data')
    .option('--label <key=value>', 'a label for selectors (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--name <name>', 'display name (default: host name)')
    .option(
      '--heartbeat <seconds>',
      'heartbeat interval until the server offers one',
      (v: string) => {
        const n = Number(v);
        if (!(n > 0)) throw new InvalidArgumentError('must be a positive number of seconds');
        return n;
      },
      30,
    )
    .option(
      '--sample-interval <seconds>',
      'how often to send resource samples (host and per-service CPU, memory, disk, open files)',
      (v: string) => {
        const n = Number(v);
        if (!(n > 0)) throw new InvalidArgumentError('must be a positive number of seconds');
        return n;
      },
      5,
    )
    .option('--no-exec', "refuse exec jobs from the server (they fail with a clear error); shorthand for the policy file's exec.enabled: false")
    .option(
      '--policy <file>',
      'local policy the server cannot change (exec on/off and allow-list, max exec timeout, whether services may run as root, allowed run users; see docs/agent-policy.md). Absent file: defaults (everything allowed); an invalid file or one writable by non-root stops the agent',
      '/etc/corral/agent-policy.yaml',
    )
    .addOption(
      new Option('--log-max-bytes <bytes>', "rotate a service's stdout.log or stderr.log once it is over this size (3 copies kept)")
        .argParser((v: string) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number of bytes');
          return n;
        })
        .default(10 * 1024 * 1024, '10 MiB'),
    )
    .addOption(new Option('--log-check-interval <seconds>', 'how often output file sizes are checked for rotation').argParser(positiveSeconds).default(10).hideHelp())
    .addOption(new Option('--upgrade-grace <seconds>', 'how long a new agent version has to connect and report healthy before it is reverted').argParser(positiveSeconds).default(60).hideHelp())
    .option(
      '--cgroup-parent <name>',
      "the cgroup under which services declaring resources get their own (under the agent's own cgroup where writable, else at the hierarchy's root; see docs/resource-limits.md). Agents sharing a host need different names",
      'corral',
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error', process.env.CORRAL_LOG_LEVEL ?? 'info')
    .addHelpText(
      'after',
      `
Example:
  corral agent --server http://corral.internal:4320 --token corral_enroll_... \\
    --data-dir /var/lib/corral-agent --label env=prod --label role=web`,
    )
    .action(async (flags: AgentFlags) => {
      if (!flags.server) throw new InvalidArgumentError('--server (or CORRAL_SERVER) is required');
      const { AGENT_NODE_FLAGS, compileAgentOptions, parseLabels, startAgent, SUPERVISOR_ENV, SUPERVISOR_UNIT_ENV } = await loadAgent();
      const log = pino({ level: flags.logLevel, base: { component: 'agent' } }, pino.destination(2));
      const missingNodeFlags = AGENT_NODE_FLAGS.filter((f) => !process.execArgv.includes(f));
      // Works without them, with ~15 MiB more RSS (docs/benchmarks.md): say so once, for whoever wrote the start script.
      if (missingNodeFlags.length > 0) log.info({ missingNodeFlags }, 'node started without the flags that keep the agent small');
      const agent = startAgent(
        compileAgentOptions({
          server: flags.server,
          token: flags.token,
          caFile: flags.caFile,
          serverFingerprint: flags.serverFingerprint,
          mtls: flags.mtls ?? false,
          dataDir: flags.dataDir,
          labels: parseLabels(flags.label),
          name: flags.name,
          heartbeatSeconds: flags.heartbeat,
          noExec: !flags.exec,
          policyFile: flags.policy,
          sampleSeconds: flags.sampleInterval,
          upgradeGraceSeconds: flags.upgradeGrace,
          logMaxBytes: flags.logMaxBytes,
          logCheckSeconds: flags.logCheckInterval,
          cgroupParent: flags.cgroupParent,
          // Set by the unit `corral agent install` writes: self-upgrades then go through systemd.
          supervisor: process.env[SUPERVISOR_ENV],
          supervisorUnit: process.env[SUPERVISOR_UNIT_ENV],
        }),
        // Handed over to the upgrade watcher: stop (services keep running) and exit, so it can start the new version.
        { log, exitForUpgrade: () => stop('upgrade') },
      );
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping');
        setTimeout(() => process.exit(1), 5000).unref();
        agent.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    })
    .addCommand(watchCommand(), { hidden: true });
  addAgentInstallCommands(agent);
  return agent;
}
