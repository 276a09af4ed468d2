import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { judgeOfferedEndpoint } from './endpoint-policy.js';

describe('judgeOfferedEndpoint', () => {
  it('refuses a move from wss:// to plain-text ws:// on the same host', () => {
    const d = judgeOfferedEndpoint('wss://corral.example:443/v1/opamp', 'ws://corral.example:443/v1/opamp');
    assert.deepEqual(d, { accept: false, reason: 'offered endpoint ws://corral.example:443 would move the agent from wss:// to plain-text ws://' });
  });

  it('refuses another origin, a bind address included', () => {
    const d = judgeOfferedEndpoint('ws://corral.example:4320/v1/opamp', 'ws://0.0.0.0:4320/v1/opamp');
    assert.equal(d.accept, false);
    assert.match((d as { reason: string }).reason, /ws:\/\/0\.0\.0\.0:4320 is not the server the agent is configured with \(ws:\/\/corral\.example:4320\)/);
  });

  it('refuses http(s) endpoints, garbage and user info', () => {
    assert.match((judgeOfferedEndpoint('wss://a:1/v1/opamp', 'https://a:1/v1/opamp') as { reason: string }).reason, /not a WebSocket URL/);
    assert.match((judgeOfferedEndpoint('wss://a:1/v1/opamp', 'not a url') as { reason: string }).reason, /is not a URL/);
    assert.match((judgeOfferedEndpoint('wss://a:1/v1/opamp', 'wss://u:p@a:1/v1/opamp') as { reason: string }).reason, /user info/);
  });

  it('accepts the same origin, a new path, and an upgrade from ws:// to wss://', () => {
    assert.deepEqual(judgeOfferedEndpoint('wss://a:1/v1/opamp', 'wss://a:1/corral/v1/opamp'), { accept: true, url: 'wss://a:1/corral/v1/opamp' });
    assert.deepEqual(judgeOfferedEndpoint('ws://a:1/v1/opamp', 'wss://a:1/v1/opamp'), { accept: true, url: 'wss://a:1/v1/opamp' });
  });
});
