import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentRecord, PackageRecord } from '../store/index.js';
import { compileAgentDeployments } from './package-offer.js';
import { compileDesiredState } from '../fleet/desired-state.js';
import { offeredArtifacts } from './offered-artifacts.js';

const sha = (c: string) => c.repeat(64);
const pkg = (name: string, version: string, kind: 'agent' | 'service', arch: string, c: string): PackageRecord => ({
  name,
  version,
  os: 'linux',
  arch,
  sha256: sha(c),
  size: 10,
  signature: 'ab'.repeat(64),
  manifest: { kind },
  createdAt: 0,
});
const deployment = (name: string, pkgName: string, version: string, selector: string): DeploymentRecord => ({
  name,
  package: pkgName,
  version,
  selector,
  values: {},
  secretValues: {},
  desiredState: 'running',
  revision: 1,
  stableRevision: 1,
  policy: {},
  createdAt: 0,
  updatedAt: 0,
});
/** What selectableAttributes makes of a Corral agent: reports as claim.*, its trusted env label plain. */
const agent = (env: string, arch = 'amd64') => ({ 'claim.service.name': 'io.corral.agent', 'claim.os.type': 'linux', 'claim.host.arch': arch, env });

describe('offered artifacts', () => {
  const packages = [
    pkg('corral-agent', '2.0.0', 'agent', 'amd64', 'a'),
    pkg('corral-agent', '2.0.0', 'agent', 'arm64', 'b'),
    pkg('hello', '1.0.0', 'service', 'amd64', 'c'),
    pkg('hello', '1.0.0', 'service', 'arm64', 'd'),
    pkg('hello', '2.0.0', 'service', 'amd64', 'e'),
  ];
  const deployments = [deployment('agents', 'corral-agent', '2.0.0', 'env=prod'), deployment('web', 'hello', '1.0.0', 'env=prod')];
  const revisions = deployments.map((d) => ({ deployment: d.name, revision: 1, package: d.package, version: d.version, values: {}, secretValues: {}, createdAt: 0 }));
  const desired = compileDesiredState({ configs: [], deployments, revisions, packages, agentRevisions: [] });
  const agentPackages = compileAgentDeployments(deployments, packages);

  it("offers a matching agent its deployments' artifacts (every platform) and its own package for its platform", () => {
    assert.deepEqual([...offeredArtifacts(desired, agentPackages, 'a1', agent('prod'))].sort(), [sha('a'), sha('c'), sha('d')]);
    assert.deepEqual([...offeredArtifacts(desired, agentPackages, 'a2', agent('prod', 'arm64'))].sort(), [sha('b'), sha('c'), sha('d')]);
  });

  it('offers nothing to an agent no deployment matches, and never a version it was not released', () => {
    assert.deepEqual([...offeredArtifacts(desired, agentPackages, 'a3', agent('dev'))], []);
    for (const a of ['a1', 'a3']) assert.equal(offeredArtifacts(desired, agentPackages, a, agent('prod')).has(sha('e')), false);
  });
});
