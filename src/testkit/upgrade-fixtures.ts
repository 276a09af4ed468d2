/**
 * What the agent self-upgrade tests share: a real service to keep running
 * through upgrades, and two agent packages — a good one built from this
 * checkout by the script operators use, and one whose agent exits at start.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.js';
import type { Fleet } from './fleet.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const SERVICE_MANIFEST = `apiVersion: corral.io/v1
name: ticker
version: 1.0.0
run:
  command: node
  args: ["-e", "setInterval(() => {}, 1000)"]
health: {type: process}
`;

const BAD_AGENT_MANIFEST = `apiVersion: corral.io/v1
kind: agent
name: corral-agent
version: 9.9.9-bad
platforms: [{os: linux, arch: any}]
agent: {entry: dist/bin/corral.js}
`;

async function push(fleet: Fleet, file: string): Promise<void> {
  const pushed = await fleet.cli('package', 'push', file);
  if (pushed.code !== 0) throw new Error(`package push ${file}: ${pushed.stderr}`);
}

async function buildAndPush(fleet: Fleet, dir: string, out: string): Promise<void> {
  const built = await fleet.cli('package', 'build', dir, '--out', out);
  if (built.code !== 0) throw new Error(`package build ${dir}: ${built.stderr}`);
  await push(fleet, out);
}

/** Deploys the `ticker` service on `env=prod` and returns its pid once it runs. */
export async function deployTicker(fleet: Fleet, work: string, servicePid: () => number | null): Promise<number> {
  const dir = join(work, 'ticker');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'corral.yaml'), SERVICE_MANIFEST);
  await buildAndPush(fleet, dir, join(work, 'ticker.tar.gz'));
  const deployed = await fleet.cli('deploy', 'ticker', '--package', 'ticker@1.0.0', '-s', 'env=prod');
  if (deployed.code !== 0) throw new Error(`deploy ticker: ${deployed.stderr}`);
  return eventually(() => servicePid() ?? undefined, { timeoutMs: 30_000, what: 'the ticker service running' });
}

/** Publishes corral-agent 9.9.9-good (this checkout, via scripts/package-agent.mjs) and 9.9.9-bad (exits 3 at start). */
export async function publishAgentVersions(fleet: Fleet, work: string): Promise<void> {
  const good = join(work, 'agent-good.tar.gz');
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package-agent.mjs'), '--version', '9.9.9-good', '--out', good], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`package-agent: ${built.stderr}`);
  await push(fleet, good);
  const bad = join(work, 'agent-bad');
  await mkdir(join(bad, 'dist', 'bin'), { recursive: true });
  await writeFile(join(bad, 'corral.yaml'), BAD_AGENT_MANIFEST);
  await writeFile(join(bad, 'package.json'), JSON.stringify({ name: 'corral', version: '9.9.9-bad', type: 'module' }));
  await writeFile(join(bad, 'dist', 'bin', 'corral.js'), "console.error('corral 9.9.9-bad: cannot start'); process.exit(3);\n");
  await buildAndPush(fleet, bad, join(work, 'agent-bad.tar.gz'));
}
