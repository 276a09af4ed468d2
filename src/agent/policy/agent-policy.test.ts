import { it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentPolicyError, DEFAULT_AGENT_POLICY, loadAgentPolicy, parseAgentPolicy } from './agent-policy.js';

const FULL = `version: 1
exec:
  enabled: true
  allow: [uptime, [systemctl, status]]
  maxTimeoutSeconds: 300
services:
  allowRoot: false
  allowedUsers: [svc-web]
path: /usr/bin:/bin
`;

it('parses every field of a policy file and fills in defaults', () => {
  assert.deepEqual(parseAgentPolicy(FULL, '/p.yaml'), {
    source: '/p.yaml',
    exec: { enabled: true, allow: ['uptime', ['systemctl', 'status']], maxTimeoutMs: 300_000 },
    services: { allowRoot: false, allowedUsers: ['svc-web'], allowUnenforcedLimits: false },
    packages: { publisherKeys: [] },
    path: '/usr/bin:/bin',
  });
  assert.deepEqual(parseAgentPolicy('version: 1\n', '/p.yaml'), { ...DEFAULT_AGENT_POLICY, source: '/p.yaml' });
});

it('refuses unknown keys, a missing version and bad values, naming the field', () => {
  const bad = (text: string, re: RegExp) => assert.throws(() => parseAgentPolicy(text, '/p.yaml'), (e: unknown) => e instanceof AgentPolicyError && re.test(e.message));
  bad('version: 1\nexec: {enable: false}\n', /exec: .*enable/);
  bad('version: 1\nsurprise: true\n', /surprise/);
  bad('exec: {enabled: false}\n', /version: must be 1/);
  bad('', /version/);
  bad('version: 2\n', /version: must be 1/);
  bad('version: 1\nexec: {maxTimeoutSeconds: -1}\n', /exec.maxTimeoutSeconds/);
  bad('version: 1\nservices: {allowRoot: "no"}\n', /services.allowRoot/);
  bad('version: 1\npath: bin:/usr/bin\n', /path: every directory must be absolute/);
  bad('version: 1\nexec: [\n', /not valid YAML/);
  bad('version: 1\npackages: {publisherKeys: [not-a-key]}\n', /packages.publisherKeys.0: not a PEM public key/);
});

it('uses the defaults when the file is absent, and refuses a file or directory others can change', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-policy-'));
  assert.equal(loadAgentPolicy(join(dir, 'absent.yaml')), DEFAULT_AGENT_POLICY);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, FULL, { mode: 0o644 });
  assert.equal(loadAgentPolicy(file).exec.maxTimeoutMs, 300_000);
  chmodSync(file, 0o666);
  assert.throws(() => loadAgentPolicy(file), /writable by group or others \(mode 666\)/);
  chmodSync(file, 0o644);
  chmodSync(dir, 0o777);
  assert.throws(() => loadAgentPolicy(file), /directory .* is writable by group or others/);
  chmodSync(dir, 0o700);
  if (process.getuid?.() === 0) {
    chownSync(file, 65534, 65534);
    assert.throws(() => loadAgentPolicy(file), /must be owned by root \(it is owned by uid 65534\)/);
  }
});
