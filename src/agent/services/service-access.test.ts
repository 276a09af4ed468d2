import { it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grantServiceAccess } from './service-access.js';
import { RunAsError, resolveUser } from './run-as.js';

const root = process.getuid?.() === 0;

it('opens the data dir just enough for a run.user service, and keeps the agent files private', { skip: root ? false : 'needs root (chown)' }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'corral-access-'));
  const dataDir = join(base, 'data');
  mkdirSync(join(dataDir, 'services', 'other'), { recursive: true, mode: 0o755 });
  mkdirSync(join(dataDir, 'downloads'), { mode: 0o755 });
  writeFileSync(join(dataDir, 'identity.json'), '{}', { mode: 0o600 });
  const nobody = resolveUser('nobody', 0);
  const serviceDir = join(dataDir, 'services', 'web');

  chmodSync(base, 0o700);
  await assert.rejects(grantServiceAccess({ dataDir, serviceDir, user: nobody }), (e: unknown) => e instanceof RunAsError && e.message.includes(`${base} (mode 700) is not searchable`));

  chmodSync(base, 0o711);
  await grantServiceAccess({ dataDir, serviceDir, user: nobody });
  const mode = (p: string) => statSync(p).mode & 0o777;
  assert.equal(mode(dataDir), 0o711);
  assert.equal(mode(join(dataDir, 'downloads')), 0o700);
  assert.equal(mode(join(dataDir, 'identity.json')), 0o600);
  assert.equal(mode(serviceDir), 0o750);
  assert.equal(statSync(serviceDir).gid, nobody.gid);
  assert.equal(statSync(join(serviceDir, 'logs', 'stdout.log')).uid, nobody.uid);

  // Back to root: the group's access is taken back.
  await grantServiceAccess({ dataDir, serviceDir, user: undefined });
  assert.equal(mode(serviceDir), 0o700);
  assert.equal(statSync(serviceDir).gid, 0);
});
