import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INSTALL_COMPONENT, deploymentFileName, installFailedStatus } from '../../protocol/index.js';
import type { AgentRecord, HealthRecord } from '../store/index.js';
import { observe } from './rollout-driver.js';

const health = (status: string, lastError: string, components: Record<string, HealthRecord> = {}): HealthRecord => ({ healthy: false, startTimeMs: 0, lastError, status, statusTimeMs: 0, components });

/** An online agent running revision 1 of `web`, whose install of `failedRevision` failed. */
function agent(failedRevision: number): AgentRecord {
  const install = health(installFailedStatus(failedRevision), '1.0.0: templates/app.conf: no value for {{ port }}');
  return {
    id: 'a1',
    kind: 'corral',
    name: 'a1',
    status: 'online',
    labels: {},
    identifyingAttributes: {},
    nonIdentifyingAttributes: {},
    capabilities: 0,
    health: { ...health('running', ''), healthy: true, components: { web: health('running', '1.0.0: templates/app.conf: no value for {{ port }}', { [INSTALL_COMPONENT]: install }) } },
    effectiveConfig: { files: { [deploymentFileName('web')]: { contentType: 'application/vnd.corral.deployment+json', body: JSON.stringify({ name: 'web', revision: 1 }) } } },
    remoteConfigStatus: null,
    packageStatuses: null,
    credentialHash: null,
    firstSeenAt: 0,
    lastSeenAt: 0,
    lastSequenceNum: 0,
    revokedAt: null,
  };
}

test('an install failure the agent reports for the target revision fails it at once, with the reason', () => {
  const o = observe(agent(2), 'web', 2);
  assert.equal(o.failed, 'install failed: 1.0.0: templates/app.conf: no value for {{ port }}');
  assert.equal(o.revision, 1);
});

test('an install failure of an earlier revision is stale: it does not fail the revision rolling out now', () => {
  assert.equal(observe(agent(1), 'web', 2).failed, null);
});
