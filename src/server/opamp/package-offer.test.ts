import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PackageType } from '../../protocol/index.js';
import type { DeploymentRecord, PackageRecord } from '../store/index.js';
import { agentPackageFor, compileAgentDeployments, isAgentDeployment, topLevelPackageOffer } from './package-offer.js';
import { compileDesiredState } from '../fleet/desired-state.js';

const sha = (c: string) => c.repeat(64);
const pkg = (name: string, version: string, kind: 'agent' | 'service', arch = 'amd64', c = 'a'): PackageRecord => ({
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
const deployment = (name: string, pkgName: string, version: string, selector = ''): DeploymentRecord => ({
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
/** What selectableAttributes makes of a Corral agent: reports as claim.*, trusted labels plain. */
const corral = { 'claim.service.name': 'io.corral.agent', 'claim.os.type': 'linux', 'claim.host.arch': 'amd64', env: 'prod' };

describe('agent package offer', () => {
  const packages = [pkg('corral-agent', '2.0.0', 'agent'), pkg('corral-agent', '3.0.0', 'agent', 'arm64', 'b'), pkg('hello', '1.0.0', 'service', 'any', 'c')];
  const deployments = [deployment('agents', 'corral-agent', '2.0.0', 'env=prod'), deployment('web', 'hello', '1.0.0')];

  it('offers a kind: agent deployment as the top-level package, not as a deployment config file', () => {
    assert.equal(isAgentDeployment(deployments[0]!, packages), true);
    const revisions = deployments.map((d) => ({ deployment: d.name, revision: 1, package: d.package, version: d.version, values: {}, secretValues: {}, createdAt: 0 }));
    const desired = compileDesiredState({ configs: [], deployments, revisions, packages, agentRevisions: [] });
    assert.deepEqual(desired.forAgent('agent-1', corral).desired?.configNames, ['deployment/web@1']);
    const chosen = agentPackageFor(compileAgentDeployments(deployments, packages), corral);
    assert.equal(chosen?.deployment.name, 'agents');
    const { offer, allPackagesHash } = topLevelPackageOffer(chosen!.deployment, chosen!.artifact, { baseUrl: 'http://s:1', authorization: 'Bearer x' });
    const p = offer.packages['']!;
    assert.equal(p.type, PackageType.PackageType_TopLevel);
    assert.equal(p.version, '2.0.0');
    assert.equal(p.file?.downloadUrl, `http://s:1/api/v1/artifacts/${sha('a')}`);
    assert.equal(Buffer.from(p.file!.contentHash).toString('hex'), sha('a'));
    assert.equal(Buffer.from(p.file!.signature).toString('hex'), 'ab'.repeat(64));
    assert.deepEqual(p.file?.headers?.headers.map((h) => [h.key, h.value]), [['Authorization', 'Bearer x']]);
    assert.equal(Buffer.from(offer.allPackagesHash).toString('hex'), allPackagesHash);
  });

  it('hashes what the agent installs, not who downloads it', () => {
    const a = topLevelPackageOffer({ version: '2.0.0' }, packages[0]!, { baseUrl: 'http://s:1', authorization: 'Bearer x' });
    const b = topLevelPackageOffer({ version: '2.0.0' }, packages[0]!, { baseUrl: 'http://t:2', authorization: 'Bearer y' });
    const c = topLevelPackageOffer({ version: '2.0.1' }, packages[0]!, { baseUrl: 'http://s:1' });
    assert.equal(a.allPackagesHash, b.allPackagesHash);
    assert.notEqual(a.allPackagesHash, c.allPackagesHash);
  });

  it("carries the publisher's signature after the server's, and offers anew once a package is signed", () => {
    const unsigned = topLevelPackageOffer({ version: '2.0.0' }, packages[0]!, { baseUrl: 'http://s:1' });
    const signed = topLevelPackageOffer({ version: '2.0.0' }, { ...packages[0]!, publisherSignature: 'cd'.repeat(64) }, { baseUrl: 'http://s:1' });
    assert.equal(Buffer.from(signed.offer.packages['']!.file!.signature).toString('hex'), 'ab'.repeat(64) + 'cd'.repeat(64));
    assert.notEqual(signed.allPackagesHash, unsigned.allPackagesHash);
  });

  it('offers nothing to agents the selector, the kind or the platform leave out', () => {
    const compiled = compileAgentDeployments(deployments, packages);
    assert.equal(agentPackageFor(compiled, { ...corral, env: 'dev' }), null);
    assert.equal(agentPackageFor(compiled, { ...corral, 'claim.service.name': 'io.opentelemetry.collector' }), null);
    assert.equal(agentPackageFor(compiled, { ...corral, 'claim.host.arch': 'arm64' }), null);
  });

  it('lets the deployment whose name sorts last win when several match', () => {
    const both = [...deployments, deployment('zz-canary', 'corral-agent', '3.0.0')];
    const chosen = agentPackageFor(compileAgentDeployments(both, packages), { ...corral, 'claim.host.arch': 'arm64' });
    assert.equal(chosen?.deployment.name, 'zz-canary');
    assert.equal(chosen?.artifact.sha256, sha('b'));
  });
});
