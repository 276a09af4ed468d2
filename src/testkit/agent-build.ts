/**
 * The self-contained agent builds for end-to-end tests and benchmarks:
 * `buildAgent()` runs `scripts/build-agent.mjs` (what `npm run build:agent`
 * runs) into a directory of the test's own, and `agentLaunch()` says how to
 * start an agent from the result, for `Fleet.start({ agentLaunch })`.
 *
 *   checkout  node AGENT_NODE_FLAGS dist/bin/corral.js   (today's agent)
 *   bundle    node AGENT_NODE_FLAGS DIR/bundle/dist/bin/corral.js
 *   sea       DIR/sea/linux-ARCH/corral-agent           (node flags cannot be given to it)
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_FLAGS } from '../agent/index.js';
import { CORRAL_BIN, type Launch } from './processes.js';

export type AgentBuild = 'checkout' | 'bundle' | 'sea';
export const AGENT_BUILDS: readonly AgentBuild[] = ['checkout', 'bundle', 'sea'];

const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/build-agent.mjs', import.meta.url));

export interface BuildAgentOptions {
  /** Where to write (the script's --out-dir). */
  outDir: string;
  version?: string;
  sea?: boolean;
  /** Package without the node runtime (linux/any). Default false. */
  noRuntime?: boolean;
  /** Build the bundle (and SEA) only. Default false. */
  noPackage?: boolean;
  /** The platforms (--arch: amd64, arm64 or both); default this machine's. */
  arch?: string;
  timeoutMs?: number;
}

/** Runs the build; resolves with its output, rejects with its stderr. */
export function buildAgent(opts: BuildAgentOptions): Promise<string> {
  const args = [BUILD_SCRIPT, '--out-dir', opts.outDir];
  if (opts.version) args.push('--version', opts.version);
  if (opts.sea) args.push('--sea');
  if (opts.noRuntime) args.push('--no-runtime');
  if (opts.noPackage) args.push('--no-package');
  if (opts.arch) args.push('--arch', opts.arch);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`build-agent ${args.slice(1).join(' ')} failed (${code ?? signal}): ${err}`));
    });
  });
}

/** How to start an agent of `build`; `outDir` is where `buildAgent` wrote (not needed for checkout). */
export function agentLaunch(build: AgentBuild, outDir = ''): Launch {
  switch (build) {
    case 'checkout':
      return { command: process.execPath, args: [...AGENT_NODE_FLAGS, CORRAL_BIN] };
    case 'bundle':
      return { command: process.execPath, args: [...AGENT_NODE_FLAGS, agentBundleScript(outDir)] };
    case 'sea':
      return { command: agentSeaFile(outDir), args: [] };
  }
}

export const agentBundleScript = (outDir: string) => join(outDir, 'bundle', 'dist', 'bin', 'corral.js');
/** The corral-agent architecture name of this machine (what the build's --arch defaults to). */
export const HOST_ARCH = process.arch === 'x64' ? 'amd64' : process.arch;
/** The single executable `buildAgent({ sea: true })` wrote for `arch`. */
export const agentSeaFile = (outDir: string, arch = HOST_ARCH) => join(outDir, 'sea', `linux-${arch}`, 'corral-agent');
