import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeSupport, detectCgroups } from './detect.js';

const V1_MOUNTINFO = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const V1_SELF = `9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
`;
const V2_MOUNTINFO = '30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n';

describe('detectCgroups', () => {
  it('finds v1 on a hybrid host whose cgroup2 mount has no controllers (as on the CI host)', () => {
    const s = detectCgroups({ selfCgroup: V1_SELF, mountinfo: V1_MOUNTINFO, uid: 0, read: (p) => (p === '/sys/fs/cgroup/unified/cgroup.controllers' ? 'hugetlb\n' : null) });
    assert.equal(s.version, 'v1');
    assert.ok(s.version === 'v1');
    assert.deepEqual(s.v1.memory, { mount: '/sys/fs/cgroup/memory', own: '/process_api/abc' });
    assert.deepEqual(s.v1.cpu, { mount: '/sys/fs/cgroup/cpu', own: '/' });
    assert.match(describeSupport(s), /^cgroup v1 \(cpu at \/sys\/fs\/cgroup\/cpu; .*memory at \/sys\/fs\/cgroup\/memory, agent in \/process_api\/abc/);
  });

  it('finds co-mounted cpu,cpuacct', () => {
    const mountinfo = `32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n`;
    const s = detectCgroups({ selfCgroup: '3:cpu,cpuacct:/a\n2:memory:/a\n1:pids:/a\n', mountinfo, uid: 0, read: () => null });
    assert.ok(s.version === 'v1');
    assert.equal(s.v1.cpuacct.mount, '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(s.v1.cpu.own, '/a');
  });

  it('prefers v2 when the unified hierarchy has cpu, memory and pids', () => {
    const s = detectCgroups({ selfCgroup: '0::/system.slice/corral-agent.service\n', mountinfo: V2_MOUNTINFO, uid: 0, read: () => 'cpuset cpu io memory hugetlb pids rdma\n' });
    assert.deepEqual(s, { version: 'v2', v2: { mount: '/sys/fs/cgroup', own: '/system.slice/corral-agent.service' } });
  });

  it('maps the agent path through a mount whose root is a sub-cgroup (a container)', () => {
    const s = detectCgroups({ selfCgroup: '0::/ctr/app\n', mountinfo: '30 23 0:26 /ctr /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n', uid: 0, read: () => 'cpu memory pids' });
    assert.ok(s.version === 'v2');
    assert.equal(s.v2.own, '/app');
  });

  it('says why when there is nothing usable', () => {
    const notRoot = detectCgroups({ selfCgroup: V1_SELF, mountinfo: V1_MOUNTINFO, uid: 1000, read: () => null });
    assert.deepEqual(notRoot, { version: null, reason: 'the agent runs as uid 1000, not root, so it cannot create cgroups' });
    const v2Empty = detectCgroups({ selfCgroup: '0::/\n', mountinfo: V2_MOUNTINFO, uid: 0, read: () => 'hugetlb' });
    assert.ok(v2Empty.version === null);
    assert.match(v2Empty.reason, /cgroup2 mount at \/sys\/fs\/cgroup lacks the cpu, memory and pids controllers, and cgroup v1 has no mount for cpu, cpuacct, memory, pids/);
    const none = detectCgroups({ selfCgroup: '', mountinfo: '', uid: 0, read: () => null });
    assert.ok(none.version === null);
    assert.match(none.reason, /no cgroup filesystem/);
  });
});
