/**
 * Fuzzing the manifest parser: any text, and any YAML document built from
 * arbitrary values (including near-valid manifests with one field
 * replaced), parses to a manifest or throws ManifestError naming a problem;
 * nothing else escapes, and alias bombs are refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { fc, fuzz } from '../../src/testkit/fuzz.js';
import { ManifestError, parseAnyManifest } from '../../src/protocol/package-manifest.js';

const VALID = {
  apiVersion: 'corral.io/v1',
  name: 'hello',
  version: '1.0.0',
  platforms: [{ os: 'linux', arch: 'any' }],
  run: { command: 'bin/serve.sh' },
};

function parsesOrRefuses(text: string): void {
  try {
    parseAnyManifest(text);
  } catch (e) {
    assert.ok(e instanceof ManifestError, `expected ManifestError, got ${(e as Error).name}: ${(e as Error).message}`);
    assert.ok((e as Error).message.length > 0);
  }
}

const REGRESSIONS = [
  '',
  '~',
  '[]',
  '- a',
  'kind: agent\nrun: {}',
  'kind: 1',
  '__proto__: {polluted: true}',
  'constructor: {prototype: {x: 1}}',
  // A billion laughs: refused by the alias limit, not expanded.
  'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  '!!binary AAAA',
  'name: !!js/function "function(){}"',
];

describe('manifest fuzzing', () => {
  it('refuses or parses the regression cases', () => {
    for (const text of REGRESSIONS) parsesOrRefuses(text);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  });

  it('parses or throws ManifestError for any text', async () => {
    await fuzz('manifest arbitrary text', fc.property(fc.string({ maxLength: 400 }), parsesOrRefuses), { numRuns: 1000 });
  });

  it('parses or throws ManifestError for near-valid manifests with one field replaced by anything', async () => {
    const field = fc.constantFrom('apiVersion', 'name', 'version', 'platforms', 'run', 'kind', 'restart', 'health', 'config', 'hooks', 'stop', 'extra');
    await fuzz(
      'manifest near-valid',
      fc.property(field, fc.anything({ maxDepth: 3 }), (f, v) => {
        let text: string;
        try {
          text = stringify({ ...VALID, [f]: v });
        } catch {
          return; // not representable as YAML (e.g. a symbol): nothing to parse
        }
        parsesOrRefuses(text);
      }),
      { numRuns: 1000 },
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  });
});
