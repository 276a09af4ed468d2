/** What the agent says about itself and its host (OpenTelemetry semantic conventions). */
import { readFileSync } from 'node:fs';
import { arch, cpus, hostname, release, totalmem, version } from 'node:os';
import { CORRAL_AGENT_SERVICE_NAME } from '../protocol/index.js';

/** Set by `npm run build:agent` (esbuild's define) in the bundle and the single executable; else package.json's. */
declare const CORRAL_BUILD_VERSION: string | undefined;

export const AGENT_VERSION: string =
  typeof CORRAL_BUILD_VERSION === 'string'
    ? CORRAL_BUILD_VERSION
    : (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm32', ia32: 'x86', ppc64: 'ppc64', s390x: 's390x' };

export function describeAgent(opts: { instanceUid: string; name: string; labels: Record<string, string> }) {
  const identifying = {
    'service.name': CORRAL_AGENT_SERVICE_NAME,
    'service.version': AGENT_VERSION,
    'service.instance.id': opts.instanceUid,
  };
  const nonIdentifying: Record<string, string> = {
    'host.name': hostname(),
    'os.type': process.platform,
    'os.description': version(),
    'os.version': release(),
    'host.arch': ARCH[arch()] ?? arch(),
    'host.cpu.count': String(cpus().length),
    'host.memory.total_bytes': String(totalmem()),
    'corral.agent.name': opts.name,
  };
  for (const [k, v] of Object.entries(opts.labels)) nonIdentifying[`corral.label.${k}`] = v;
  return { identifying, nonIdentifying };
}
