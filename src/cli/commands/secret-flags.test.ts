import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSecretValues } from './deployments.js';
import { readConfigFiles } from './configs.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('secret flags of deploy and config set', () => {
  it('reads --set-secret-file (one trailing newline dropped), takes --set-secret, and sends *** for --keep-secret', () => {
    const files: Record<string, string> = { '/pw': 's3cret\n', '/multi': 'a\nb\n\n' };
    const read = (p: string) => {
      if (!(p in files)) throw new Error('ENOENT');
      return files[p]!;
    };
    assert.deepEqual(parseSecretValues(['token=t=1'], ['password=/pw', 'cert=/multi'], ['old'], read), { token: 't=1', password: 's3cret', cert: 'a\nb\n', old: '***' });
  });

  it('refuses a bad pair without echoing the value, a key given twice, and an unreadable file naming it', () => {
    assert.throws(() => parseSecretValues(['hunter2'], [], []), (e: Error) => /expected key=value/.test(e.message) && !e.message.includes('hunter2'));
    assert.throws(() => parseSecretValues(['pw=a'], [], ['pw']), /pw is given twice/);
    assert.throws(() => parseSecretValues([], ['pw=/nope'], [], () => { throw new Error('ENOENT'); }), /cannot read \/nope for --set-secret-file pw/);
  });

  it('marks --secret-file files secret and --keep-secret-file as the mask', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-secret-flags-'));
    writeFileSync(join(dir, 'tls.key'), 'KEY');
    writeFileSync(join(dir, 'a.json'), '{}');
    assert.deepEqual(readConfigFiles([`a.json=${join(dir, 'a.json')}`], [], [`tls.key=${join(dir, 'tls.key')}`], ['old.key']), {
      'old.key': { contentType: 'text/plain', body: '***', secret: true },
      'a.json': { contentType: 'application/json', body: '{}' },
      'tls.key': { contentType: 'text/plain', body: 'KEY', secret: true },
    });
  });
});
