/**
 * `corral server install` / `corral server uninstall`: run the control plane
 * as a systemd service under a dedicated user. `install` accepts every
 * `corral server` flag (the Option objects are shared, so the two cannot
 * drift) and puts the ones given on the unit's command line, except the
 * secrets (--database, --metrics-token), which go to the 0600 env file.
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { serverOptionsFrom, type ServerFlags } from './server-command.js';

const loadInstall = () => import('../server/install/index.js');
const loadServer = () => import('../server/index.js');

/** This executable, symlinks resolved (a global npm install links bin/corral to it). */
const CORRAL_JS = realpathSync(fileURLToPath(new URL('./corral.js', import.meta.url)));

/** Flags install handles itself rather than copying onto ExecStart. */
const OWN_FLAGS = new Set(['dataDir', 'database', 'metricsToken']);
/** Flags naming files: made absolute, since systemd starts the server in /. */
const PATH_FLAGS = new Set(['tlsCert', 'tlsKey', 'agentCaCert', 'agentCaKey']);

const systemdRunDirOption = () =>
  new Option('--systemd-run-dir <dir>', 'the directory whose existence means systemd is running (for tests)').hideHelp();

/** The server flags given on the command line, as argv for the unit. */
function givenServerArgs(cmd: Command, serverOptions: readonly Option[]): string[] {
  const args: string[] = [];
  for (const opt of serverOptions) {
    const key = opt.attributeName();
    if (OWN_FLAGS.has(key) || cmd.getOptionValueSource(key) !== 'cli' || !opt.long) continue;
    const value: unknown = cmd.getOptionValue(key);
    if (typeof value === 'boolean') {
      if (value !== opt.negate) args.push(opt.long);
      continue;
    }
    // Parsed values back to text: numbers as numbers, --rollout-defaults as JSON.
    const text = typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
    args.push(opt.long, PATH_FLAGS.has(key) ? resolve(text) : text);
  }
  return args;
}

/** Adds `install` and `uninstall` to the `corral server` command; call after its options are defined. */
export function addServerInstallCommands(server: Command): void {
  const serverOptions = server.options.filter((o) => o.attributeName() !== 'dataDir');
  const install = new Command('install').description(
    'Install the server as a systemd service: a dedicated user, a 0600 env file for secrets, a sandboxed unit; enable and start it. Takes every `corral server` flag',
  );
  for (const opt of serverOptions) install.addOption(opt);
  install
    .option('--data-dir <dir>', "the server's data dir (SQLite store, signing key)", '/var/lib/corral')
    .option('--user <user>', 'run the server as this user, created (system user and group) when missing; root runs it as root', 'corral')
    .option('--unit-name <name>', 'systemd unit name', 'corral-server')
    .option('--unit-dir <dir>', 'where to write the unit (root is needed only for the default)', '/etc/systemd/system')
    // Not --env-file: Node 20 reads that flag itself even after the script name (nodejs/node#54232).
    .option('--environment-file <file>', 'where to write secrets and settings (EnvironmentFile=; default /etc/corral/server.env; /etc/corral/<unit-name>.env for another unit name)')
    .option('--dry-run', 'print the unit, the env file (values redacted) and the commands; touch nothing (works without systemd)')
    .option('--no-start', 'enable the unit but do not start (or restart) the server')
    .addOption(systemdRunDirOption())
    .addHelpText(
      'after',
      `
--database and --metrics-token go to the env file (CORRAL_DATABASE, CORRAL_METRICS_TOKEN), never onto
the unit's command line; running install again keeps the variables the env file already sets.

Example:
  sudo corral server install --listen 0.0.0.0:4320 --public-url https://corral.example.com \\
    --tls-cert /etc/corral/tls/cert.pem --tls-key /etc/corral/tls/key.pem
See docs/server-install.md (data dir, backup, upgrades).`,
    )
    .action(async (flags: ServerFlags & Record<string, unknown>, cmd: Command) => {
      const { compileServerOptions } = await loadServer();
      const { SECRET_FLAGS, compileServerInstallOptions, installServerService } = await loadInstall();
      const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
      // Fail now, not at the service's first start, on what the server would refuse.
      compileServerOptions(serverOptionsFrom(flags));
      const secrets: Record<string, string> = {};
      for (const [key, variable] of Object.entries(SECRET_FLAGS)) {
        const v = cmd.getOptionValueSource(key) === 'cli' ? str(cmd.getOptionValue(key)) : undefined;
        if (v) secrets[variable] = v;
      }
      const compiled = compileServerInstallOptions({
        dataDir: str(flags.dataDir),
        serverArgs: givenServerArgs(cmd, serverOptions),
        listen: flags.listen,
        secrets,
        unitName: str(flags.unitName),
        unitDir: str(flags.unitDir),
        envFile: str(flags.environmentFile),
        user: str(flags.user),
        dryRun: flags.dryRun === true,
        start: flags.start !== false,
        nodePath: process.execPath,
        script: CORRAL_JS,
        systemdRunDir: str(flags.systemdRunDir),
      });
      await installServerService(compiled, { run: (await import('../systemd/index.js')).spawnCommand, out: (l) => process.stdout.write(`${l}\n`), uid: process.getuid?.() });
    });

  const uninstall = new Command('uninstall')
    .description('Stop and disable the server service, remove its unit and env file; the data dir and the user stay unless --purge')
    .option('--unit-name <name>', 'systemd unit name', 'corral-server')
    .option('--unit-dir <dir>', 'where the unit is (root is needed only for the default)', '/etc/systemd/system')
    .option('--purge', "also remove the server's data dir: its SQLite store and package-signing key (back it up first)")
    .option('--data-dir <dir>', 'the data dir to purge (default: the --data-dir in the unit)')
    .option('--dry-run', 'print what would be removed and run; touch nothing')
    .addOption(systemdRunDirOption())
    .addHelpText('after', '\nExample:\n  sudo corral server uninstall            # --purge also deletes /var/lib/corral')
    .action(async (flags: { unitName: string; unitDir: string; purge?: boolean; dataDir?: string; dryRun?: boolean; systemdRunDir?: string }) => {
      const { uninstallServerService } = await loadInstall();
      await uninstallServerService(flags, { run: (await import('../systemd/index.js')).spawnCommand, out: (l) => process.stdout.write(`${l}\n`), uid: process.getuid?.() });
    });

  server.addCommand(install).addCommand(uninstall);
}
