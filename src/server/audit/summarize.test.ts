/** What audit summaries keep and what they never keep (secrets), per route, and that they stay bounded. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MAX_SUMMARY_CHARS, needsResponse, summarizeRequest, type AuditRequestView } from './summarize.js';
import { canonicalJson } from './chain.js';

const view = (over: Partial<AuditRequestView>): AuditRequestView => ({ method: 'POST', route: '/api/v1/x', params: {}, body: undefined, response: undefined, ...over });
const text = (s: ReturnType<typeof summarizeRequest>) => JSON.stringify(s);

describe('audit summaries', () => {
  it('records a deployment by package, version, selector, state and value keys, masking secret values', () => {
    const s = summarizeRequest(
      view({
        route: '/api/v1/deployments',
        body: { name: 'web', package: 'nginx', version: '1.2.3', selector: 'env=prod', desiredState: 'running', values: { port: '8080', dbPassword: 'plain-but-private' }, secretValues: { apiKey: 'sk-live-123456' } },
        response: { rollout: 'r-1', targets: 3 },
      }),
    );
    assert.deepEqual(s.target, { deployment: 'web', selector: 'env=prod' });
    assert.deepEqual(s.summary, { package: 'nginx', version: '1.2.3', selector: 'env=prod', desiredState: 'running', valueKeys: ['dbPassword', 'port'], secretValues: { apiKey: '***' }, rollout: 'r-1', targets: 3 });
    assert.ok(!text(s).includes('plain-but-private') && !text(s).includes('sk-live-123456') && !text(s).includes('8080'));
  });

  it('records config files by size and sha256, a secret one by size only', () => {
    const s = summarizeRequest(
      view({ method: 'PUT', route: '/api/v1/configs/{name}', params: { name: 'app' }, body: { selector: 'env=prod', files: { 'a.yaml': { contentType: 'text/yaml', body: 'hello' }, 'key.pem': { body: 'PRIVATE-KEY-BYTES', secret: true } } } }),
    );
    assert.deepEqual(s.summary.files, {
      'a.yaml': { size: 5, sha256: createHash('sha256').update('hello').digest('hex'), contentType: 'text/yaml' },
      'key.pem': { size: 17, secret: true, body: '***' },
    });
    assert.deepEqual(s.target, { config: 'app', selector: 'env=prod' });
    assert.ok(!text(s).includes('PRIVATE-KEY-BYTES') && !text(s).includes(createHash('sha256').update('PRIVATE-KEY-BYTES').digest('hex')));
  });

  it("never records an enrollment token's secret from the answer, only its id", () => {
    const s = summarizeRequest(view({ route: '/api/v1/enrollment-tokens', body: { name: 'ci', labels: { env: 'ci' } }, response: { id: 'tok-1', token: 'corral_enroll_SECRET' } }));
    assert.deepEqual(s.target, { enrollmentToken: 'tok-1' });
    assert.ok(!text(s).includes('corral_enroll_SECRET'));
  });

  it('records an exec command and the agents it ran on, bounded', () => {
    const hosts = Array.from({ length: 150 }, (_, i) => ({ agentId: `a-${i}` }));
    const s = summarizeRequest(view({ route: '/api/v1/jobs', body: { selector: 'env=prod', command: ['uptime'], timeoutSeconds: 60 }, response: { id: 'job-1', hosts } }));
    assert.deepEqual(s.summary.command, ['uptime']);
    assert.equal(s.target.job, 'job-1');
    assert.equal((s.target.agentIds as string[]).length, 100);
    assert.equal(s.target.agentCount, 150);
    const huge = summarizeRequest(view({ route: '/api/v1/jobs', body: { selector: '', command: Array.from({ length: 1024 }, () => 'x'.repeat(8192)) } }));
    assert.equal(huge.summary.commandTruncated, true);
    assert.equal(huge.summary.commandArgs, 1024);
    assert.ok(canonicalJson(huge.summary).length <= MAX_SUMMARY_CHARS);
  });

  it('records only field names and descriptive fields of routes it does not know, masking secret-looking ones', () => {
    const s = summarizeRequest(
      view({ method: 'PATCH', route: '/api/v1/users/{name}', params: { name: 'alice' }, body: { name: 'laptop', expiresIn: '30d', password: 'hunter2', roles: [{ role: 'operator', selector: 'env=staging', apiToken: 'x' }], note: 'free text' } }),
    );
    assert.deepEqual(s.target, { name: 'alice' });
    assert.deepEqual(s.summary, { fields: ['expiresIn', 'name', 'note', 'password', 'roles'], name: 'laptop', expiresIn: '30d', roles: [{ role: 'operator', selector: 'env=staging', apiToken: '***' }] });
    assert.ok(!text(s).includes('hunter2') && !text(s).includes('free text'));
  });

  it('records an API token made or revoked by its id, name and expiry, never its secret', () => {
    const secret = 'corral_user_abcdEFGHijklMNOPqrstUVWXyz0123456789abcdefgh';
    const answer = { id: 't-1', name: 'ci', prefix: 'corral_user_abcd', expiresAt: '2026-03-01T00:00:00.000Z', parentId: 't-0', token: secret };
    for (const route of ['/api/v1/whoami/tokens', '/api/v1/users/{name}/tokens']) {
      const params: Record<string, string> = route.includes('{name}') ? { name: 'alice' } : {};
      assert.ok(needsResponse('POST', route));
      const s = summarizeRequest(view({ route, params, body: { name: 'ci', expiresIn: '30d' }, response: answer }));
      assert.deepEqual(s.summary, { name: 'ci', expiresIn: '30d', expires: '2026-03-01T00:00:00.000Z', parentToken: 't-0' });
      assert.deepEqual(s.target, { ...params, id: 't-1' });
      assert.ok(!text(s).includes(secret.slice(16)));
    }
    const revoked = summarizeRequest(view({ method: 'DELETE', route: '/api/v1/whoami/tokens/{id}', params: { id: 't-1' }, response: { ...answer, alsoRevoked: ['t-2', 't-3'] } }));
    assert.deepEqual(revoked, { summary: { alsoRevoked: ['t-2', 't-3'], alsoRevokedCount: 2 }, target: { id: 't-1' } });
  });

  it('replaces an oversized part by its field names and hash', () => {
    const labels = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'.repeat(200)]));
    const s = summarizeRequest(view({ method: 'PATCH', route: '/api/v1/agents/{id}', params: { id: 'a-1' }, body: { labels } }));
    assert.equal(s.summary.truncated, true);
    assert.match(String(s.summary.sha256), /^[0-9a-f]{64}$/);
    assert.deepEqual(s.target, { agentIds: ['a-1'], agentCount: 1 });
  });
});
