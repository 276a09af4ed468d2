/**
 * `corral agent install` / `corral agent uninstall`: run the agent as a
 * systemd service. `install` accepts every `corral agent` flag (the Option
 * objects are shared, so the two cannot drift) and puts the ones given on
 * the unit's command line, except the token, which goes to the env file.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { isSingleExecutable } from '../agent/single-executable.js';

const loadInstall = () => import('../agent/install/index.js');
const loadAgent = () => import('../agent/index.js');

/**
 * This script (symlinks resolved), and the package root holding its dist/
 * (and node_modules/, outside the self-contained bundle); for the single
 * executable, the executable and the directory above its bin/. Looked up
 * when `install` runs, not at load.
 */
function selfPaths(): { script: string; packageRoot: string; singleExecutable: boolean } {
  if (isSingleExecutable()) {
    const exe = realpathSync(process.execPath);
    return { script: exe, packageRoot: dirname(dirname(exe)), singleExecutable: true };
  }
  const script = fileURLToPath(new URL('./corral.js', import.meta.url));
  if (!existsSync(script)) throw new InvalidArgumentError(`${script} does not exist: \`corral agent install\` runs from dist/bin/corral.js (a checkout, the npm package or the agent bundle) or the single executable`);
  return { script: realpathSync(script), packageRoot: realpathSync(fileURLToPath(new URL('../..', import.meta.url))), singleExecutable: false };
}

/** Agent flags install handles itself rather than copying onto ExecStart. */
const OWN_FLAGS = new Set(['server', 'token', 'dataDir']);

const systemdRunDirOption = () =>
  new Option('--systemd-run-dir <dir>', 'the directory whose existence means systemd is running (for tests)').hideHelp();

/** The agent flags given on the command line, as argv for the unit (minus --server/--token/--data-dir). */
function givenAgentArgs(cmd: Command, agentOptions: readonly Option[]): string[] {
  const args: string[] = [];
  for (const opt of agentOptions) {
    const key = opt.attributeName();
    if (OWN_FLAGS.has(key) || cmd.getOptionValueSource(key) !== 'cli' || !opt.long) continue;
    const value: unknown = cmd.getOptionValue(key);
    if (typeof value === 'boolean') {
      // `--no-exec` stores exec=false; a plain flag stores true.
      if (value !== opt.negate) args.push(opt.long);
      continue;
    }
    for (const v of Array.isArray(value) ? (value as unknown[]) : [value]) args.push(opt.long, String(v));
  }
  return args;
}

/** Adds `install` and `uninstall` to the `corral agent` command; call after its options are defined. */
export function addAgentInstallCommands(agent: Command): void {
  const agentOptions = agent.options.filter((o) => o.attributeName() !== 'dataDir');
  const install = new Command('install').description(
    'Install the agent as a systemd service (unit + 0600 token env file), enable and start it; takes every `corral agent` flag',
  );
  for (const opt of agentOptions) install.addOption(opt);
  install
    .option('--data-dir <dir>', "the agent's data dir (identity, credential, services)", '/var/lib/corral-agent')
    .option('--unit-name <name>', 'systemd unit name', 'corral-agent')
    .option('--unit-dir <dir>', 'where to write the unit (root is needed only for the default)', '/etc/systemd/system')
    // Not --env-file: Node 20 reads that flag itself even after the script name (nodejs/node#54232).
    .option('--environment-file <file>', 'where to write the token (EnvironmentFile=; default /etc/corral/agent.env; /etc/corral/<unit-name>.env for another unit name)')
    .option('--user <user>', 'run the agent as this user (default root; services with run.user need root)')
    .option('--dry-run', 'print the unit, the env file (token redacted) and the systemctl commands; touch nothing (works without systemd)')
    .option('--no-start', 'enable the unit but do not start (or restart) the agent')
    .addOption(systemdRunDirOption())
    .addHelpText(
      'after',
      `
Example:
  sudo corral agent install --server http://corral.internal:4320 --token corral_enroll_... \\
    --label env=prod --label role=web
Hosts without systemd: see docs/agent-install.md.`,
    )
    .action(async (flags: Record<string, unknown>, cmd: Command) => {
      const { compileAgentOptions, parseLabels } = await loadAgent();
      const { compileAgentInstallOptions, installAgentService, spawnRunner } = await loadInstall();
      const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
      const server = str(flags.server);
      if (!server) throw new InvalidArgumentError('--server (or CORRAL_SERVER) is required');
      // Fail now, not at the service's first start, on what the agent would refuse.
      compileAgentOptions({ server, dataDir: str(flags.dataDir) ?? '.', labels: parseLabels((flags.label as string[] | undefined) ?? []), policyFile: str(flags.policy) });
      const self = selfPaths();
      const compiled = compileAgentInstallOptions({
        server,
        token: str(flags.token),
        dataDir: str(flags.dataDir),
        agentArgs: givenAgentArgs(cmd, agentOptions),
        unitName: str(flags.unitName),
        unitDir: str(flags.unitDir),
        envFile: str(flags.environmentFile),
        user: str(flags.user),
        dryRun: flags.dryRun === true,
        start: flags.start !== false,
        nodePath: process.execPath,
        script: self.script,
        singleExecutable: self.singleExecutable,
        packageRoot: self.packageRoot,
        systemdRunDir: str(flags.systemdRunDir),
      });
      await installAgentService(compiled, { run: spawnRunner, out: (l) => process.stdout.write(`${l}\n`), uid: process.getuid?.() });
    });

  const uninstall = new Command('uninstall')
    .description('Stop and disable the agent service, remove its unit and env file; the data dir stays unless --purge')
    .option('--unit-name <name>', 'systemd unit name', 'corral-agent')
    .option('--unit-dir <dir>', 'where the unit is (root is needed only for the default)', '/etc/systemd/system')
    .option('--purge', "also remove the agent's data dir (its identity: the host enrolls as a new agent next time)")
    .option('--data-dir <dir>', 'the data dir to purge (default: the --data-dir in the unit)')
    .option('--dry-run', 'print what would be removed and run; touch nothing')
    .addOption(systemdRunDirOption())
    .action(async (flags: { unitName: string; unitDir: string; purge?: boolean; dataDir?: string; dryRun?: boolean; systemdRunDir?: string }) => {
      const { spawnRunner, uninstallAgentService } = await loadInstall();
      await uninstallAgentService(flags, { run: spawnRunner, out: (l) => process.stdout.write(`${l}\n`), uid: process.getuid?.() });
    });

  agent.addCommand(install).addCommand(uninstall);
}
