/** deploy, deployments, deployment status, start, stop, undeploy. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { formatTable } from '../table.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';
import { rolloutPolicyFrom, withRolloutFlags, type RolloutFlags } from './rollouts.js';
import { healthWord } from '../service-health.js';
import { followRollout } from './rollout-follow.js';
import { resourcesFrom, type ResourceFlags } from '../resource-flags.js';

interface ApiDeployment {
  name: string;
  package: string;
  version: string;
  selector: string;
  values: Record<string, string>;
  /** Keys of the secret values, each "***" (absent from older servers). */
  secretValues?: Record<string, string>;
  desiredState: string;
  revision: number;
  stableRevision: number | null;
  updatedAt: string;
}

interface ApiDeploymentStatus {
  deployment: ApiDeployment;
  rollout: { id: string; kind: string; state: string; reason: string; toRevision: number } | null;
  agents: { id: string; name: string; agentStatus: string; revision: number | null; config: string; service: { healthy: boolean; status: string; lastError: string } | null }[];
}

const revisions = (d: ApiDeployment) => `r${d.revision} (stable ${d.stableRevision === null ? 'none' : `r${d.stableRevision}`})`;

const collect = (v: string, acc: string[]) => [...acc, v];

/** `k=v` pairs for --set; a bad one is a usage error naming it. */
export function parseValues(pairs: string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new CliError(`--set "${p}": expected key=value`, 1, 'INVALID_ARGUMENT');
    values[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return values;
}

/**
 * Secret values from `--set-secret k=v` and `--set-secret-file k=PATH` (the
 * file's content, one trailing newline dropped, so the secret stays out of
 * shell history), and `--keep-secret k` ("***": keep the stored one).
 */
export function parseSecretValues(pairs: string[], files: string[], keep: string[], read: (path: string) => string = (p) => readFileSync(p, 'utf8')): Record<string, string> {
  const secrets: Record<string, string> = {};
  const put = (flag: string, arg: string, k: string, v: string) => {
    if (Object.hasOwn(secrets, k)) throw new CliError(`${flag} "${arg}": ${k} is given twice`, 1, 'INVALID_ARGUMENT');
    secrets[k] = v;
  };
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new CliError(`--set-secret "${p.slice(0, Math.max(0, eq))}...": expected key=value`, 1, 'INVALID_ARGUMENT');
    put('--set-secret', p.slice(0, eq), p.slice(0, eq), p.slice(eq + 1));
  }
  for (const f of files) {
    const eq = f.indexOf('=');
    if (eq <= 0 || eq === f.length - 1) throw new CliError(`--set-secret-file "${f}": expected key=PATH`, 1, 'INVALID_ARGUMENT');
    const path = f.slice(eq + 1);
    let text: string;
    try {
      text = read(path);
    } catch (e) {
      throw new CliError(`cannot read ${path} for --set-secret-file ${f.slice(0, eq)}: ${(e as Error).message}`, 1, 'INVALID_ARGUMENT', { cause: e });
    }
    put('--set-secret-file', f, f.slice(0, eq), text.replace(/\r?\n$/, ''));
  }
  for (const k of keep) put('--keep-secret', k, k, '***');
  return secrets;
}

export function addDeploymentCommands(program: Command, io: CliIo & { stdoutIsTty?: boolean }): void {
  withRolloutFlags(
    withConnection(
    program
      .command('deploy')
      .description('Install (or change) a deployment: a published package version with config values on the agents a selector matches')
      .argument('<name>', 'deployment name')
      .requiredOption('--package <name@version>', 'the package version, e.g. hello@1.0.0')
      .requiredOption('-s, --selector <selector>', "which agents run it, e.g. 'env=prod,role=web' (trusted labels; claim.<key> for what agents report)")
      .option('--set <key=value>', 'a config value for the package templates (repeatable)', collect, [])
      .option('--set-secret <key=value>', 'a secret value: templates see it as {{ values.key }}; stored encrypted, never shown again (repeatable)', collect, [])
      .option('--set-secret-file <key=path>', "a secret value read from a file (one trailing newline dropped), so it stays out of shell history (repeatable)", collect, [])
      .option('--keep-secret <key>', 'keep this stored secret value unchanged (a deploy replaces the whole deployment: secrets not given are removed) (repeatable)', collect, [])
      .option('--keep-secrets', 'keep every stored secret value not given with --set-secret or --set-secret-file')
      .option('--stopped', 'install without starting')
      .option('--cpu <cores>', "resource limit over the package's: CPU cores (0.5 or 500m)")
      .option('--memory-max <size>', "resource limit over the package's: memory above which the service is OOM-killed (256Mi, 1G)")
      .option('--memory-high <size>', "resource limit over the package's: memory above which it is throttled (cgroup v2)")
      .option('--pids <n>', "resource limit over the package's: most processes and threads at once")
      .option('--resources-file <file>', 'resource limits from a YAML/JSON file ({cpu: 0.5, memoryMax: 256Mi, …}); the flags above win field by field. Without any: the package manifest\'s own')
      .option('--save-policy', 'keep these rollout flags on the deployment for its later changes too (replaces its saved policy)')
      .option('--wait', 'follow the rollout as rollout status -w does: exit 0 when it succeeded, 1 when it failed or the selector matches no agent, 5 when it paused'),
    ),
  )
    .addHelpText(
      'after',
      `
Secret values (--set-secret, --set-secret-file) reach templates like values; the server stores
them encrypted and shows only their keys (***) to everyone, in every answer. A deploy replaces
the whole deployment, so a secret not given again is removed: keep stored ones with
--keep-secret KEY or --keep-secrets.

A change of package, version, values or resource limits goes out as a staged rollout: a canary stage, then batches,
at most --max-in-flight agents at a time, each healthy for --min-healthy seconds before it counts;
past the error budget it pauses or rolls back (--on-failure). Follow it: corral rollout status NAME -w
(or deploy with --wait). A selector that matches no Corral agent gets a warning on stderr saying why
(e.g. a label key no agent has: "did you mean env?"), and --wait then fails.

The defaults shown are the built-in ones. A rollout flag not given is not sent: the deployment's
policy saved with --save-policy applies, then the server's (corral server --rollout-defaults).

Examples:
  corral deploy web --package hello@1.0.0 -s env=prod --set port=8080
  corral deploy web --package hello@1.0.0 -s env=prod --cpu 0.5 --memory-max 256Mi --pids 200
  corral deploy db --package pg@15.4.0 -s role=db --set port=5432 --set-secret-file password=./db-password
  corral deploy db --package pg@15.5.0 -s role=db --set port=5432 --keep-secrets
  corral deploy web --package hello@1.1.0 -s env=prod --canary 2 --manual-promote --batches 4 --max-in-flight 10%
  corral deploy web --package hello@1.1.0 -s env=prod --order-by cluster=eu,us --error-budget 5% --on-failure rollback`,
    )
    .action(
      async (
        name: string,
        flags: ConnectionFlags &
          RolloutFlags &
          ResourceFlags & { package: string; selector: string; set: string[]; setSecret: string[]; setSecretFile: string[]; keepSecret: string[]; keepSecrets?: boolean; stopped?: boolean; savePolicy?: boolean; wait?: boolean },
      ) => {
    const at = flags.package.lastIndexOf('@');
    if (at <= 0 || at === flags.package.length - 1) throw new CliError(`--package "${flags.package}": expected name@version`, 1, 'INVALID_ARGUMENT');
    const policy = rolloutPolicyFrom(flags);
    const resources = resourcesFrom(flags);
    const api = apiFor(flags, io);
    const secretValues = parseSecretValues(flags.setSecret, flags.setSecretFile, flags.keepSecret);
    if (flags.keepSecrets) {
      const current = await api.request<ApiDeployment>('GET', `/api/v1/deployments/${encodeURIComponent(name)}`).catch((e: unknown) => {
        if (e instanceof CliError && e.code === 'DEPLOYMENT_NOT_FOUND') return null;
        throw e;
      });
      for (const k of Object.keys(current?.secretValues ?? {})) if (!Object.hasOwn(secretValues, k)) secretValues[k] = '***';
    }
    const body = {
      name,
      package: flags.package.slice(0, at),
      version: flags.package.slice(at + 1),
      selector: flags.selector,
      values: parseValues(flags.set),
      ...(Object.keys(secretValues).length > 0 ? { secretValues } : {}),
      desiredState: flags.stopped ? 'stopped' : 'running',
      ...(resources ? { resources } : {}),
      ...(flags.savePolicy ? { policy: policy } : { rollout: policy }),
    };
    const res = await api.request<ApiDeployment & { rollout: string | null; targets: number; warnings: string[] }>('POST', '/api/v1/deployments', body);
    for (const w of res.warnings) io.stderr.write(`warning: ${w}\n`);
    if (flags.output === 'json') printJson(io, res);
    else {
      const agents = `${res.targets} agent${res.targets === 1 ? '' : 's'}`;
      io.stdout.write(
        `deployment ${res.name}: ${res.package}@${res.version} on '${res.selector}' (${agents}, ${res.desiredState})` +
          (res.rollout ? `; rollout ${res.rollout} started, follow it with: corral rollout status ${res.name} -w\n` : `; no content change, so no rollout\n`),
      );
    }
    if (!flags.wait) return;
    if (res.targets === 0) throw new CliError(res.warnings[0] ?? `selector '${res.selector}' matches no Corral agent`, EXIT.ERROR, 'NO_TARGETS');
    if (res.rollout) await followRollout(api, io, res.rollout, { output: flags.output, tty: io.stdoutIsTty ?? process.stdout.isTTY === true });
      },
    );

  const list = async (flags: ConnectionFlags) => {
    const res = await apiFor(flags, io).request<{ deployments: ApiDeployment[] }>('GET', '/api/v1/deployments');
    if (flags.output === 'json') return printJson(io, res);
    io.stdout.write(
      formatTable(['NAME', 'PACKAGE', 'REVISION', 'SELECTOR', 'STATE', 'UPDATED'], res.deployments.map((d) => [d.name, `${d.package}@${d.version}`, revisions(d), d.selector, d.desiredState, d.updatedAt])),
    );
  };
  withConnection(program.command('deployments').description('List deployments (also: deployment list)')).action(list);

  const deployment = program.command('deployment').description('Look at deployments: list, status');
  withConnection(deployment.command('list').description('List deployments (same as: deployments)')).action(list);
  withConnection(
    deployment
      .command('show')
      .description('One deployment: package, selector, values and the keys of its secret values (shown as ***, never their values)')
      .argument('<name>')
      .addHelpText('after', '\nExample:\n  corral deployment show db -o json'),
  ).action(async (name: string, flags: ConnectionFlags) => {
    const d = await apiFor(flags, io).request<ApiDeployment>('GET', `/api/v1/deployments/${encodeURIComponent(name)}`);
    if (flags.output === 'json') return printJson(io, d);
    io.stdout.write(`name:     ${d.name}\npackage:  ${d.package}@${d.version}\nselector: ${d.selector}\ndesired:  ${d.desiredState}\nrevision: ${revisions(d)}\nupdated:  ${d.updatedAt}\n`);
    const rows = [...Object.entries(d.values).map(([k, v]) => [k, v, '']), ...Object.entries(d.secretValues ?? {}).map(([k, v]) => [k, v, 'secret'])];
    if (rows.length > 0) io.stdout.write(`\n${formatTable(['VALUE', 'SETTING', ''], rows)}`);
  });
  withConnection(deployment.command('status').description("Per matching agent: the revision offered, whether it took it, and the service's health; and the newest rollout").argument('<name>')).action(
    async (name: string, flags: ConnectionFlags) => {
      const res = await apiFor(flags, io).request<ApiDeploymentStatus>('GET', `/api/v1/deployments/${encodeURIComponent(name)}/status`);
      if (flags.output === 'json') return printJson(io, res);
      const d = res.deployment;
      io.stdout.write(`${d.name}: ${d.package}@${d.version} on '${d.selector}', desired ${d.desiredState}, revision ${revisions(d)}\n`);
      const r = res.rollout;
      if (r) io.stdout.write(`newest ${r.kind} to r${r.toRevision}: ${r.state}${r.reason ? ` (${r.reason})` : ''}; see: corral rollout status ${d.name}\n`);
      if (res.agents.length === 0) io.stderr.write(`no Corral agent matches '${d.selector}'; see why with: corral agents -s '${d.selector}'\n`);
      io.stdout.write('\n');
      io.stdout.write(
        formatTable(
          ['AGENT', 'NAME', 'AGENT STATUS', 'REVISION', 'DESIRED STATE', 'SERVICE', 'HEALTH', 'ERROR'],
          res.agents.map((a) => [
            a.id.slice(-12),
            a.name,
            a.agentStatus,
            a.revision === null ? '-' : `r${a.revision}`,
            a.config,
            a.service?.status ?? '-',
            a.service ? healthWord(a.service) : '-',
            a.service?.lastError ?? '',
          ]),
        ),
      );
    },
  );

  for (const action of ['start', 'stop'] as const) {
    withConnection(
      program
        .command(action)
        .description(`${action === 'start' ? 'Start' : 'Stop'} a deployment's services everywhere (desired state: survives restarts of agents and server)`)
        .argument('<deployment>'),
    ).action(async (name: string, flags: ConnectionFlags) => {
      const res = await apiFor(flags, io).request<ApiDeployment>('POST', `/api/v1/deployments/${encodeURIComponent(name)}/${action}`);
      if (flags.output === 'json') return printJson(io, res);
      io.stdout.write(`deployment ${res.name} is now desired ${res.desiredState}\n`);
    });
  }

  withConnection(program.command('undeploy').description('Uninstall a deployment: its services stop and their files are removed').argument('<deployment>')).action(
    async (name: string, flags: ConnectionFlags) => {
      const res = await apiFor(flags, io).request<{ deleted: string }>('DELETE', `/api/v1/deployments/${encodeURIComponent(name)}`);
      if (flags.output === 'json') return printJson(io, res);
      io.stdout.write(`deployment ${res.deleted} removed\n`);
    },
  );
}
