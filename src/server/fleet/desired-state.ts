/**
 * Everything an agent should be offered, as config entries: the operator's
 * named configs, plus one entry per deployment (for Corral agents only),
 * carrying the deployment spec and its per-platform artifacts.
 */
import {
  DEPLOYMENT_CONTENT_TYPE,
  deploymentFileName,
  type DeploymentSpec,
} from '../../protocol/index.js';
import type { ConfigRecord, DeploymentRecord, PackageRecord, Store } from '../store/index.js';
import { compileConfigs, hashConfigFiles, type CompiledConfig } from './remote-config.js';
import { parseSelector } from './selector.js';
import { isAgentDeployment } from '../opamp/package-offer.js';

export const CORRAL_AGENT_SERVICE_NAME = 'io.corral.agent';

export function deploymentSpec(d: DeploymentRecord, packages: PackageRecord[]): DeploymentSpec {
  return {
    apiVersion: 'corral.io/v1',
    name: d.name,
    package: d.package,
    version: d.version,
    desiredState: d.desiredState,
    values: d.values,
    artifacts: packages
      .filter((p) => p.name === d.package && p.version === d.version)
      .map((p) => ({ os: p.os, arch: p.arch, sha256: p.sha256, signature: p.signature, size: p.size, path: `/api/v1/artifacts/${p.sha256}` })),
  };
}

export function compileDesiredState(configs: ConfigRecord[], deployments: DeploymentRecord[], packages: PackageRecord[]): CompiledConfig[] {
  const compiled = compileConfigs(configs);
  for (const d of deployments) {
    // The agent's own package travels as an OpAMP top-level package offer (opamp/package-offer.ts).
    if (isAgentDeployment(d, packages)) continue;
    const spec = deploymentSpec(d, packages);
    if (spec.artifacts.length === 0) continue;
    const files = { [deploymentFileName(d.name)]: { contentType: DEPLOYMENT_CONTENT_TYPE, body: JSON.stringify(spec) } };
    const selector = parseSelector(d.selector);
    compiled.push({
      record: { name: `deployment/${d.name}`, selector: d.selector, files, hash: hashConfigFiles(files), createdAt: d.createdAt, updatedAt: d.updatedAt },
      // Deployments run services: only Corral agents can take them.
      selector: { ...selector, requirements: [...selector.requirements, { op: 'eq', key: 'service.name', value: CORRAL_AGENT_SERVICE_NAME }] },
    });
  }
  return compiled.sort((a, b) => (a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0));
}

export async function loadDesiredState(store: Store): Promise<CompiledConfig[]> {
  const [configs, deployments, packages] = await Promise.all([store.listConfigs(), store.listDeployments(), store.listPackages()]);
  return compileDesiredState(configs, deployments, packages);
}
