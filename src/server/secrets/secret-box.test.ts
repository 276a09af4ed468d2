import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretBox, SecretsKeyFileError, SecretUnreadableError, SecretsKeyMissingError } from './secret-box.js';
import { changedSecrets } from '../rollouts/rollout-service.js';
import { maskConfigFiles, maskSecretValues, resolveConfigFiles, resolveDeploymentSecrets, SECRET_MASK } from './secret-fields.js';
import { scrubEffectiveConfig } from './effective-config-scrub.js';
import { ValidationError } from '../errors.js';

const box = SecretBox.fromKey(randomBytes(32), 'test key');
const other = SecretBox.fromKey(randomBytes(32), 'other key');

describe('secret box (AES-256-GCM, key outside the database)', () => {
  it('seals to text without the plaintext and opens it again for the same context only', () => {
    const sealed = box.seal('hunter2-password', 'deployment/db/value/password');
    assert.doesNotMatch(sealed, /hunter2/);
    assert.match(sealed, new RegExp(`^cs1\\.${box.keyId}\\.`));
    assert.notEqual(box.seal('hunter2-password', 'deployment/db/value/password'), sealed, 'a fresh IV every time');
    assert.equal(box.open(sealed, 'deployment/db/value/password', 'x'), 'hunter2-password');
    assert.throws(() => box.open(sealed, 'deployment/other/value/password', 'secret value password of deployment other'), (e: unknown) => e instanceof SecretUnreadableError && /password of deployment other: authentication failed/.test(e.message));
  });

  it('names the value and both keys when the key is another one, and refuses altered text', () => {
    const sealed = box.seal('v', 'c');
    assert.throws(() => other.open(sealed, 'c', 'secret value pw of deployment db'), (e: unknown) => e instanceof SecretUnreadableError && e.message.includes(box.keyId) && e.message.includes(other.keyId) && e.message.includes('pw of deployment db'));
    const parts = sealed.split('.');
    parts[4] = Buffer.from('tampered').toString('base64url');
    assert.throws(() => box.open(parts.join('.'), 'c', 'w'), SecretUnreadableError);
    assert.throws(() => box.open('plain text', 'c', 'w'), /not a sealed secret/);
  });

  it('creates a missing key file 0600 (SQLite default), refuses a group-readable or malformed one, and requires one to exist when told', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-key-'));
    const file = join(dir, 'secrets.key');
    const made = SecretBox.load(file, { create: true });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(SecretBox.load(file, { create: false }).keyId, made.keyId, 'the same key on the next start');
    assert.match(readFileSync(file, 'utf8'), /^[A-Za-z0-9+/]{43}=\n$/);
    assert.throws(() => SecretBox.load(join(dir, 'absent.key'), { create: false }), (e: unknown) => e instanceof SecretsKeyFileError && /absent\.key: does not exist/.test(e.message));
    chmodSync(file, 0o640);
    assert.throws(() => SecretBox.load(file, { create: false }), /readable by group or others \(mode 640\)/);
    const bad = join(dir, 'bad.key');
    writeFileSync(bad, 'short\n', { mode: 0o600 });
    assert.throws(() => SecretBox.load(bad, { create: false }), /bad\.key: expected 32 bytes/);
    const hex = join(dir, 'hex.key');
    writeFileSync(hex, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    assert.equal(SecretBox.load(hex, { create: false }).keyId.length, 16);
  });
});

describe('secret deployment values and config files', () => {
  it('seals new secrets, keeps the stored ciphertext for an unchanged value or the mask, and drops left-out ones', () => {
    const first = resolveDeploymentSecrets(box, 'db', { password: 'pw1', token: 't1' }, { port: '5432' }, {});
    assert.deepEqual(first.plaintext, { password: 'pw1', token: 't1' });
    const again = resolveDeploymentSecrets(box, 'db', { password: 'pw1', token: SECRET_MASK }, {}, first.sealed);
    assert.deepEqual(again.sealed, first.sealed, 'same value and mask keep the stored text (no new revision)');
    assert.deepEqual(changedSecrets(first.sealed, again.sealed), []);
    const changed = resolveDeploymentSecrets(box, 'db', { password: 'pw2' }, {}, first.sealed);
    assert.notEqual(changed.sealed.password, first.sealed.password);
    assert.deepEqual(Object.keys(changed.sealed), ['password'], 'token left out: removed');
    assert.deepEqual(changedSecrets(first.sealed, changed.sealed), ['password', 'token']);
    assert.deepEqual(maskSecretValues(changed.sealed), { password: SECRET_MASK });
  });

  it('refuses a key in both values and secretValues, a mask with nothing stored, and any secret without a key', () => {
    assert.throws(() => resolveDeploymentSecrets(box, 'db', { port: 'x' }, { port: '1' }, {}), (e: unknown) => e instanceof ValidationError && e.field === 'secretValues.port');
    assert.throws(() => resolveDeploymentSecrets(box, 'db', { pw: SECRET_MASK }, {}, {}), /has no secret pw; send its value/);
    assert.throws(() => resolveDeploymentSecrets(null, 'db', { pw: 'x' }, {}, {}), (e: unknown) => e instanceof SecretsKeyMissingError && /--secrets-key-file/.test(e.message));
    assert.throws(() => resolveDeploymentSecrets(other, 'db', { pw: SECRET_MASK }, {}, resolveDeploymentSecrets(box, 'db', { pw: 'x' }, {}, {}).sealed), SecretUnreadableError);
  });

  it('seals secret files with the sha256 of their content, keeps them on the mask, and masks them in answers', () => {
    const put = resolveConfigFiles(box, 'app', { 'tls.key': { contentType: 'text/plain', body: 'PRIVATE KEY', secret: true }, 'a.conf': { contentType: 'text/plain', body: 'x=1' } }, {});
    assert.doesNotMatch(JSON.stringify(put.files), /PRIVATE KEY/);
    assert.equal(put.plaintext['tls.key']?.body, 'PRIVATE KEY');
    const masked = maskConfigFiles(put.files);
    assert.deepEqual(masked['tls.key'], { contentType: 'text/plain', body: SECRET_MASK, secret: true, sha256: createHash('sha256').update('PRIVATE KEY').digest('hex') });
    assert.equal(masked['a.conf']?.body, 'x=1');
    const kept = resolveConfigFiles(box, 'app', { 'tls.key': { contentType: 'text/plain', body: SECRET_MASK, secret: true } }, put.files);
    assert.equal(kept.files['tls.key']?.body, put.files['tls.key']?.body);
    assert.equal(kept.plaintext['tls.key']?.body, 'PRIVATE KEY');
    assert.throws(() => resolveConfigFiles(box, 'app', { 'new.key': { contentType: 'text/plain', body: SECRET_MASK, secret: true } }, put.files), /no secret file new\.key/);
  });

  it('masks what agents echo: secret files by name, secret keys in their deployment file', () => {
    const echoed = {
      files: {
        'tls.key': { contentType: 'text/plain', body: 'PRIVATE KEY' },
        'deployment.db.json': { contentType: 'application/json', body: JSON.stringify({ name: 'db', revision: 2, values: { port: '1', password: 'pw1' } }) },
        'other.conf': { contentType: 'text/plain', body: 'y=2' },
      },
    };
    const out = scrubEffectiveConfig(echoed, { files: new Set(['tls.key']), values: new Map([['db', new Set(['password'])]]) });
    assert.doesNotMatch(JSON.stringify(out), /PRIVATE KEY|pw1/);
    assert.deepEqual(JSON.parse(out.files['deployment.db.json']!.body), { name: 'db', revision: 2, values: { port: '1', password: SECRET_MASK } });
    assert.equal(out.files['other.conf']?.body, 'y=2');
  });
});
