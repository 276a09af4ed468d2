import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_CONFIG_HASH, classifySequence, noteReportedConfig, pendingConfigOffer, startOver } from './offer-state.js';
import type { Session } from './session.js';

function session(): Session {
  return {
    agentId: 'a',
    instanceUid: new Uint8Array(16),
    transport: 'http',
    principal: { kind: 'enrollment', tokenId: 't' },
    origin: '',
    lastSeq: null,
    lastSeenAt: 0,
    touchPending: false,
    online: true,
    capabilities: 0n,
    operatorLabels: {},
    attributes: {},
    offeredConfigHash: null,
    reportedConfigHash: null,
    offeredPackagesHash: null,
    reportedPackagesHash: null,
    capabilitiesSent: true,
    credentialOffered: false,
    services: {},
    customCapabilities: [],
    superseded: false,
  };
}

const desired = { configNames: ['c'], files: { 'a.yaml': { contentType: 'text/yaml', body: 'x' } }, hash: 'ab'.repeat(32) };

describe('offer state', () => {
  it('tells a continuing agent from a gap and from a restart', () => {
    assert.equal(classifySequence(null, 5n), 'first');
    assert.equal(classifySequence(5n, 6n), 'next');
    assert.equal(classifySequence(5n, 9n), 'gap');
    assert.equal(classifySequence(5n, 5n), 'gap');
    assert.equal(classifySequence(5n, 0n), 'restart');
    assert.equal(classifySequence(5n, 3n), 'restart');
    assert.equal(classifySequence(0n, 0n), 'restart');
  });

  it('offers once, not again while reports agree, and again when the agent reports something else', () => {
    const s = session();
    assert.ok(pendingConfigOffer(s, desired, true));
    assert.equal(pendingConfigOffer(s, desired, true), undefined, 'not twice in a row');
    noteReportedConfig(s, desired.hash);
    assert.equal(pendingConfigOffer(s, desired, true), undefined);
    noteReportedConfig(s, 'cd'.repeat(32));
    assert.equal(Buffer.from(pendingConfigOffer(s, desired, true)!.configHash).toString('hex'), desired.hash);
    assert.equal(pendingConfigOffer(session(), desired, false), undefined, 'never to an agent that does not accept remote config');
  });

  it('a restart forgets offers and reports; a gap forgets offers only', () => {
    const s = session();
    pendingConfigOffer(s, desired, true);
    noteReportedConfig(s, desired.hash);
    startOver(s, 'gap', {});
    assert.equal(s.offeredConfigHash, null);
    assert.equal(s.reportedConfigHash, desired.hash);
    startOver(s, 'restart', {});
    assert.equal(s.reportedConfigHash, null);
    assert.ok(pendingConfigOffer(s, desired, true));
  });

  it('drops a config once and does not loop when the agent reports the empty config back', () => {
    const s = session();
    noteReportedConfig(s, desired.hash);
    const drop = pendingConfigOffer(s, null, true)!;
    assert.equal(Buffer.from(drop.configHash).toString('hex'), EMPTY_CONFIG_HASH);
    noteReportedConfig(s, EMPTY_CONFIG_HASH);
    assert.equal(pendingConfigOffer(s, null, true), undefined);
    startOver(s, 'restart', {});
    assert.equal(pendingConfigOffer(s, null, true), undefined, 'nothing to drop for an agent that reports nothing');
  });
});
