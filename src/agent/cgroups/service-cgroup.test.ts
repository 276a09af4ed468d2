/**
 * The cgroup code over directories laid out like cgroupfs (plain files: the
 * kernel's side, such as moving a process or OOM counters, is played by
 * the test). The real kernel is exercised by test/e2e/resource-limits.test.ts
 * (cgroup v1 on the CI host); cgroup v2 is covered here only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupParent, CgroupError } from './service-cgroup.js';
import type { CgroupSupport } from './detect.js';

const fakeRoot = () => mkdtempSync(join(tmpdir(), 'corral-cgfs-'));

describe('cgroup v2 (fake cgroupfs)', () => {
  function v2(own = '/'): { root: string; support: CgroupSupport } {
    const root = fakeRoot();
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory pids io\n');
    writeFileSync(join(root, 'cgroup.subtree_control'), '');
    mkdirSync(join(root, own), { recursive: true });
    return { root, support: { version: 'v2', v2: { mount: root, own } } };
  }

  it('creates the parent at the root, enabling cpu, memory and pids for the services', () => {
    const { root, support } = v2('/system.slice/agent.service');
    const parent = CgroupParent.open(support, 'corral');
    assert.deepEqual(parent.paths, [join(root, 'corral')]);
    assert.equal(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8'), '+cpu +memory +pids');
    assert.equal(readFileSync(join(root, 'corral', 'cgroup.subtree_control'), 'utf8'), '+cpu +memory +pids');
  });

  it("uses the agent's own cgroup when it already delegates the controllers", () => {
    const { root, support } = v2('/system.slice/agent.service');
    writeFileSync(join(root, 'system.slice/agent.service/cgroup.subtree_control'), 'cpu memory pids\n');
    const parent = CgroupParent.open(support, 'corral');
    assert.deepEqual(parent.paths, [join(root, 'system.slice/agent.service/corral')]);
  });

  it('writes cpu.max, memory.max, memory.high and pids.max, and unlimited for absent fields', () => {
    const { root, support } = v2();
    const cg = CgroupParent.open(support, 'corral').service('web');
    cg.create();
    const dir = join(root, 'corral', 'svc-web');
    assert.deepEqual(cg.apply({ cpu: 0.5, memoryMaxBytes: 256 * 1024 ** 2, memoryHighBytes: 200 * 1024 ** 2, pids: 200 }), []);
    const at = (f: string) => readFileSync(join(dir, f), 'utf8');
    assert.equal(at('cpu.max'), '50000 100000');
    assert.equal(at('memory.max'), String(256 * 1024 ** 2));
    assert.equal(at('memory.high'), String(200 * 1024 ** 2));
    assert.equal(at('pids.max'), '200');
    cg.apply({ cpu: 0.001 });
    assert.equal(at('cpu.max'), '1000 100000', 'the quota never goes below 1 ms per period');
    assert.equal(at('memory.max'), 'max');
    assert.equal(at('pids.max'), 'max');
  });

  it('reads usage from cpu.stat and memory.current, and OOM kills from memory.events', () => {
    const { root, support } = v2();
    const cg = CgroupParent.open(support, 'corral').service('web');
    cg.create();
    const dir = join(root, 'corral', 'svc-web');
    writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n');
    writeFileSync(join(dir, 'memory.current'), '4096\n');
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n');
    assert.deepEqual(cg.usage(), { cpuNs: 1_500_000, memoryBytes: 4096 });
    assert.equal(cg.oomCount(), 1);
    assert.equal(cg.oomCountIsKills, true);
  });

  it('places a pid by writing cgroup.procs, lists and removes', async () => {
    const { root, support } = v2();
    const cg = CgroupParent.open(support, 'corral').service('web');
    cg.create();
    cg.place(424242);
    const dir = join(root, 'corral', 'svc-web');
    assert.equal(readFileSync(join(dir, 'cgroup.procs'), 'utf8'), '424242');
    writeFileSync(join(dir, 'cgroup.procs'), '');
    // The fake dir holds plain files, which rmdir cannot remove: the kernel's directories have none.
    await assert.rejects(cg.remove(), (e: Error) => e instanceof CgroupError && /cannot remove cgroup .*svc-web: ENOTEMPTY/.test(e.message));
  });

  it('refuses a parent name that could name a control file or climb', () => {
    const { support } = v2();
    assert.throws(() => CgroupParent.open(support, 'cgroup.procs'), /must be letters/);
    assert.throws(() => CgroupParent.open(support, '../x'), /must be letters/);
  });
});

describe('cgroup v1 (fake cgroupfs)', () => {
  it('creates one parent per controller under the agent cgroup and writes the v1 files', () => {
    const root = fakeRoot();
    const place = (c: string, own: string) => {
      mkdirSync(join(root, c, own), { recursive: true });
      return { mount: join(root, c), own };
    };
    const support: CgroupSupport = { version: 'v1', v1: { cpu: place('cpu', '/'), cpuacct: place('cpuacct', '/'), memory: place('memory', '/process_api/x'), pids: place('pids', '/') } };
    const parent = CgroupParent.open(support, 'corral');
    assert.ok(parent.paths.includes(join(root, 'memory/process_api/x/corral')));
    const cg = parent.service('web');
    cg.create();
    const notes = cg.apply({ cpu: 0.2, memoryMaxBytes: 64 * 1024 ** 2, memoryHighBytes: 32 * 1024 ** 2, pids: 20 });
    assert.deepEqual(notes, ['memoryHigh is not enforced on cgroup v1 (no memory.high); memoryMax is']);
    assert.equal(readFileSync(join(root, 'cpu/corral/svc-web/cpu.cfs_quota_us'), 'utf8'), '20000');
    assert.equal(readFileSync(join(root, 'cpu/corral/svc-web/cpu.cfs_period_us'), 'utf8'), '100000');
    assert.equal(readFileSync(join(root, 'memory/process_api/x/corral/svc-web/memory.limit_in_bytes'), 'utf8'), String(64 * 1024 ** 2));
    assert.equal(readFileSync(join(root, 'pids/corral/svc-web/pids.max'), 'utf8'), '20');
    cg.place(4242);
    for (const c of ['cpu', 'cpuacct', 'pids']) assert.equal(readFileSync(join(root, c, 'corral/svc-web/cgroup.procs'), 'utf8'), '4242');
    const mem = join(root, 'memory/process_api/x/corral/svc-web');
    writeFileSync(join(mem, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    assert.equal(cg.oomCount(), 2);
    assert.equal(cg.oomCountIsKills, true);
    writeFileSync(join(mem, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\n');
    writeFileSync(join(mem, 'memory.failcnt'), '7\n');
    assert.equal(cg.oomCount(), 7, 'an older kernel without the oom_kill counter: failcnt');
    assert.equal(cg.oomCountIsKills, false);
    writeFileSync(join(root, 'cpuacct/corral/svc-web/cpuacct.usage'), '123456789\n');
    writeFileSync(join(mem, 'memory.usage_in_bytes'), '8192\n');
    assert.deepEqual(cg.usage(), { cpuNs: 123456789, memoryBytes: 8192 });
    assert.ok(existsSync(join(root, 'memory/process_api/x/corral/svc-web')));
  });
});
