/**
 * Service resource limits on this machine's real kernel (cgroup v1 on the CI
 * host; v2 is covered by src/agent/cgroups/service-cgroup.test.ts over a
 * fake cgroupfs): a real agent, real services, real cgroups.
 *
 * - memoryMax: a service allocating past it is OOM-killed by the kernel,
 *   reported as "killed: out of memory (limit 96 MiB)" (state, events,
 *   `corral services`), restarted with back-off, and fails its rollout;
 * - cpu 0.2: a busy loop gets about a fifth of a core (from the cgroup's
 *   own accounting over a few seconds, a generous band);
 * - pids: forks past the cap fail;
 * - stop kills children that left the process group (setsid), also after an
 *   agent restart (re-adoption finds the cgroup), and undeploy removes it.
 *
 * Every cgroup the test creates lives under a parent named for this run and
 * is removed at the end.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { requirement } from '../../src/testkit/requirement.js';
import { processAlive } from '../../src/testkit/process-alive.js';
import { detectHostCgroups } from '../../src/agent/cgroups/detect.js';

const support = detectHostCgroups();
const parentName = `corral-test-${randomBytes(4).toString('hex')}`;

/** The service's cgroup directory for one controller (v1) or the v2 one. */
function cgroupDir(service: string, controller: 'cpu' | 'cpuacct' | 'memory' | 'pids'): string {
  if (support.version === 'v2') return join(support.v2.mount, parentName, `svc-${service}`);
  if (support.version !== 'v1') throw new Error('no cgroups');
  const { mount, own } = support.v1[controller];
  const under = join(mount, own, parentName);
  return existsSync(under) ? join(under, `svc-${service}`) : join(mount, parentName, `svc-${service}`);
}

function procs(service: string): number[] {
  try {
    return readFileSync(join(cgroupDir(service, 'pids'), 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function cpuNs(service: string): number {
  if (support.version === 'v2') return Number(/usage_usec (\d+)/.exec(readFileSync(join(cgroupDir(service, 'cpu'), 'cpu.stat'), 'utf8'))![1]) * 1000;
  return Number(readFileSync(join(cgroupDir(service, 'cpuacct'), 'cpuacct.usage'), 'utf8'));
}

/** Removes whatever this run left under its parent (processes first). */
function cleanUp(): void {
  if (support.version === null) return;
  const parents =
    support.version === 'v2'
      ? [join(support.v2.mount, parentName)]
      : Object.values(support.v1).flatMap(({ mount, own }) => [join(mount, own, parentName), join(mount, parentName)]);
  for (const parent of new Set(parents)) {
    if (!existsSync(parent)) continue;
    for (const child of readdirSync(parent, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      for (const pid of readFileSync(join(parent, child.name, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Gone.
        }
      }
    }
  }
  return;
}

async function removeParents(): Promise<void> {
  if (support.version === null) return;
  const parents =
    support.version === 'v2'
      ? [join(support.v2.mount, parentName)]
      : Object.values(support.v1).flatMap(({ mount, own }) => [join(mount, own, parentName), join(mount, parentName)]);
  for (const parent of new Set(parents)) {
    if (!existsSync(parent)) continue;
    await eventually(
      () => {
        for (const child of readdirSync(parent, { withFileTypes: true }).filter((d) => d.isDirectory())) rmdirSync(join(parent, child.name));
        rmdirSync(parent);
        return true;
      },
      { timeoutMs: 10_000, what: `cgroup ${parent} removed` },
    ).catch(() => undefined);
  }
}

interface ServiceRow {
  healthy: boolean;
  status: string;
  lastError: string;
}

describe('service resource limits (cgroups, real kernel)', { concurrency: false }, () => {
  let fleet: Fleet;
  let agent: TestAgent;
  let usable = false;

  async function publish(name: string, version: string, body: string): Promise<void> {
    const dir = join(fleet.root, `pkg-${name}-${version}`);
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), `apiVersion: corral.io/v1\nname: ${name}\nversion: ${version}\n${body}`);
    await writeFile(join(dir, 'bin', 'run.sh'), '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
    const out = join(fleet.root, `${name}-${version}.tar.gz`);
    const built = await fleet.cli('package', 'build', dir, '--out', out);
    assert.equal(built.code, 0, built.stderr);
    const pushed = await fleet.cli('package', 'push', out);
    assert.equal(pushed.code, 0, pushed.stderr);
  }

  const status = async (name: string): Promise<ServiceRow | null> =>
    (await fleet.api<{ agents: { service: ServiceRow | null }[] }>('GET', `/api/v1/deployments/${name}/status`)).body.agents[0]?.service ?? null;

  const deploy = async (name: string, version = '1.0.0', rollout?: Record<string, unknown>) => {
    const res = await fleet.api<{ rollout: string | null }>('POST', '/api/v1/deployments', { name, package: name, version, selector: 'role=limits', values: {}, ...(rollout ? { rollout } : {}) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.rollout;
  };

  const undeploy = async (name: string) => {
    const res = await fleet.cli('undeploy', name);
    assert.equal(res.code, 0, res.stderr);
  };

  before(async () => {
    usable = process.getuid?.() === 0 && support.version !== null;
    if (!usable) return;
    fleet = await Fleet.start({ rolloutDefaults: { minHealthySeconds: 1, healthyDeadlineSeconds: 20 } });
    agent = await fleet.startAgent({ name: 'limits', labels: { role: 'limits' }, extraArgs: ['--cgroup-parent', parentName, '--sample-interval', '1'] });
    await fleet.awaitAgent(agent, (a) => a.status === 'online');
  });

  after(async () => {
    if (!usable) return;
    cleanUp();
    await fleet?.close();
    cleanUp();
    await removeParents();
  });

  it('kills a service past memoryMax, reports it as out of memory, restarts it with back-off and fails the rollout', async (t) => {
    if (!requirement(t, usable, `needs root and cgroups (${support.version === null ? support.reason : 'not root'})`)) return;
    await publish(
      'hog',
      '1.0.0',
      `run: {command: node, args: ["-e", "const a = []; setInterval(() => a.push(Buffer.alloc(16 << 20, 1)), 20)"]}
restart: {policy: always, initialDelayMs: 300, maxDelayMs: 2000}
resources: {memoryMax: 96Mi}
`,
    );
    // Between OOM kills it runs for a moment: healthy for 10 s in a row is what it never manages.
    const rollout = await deploy('hog', '1.0.0', { minHealthySeconds: 10 });
    assert.ok(rollout);
    const oom = /killed: out of memory \(limit 96 MiB\)/;
    const row = await eventually(async () => {
      const s = await status('hog');
      return s && oom.test(s.lastError) && !s.healthy ? s : undefined;
    }, { timeoutMs: 60_000, what: 'the OOM kill reported in the service health' }).catch(async (e: unknown) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(await status('hog'))}\n${agent.process.stderr.slice(-2000)}`);
    });
    assert.equal(row.healthy, false);

    // Restarted, with back-off growing between failures (the crash loop comes from failures in a row).
    const id = await agent.instanceUid();
    const services = await eventually(async () => {
      const res = await fleet.cli('services', id, '-o', 'json');
      const s = (JSON.parse(res.stdout) as { services: { name: string; restarts: number; lastExit: { signal: string | null; reason?: string } | null }[] }).services.find((x) => x.name === 'hog');
      return s && s.restarts >= 2 && s.lastExit?.reason ? s : undefined;
    }, { timeoutMs: 60_000, what: 'restarts after OOM kills' });
    assert.equal(services.lastExit?.signal, 'SIGKILL');
    assert.match(services.lastExit?.reason ?? '', oom);
    const table = await fleet.cli('services', id);
    assert.match(table.stdout, oom, '`corral services` says why it died');

    const events = await eventually(async () => {
      const res = await fleet.api<{ events: { type: string; data: { service?: string; error?: string } }[] }>('GET', `/api/v1/events?agent=${id}&limit=1000`);
      const hits = res.body.events.filter((e) => e.data.service === 'hog' && oom.test(e.data.error ?? ''));
      return hits.length > 0 ? hits : undefined;
    }, { timeoutMs: 30_000, what: 'an event naming the OOM kill' });
    assert.ok(events.some((e) => e.type === 'service.backoff' || e.type === 'service.crash-loop'));

    const failed = await eventually(async () => {
      const r = (await fleet.api<{ state: string; agents: { state: string }[] }>('GET', `/api/v1/rollouts/${rollout}?agents=true`)).body;
      return r.agents[0]?.state === 'failed' ? r : undefined;
    }, { timeoutMs: 60_000, what: 'the rollout counting the OOM-looping agent as failed' });
    assert.equal(failed.agents[0]?.state, 'failed');
    await undeploy('hog');
    await eventually(() => !existsSync(cgroupDir('hog', 'memory')), { timeoutMs: 20_000, what: 'the hog cgroup removed' });
  });

  it('holds a busy loop with cpu 0.2 to about a fifth of a core', async (t) => {
    if (!requirement(t, usable, 'needs root and cgroups')) return;
    await publish('spin', '1.0.0', 'run: {command: sh, args: ["-c", "while :; do :; done"]}\nresources: {cpu: 0.2}\n');
    await deploy('spin');
    await eventually(async () => (await status('spin'))?.status === 'running' && procs('spin').length > 0, { timeoutMs: 30_000, what: 'the spinner running' });
    const u0 = cpuNs('spin');
    const t0 = process.hrtime.bigint();
    // A few seconds of usage, measured as a rate: the cgroup's CPU time over the time that passed.
    await eventually(() => process.hrtime.bigint() - t0 >= 4_000_000_000n, { timeoutMs: 30_000, intervalMs: 100, what: 'four seconds of usage' });
    const cores = (cpuNs('spin') - u0) / Number(process.hrtime.bigint() - t0);
    assert.ok(cores <= 0.3, `a busy loop limited to 0.2 cores used ${cores.toFixed(3)} cores`);
    assert.ok(cores >= 0.05, `the busy loop barely ran (${cores.toFixed(3)} cores): is the machine saturated?`);
    await undeploy('spin');
    await eventually(() => !existsSync(cgroupDir('spin', 'cpu')), { timeoutMs: 20_000, what: 'the spin cgroup removed' });
  });

  it('caps forks with pids', async (t) => {
    if (!requirement(t, usable, 'needs root and cgroups')) return;
    await publish('forker', '1.0.0', 'run: {command: sh, args: ["-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 600 & done; echo started; wait"]}\nresources: {pids: 4}\n');
    await deploy('forker');
    const stderr = join(agent.dataDir, 'services', 'forker', 'logs', 'stderr.log');
    const err = await eventually(async () => {
      const text = await readFile(stderr, 'utf8').catch(() => '');
      return /fork/i.test(text) ? text : undefined;
    }, { timeoutMs: 30_000, what: 'a refused fork in stderr.log' });
    assert.match(err, /fork/i);
    const max = Number(readFileSync(join(cgroupDir('forker', 'pids'), 'pids.max'), 'utf8'));
    assert.equal(max, 4);
    assert.ok(procs('forker').length <= 4, `at most 4 processes in the cgroup, found ${procs('forker').length}`);
    await undeploy('forker');
    await eventually(() => !existsSync(cgroupDir('forker', 'pids')), { timeoutMs: 20_000, what: 'the forker cgroup removed' });
  });

  it('takes limits from the deployment over the manifest and changes them live, without a restart', async (t) => {
    if (!requirement(t, usable, 'needs root and cgroups')) return;
    await publish('tuned', '1.0.0', 'run: {command: bin/run.sh}\nresources: {cpu: 1, pids: 100}\n');
    const bad = await fleet.cli('deploy', 'tuned', '--package', 'tuned@1.0.0', '-s', 'role=limits', '--memory-max', 'lots');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--memory-max: must be bytes with an optional unit/);
    const api = await fleet.api<{ error: { message: string } }>('POST', '/api/v1/deployments', { name: 'tuned', package: 'tuned', version: '1.0.0', selector: 'role=limits', resources: { memoryHigh: '1Gi', memoryMax: '512Mi' } });
    assert.equal(api.status, 400);
    assert.match(JSON.stringify(api.body), /memoryHigh/);

    const first = await fleet.cli('deploy', 'tuned', '--package', 'tuned@1.0.0', '-s', 'role=limits', '--cpu', '0.5');
    assert.equal(first.code, 0, first.stderr);
    await eventually(async () => (await status('tuned'))?.status === 'running' && procs('tuned').length === 1, { timeoutMs: 30_000, what: 'tuned running' });
    const quota = () => readFileSync(join(cgroupDir('tuned', 'cpu'), support.version === 'v2' ? 'cpu.max' : 'cpu.cfs_quota_us'), 'utf8').trim().split(' ')[0];
    const pidsMax = () => readFileSync(join(cgroupDir('tuned', 'pids'), 'pids.max'), 'utf8').trim();
    assert.equal(quota(), '50000', 'the deployment override (0.5) wins over the manifest (1)');
    assert.equal(pidsMax(), '100', 'the manifest field the override leaves alone');
    const [pid] = procs('tuned');
    const shown = await fleet.api<{ values: Record<string, string>; resources?: unknown }>('GET', '/api/v1/deployments/tuned');
    assert.deepEqual(shown.body.resources, { cpu: 0.5 });
    assert.deepEqual(shown.body.values, {});

    const second = await fleet.cli('deploy', 'tuned', '--package', 'tuned@1.0.0', '-s', 'role=limits', '--cpu', '250m', '--pids', '50');
    assert.equal(second.code, 0, second.stderr);
    await eventually(() => quota() === '25000' && pidsMax() === '50', { timeoutMs: 30_000, what: 'the new limits written' });
    assert.deepEqual(procs('tuned'), [pid], 'the same process: changed live');
    await undeploy('tuned');
    await eventually(() => !existsSync(cgroupDir('tuned', 'cpu')), { timeoutMs: 20_000, what: 'the tuned cgroup removed' });
  });

  it('stops children that escaped the process group (setsid), also after an agent restart, and removes the cgroup', async (t) => {
    if (!requirement(t, usable, 'needs root and cgroups')) return;
    await publish(
      'escape',
      '1.0.0',
      `run: {command: sh, args: ["-c", "setsid sleep 601 & setsid sh -c 'sleep 602 & exec sleep 603' & exec sleep 604"]}\nresources: {}\nstop: {gracePeriodSeconds: 1}\n`,
    );
    await deploy('escape');
    const pids = await eventually(() => (procs('escape').length >= 4 ? procs('escape') : undefined), { timeoutMs: 30_000, what: 'the escapees in the cgroup' });
    // They really left the service's process group.
    const groups = new Set(pids.map((p) => readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]));
    assert.ok(groups.size >= 2, `children in more than one process group: ${[...groups].join(', ')}`);

    // A new agent finds the service and its cgroup again.
    await agent.restart();
    await fleet.awaitAgent(agent, (a) => a.status === 'online');
    await eventually(async () => (await status('escape'))?.status === 'running', { timeoutMs: 30_000, what: 'the service adopted' });
    assert.deepEqual(procs('escape').sort(), pids.sort(), 'adopted, not started again');

    const stopped = await fleet.cli('stop', 'escape');
    assert.equal(stopped.code, 0, stopped.stderr);
    await eventually(() => pids.every((p) => !processAlive(p)), { timeoutMs: 30_000, what: 'every process of the service gone' });
    assert.deepEqual(procs('escape'), []);
    await undeploy('escape');
    await eventually(() => !existsSync(cgroupDir('escape', 'pids')), { timeoutMs: 20_000, what: 'the escape cgroup removed' });
  });
});
