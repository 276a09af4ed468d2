/**
 * Exec jobs end to end: real agents run a command, output streams through
 * the server to the real CLI prefixed by host, max concurrency and the
 * error budget hold, results (with up to 1 MiB of output) are stored.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';

interface JobJson {
  id: string;
  status: string;
  hosts: { agentName: string; status: string; exitCode: number | null; output: string; truncated: boolean; error: string; startedAt: string | null; finishedAt: string | null }[];
}

describe('exec jobs', { concurrency: false }, () => {
  let fleet: Fleet;
  const agents: TestAgent[] = [];

  before(async () => {
    fleet = await Fleet.start();
    for (let i = 1; i <= 4; i++) agents.push(await fleet.startAgent({ name: `node-${i}`, labels: { env: 'prod' } }));
    agents.push(await fleet.startAgent({ name: 'locked-1', labels: { env: 'locked' }, extraArgs: ['--no-exec'] }));
    for (const a of agents) await fleet.awaitAgent(a, (x) => x.status === 'online');
  });
  after(async () => fleet?.close());

  /** The stored job a CLI run reported (`job <id>: ...` on stderr). */
  const jobOf = async (run: { stderr: string }): Promise<JobJson> => {
    const id = /job ([0-9a-f-]{36}):/.exec(run.stderr)?.[1];
    assert.ok(id, `no job id in: ${run.stderr}`);
    return (await fleet.api<JobJson>('GET', `/api/v1/jobs/${id}`)).body;
  };

  it('streams each host\'s output, prefixed by host, and keeps the results', async () => {
    const res = await fleet.cli('exec', '-s', 'env=prod', '--', 'sh', '-c', 'echo "hello from $(basename "$PWD")"; echo warning >&2');
    assert.equal(res.code, 0, res.stderr);
    for (let i = 1; i <= 4; i++) {
      assert.match(res.stdout, new RegExp(`^node-${i} \\| hello from node-${i}$`, 'm'));
      assert.match(res.stderr, new RegExp(`^node-${i} \\| warning$`, 'm'));
    }
    assert.match(res.stderr, /4 succeeded, 0 failed, 0 skipped/);
    const job = await jobOf(res);
    assert.equal(job.status, 'succeeded');
    assert.ok(job.hosts.every((h) => h.exitCode === 0 && h.output.includes('hello from')));
  });

  it('prints the job with per-host results as JSON with -o json, and nothing else on stdout', async () => {
    const ok = await fleet.cli('exec', '-s', 'env=prod', '-o', 'json', '--', 'sh', '-c', 'echo "hello from $(basename "$PWD")"');
    assert.equal(ok.code, 0, ok.stderr);
    const job = JSON.parse(ok.stdout) as JobJson;
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(job.hosts.map((h) => h.agentName).sort(), ['node-1', 'node-2', 'node-3', 'node-4']);
    for (const h of job.hosts) {
      assert.equal(h.exitCode, 0);
      assert.equal(h.output, `hello from ${h.agentName}\n`);
    }
    assert.deepEqual((await fleet.api<JobJson>('GET', `/api/v1/jobs/${job.id}`)).body, job);

    const failing = await fleet.cli('exec', '-s', 'env=prod', '-o', 'json', '--', 'sh', '-c', 'exit 3');
    assert.equal(failing.code, 1);
    const failed = JSON.parse(failing.stdout) as JobJson;
    assert.notEqual(failed.status, 'succeeded');
    assert.ok(failed.hosts.some((h) => h.status === 'failed' && h.exitCode === 3), failing.stdout);
  });

  it('never runs more hosts at once than max concurrency', async () => {
    const res = await fleet.cli('exec', '-s', 'env=prod', '--max-concurrency', '2', '--', 'sleep', '0.6');
    assert.equal(res.code, 0, res.stderr);
    const job = await jobOf(res);
    const spans = job.hosts.map((h) => [Date.parse(h.startedAt!), Date.parse(h.finishedAt!)] as const);
    // Sample every moment a host started: how many were running then?
    const overlap = Math.max(...spans.map(([s]) => spans.filter(([a, b]) => a <= s && s < b).length));
    assert.equal(overlap, 2);
  });

  it('stops starting hosts once failures exceed the error budget', async () => {
    for (const a of agents.slice(0, 4)) await writeFile(join(a.dataDir, 'fail-here'), '');
    const res = await fleet.cli('exec', '-s', 'env=prod', '--max-concurrency', '1', '--error-budget', '1', '--', 'sh', '-c', 'test ! -e fail-here');
    assert.equal(res.code, 1);
    const job = await jobOf(res);
    const count = (s: string) => job.hosts.filter((h) => h.status === s).length;
    assert.equal(count('failed'), 2, 'the second failure exceeds a budget of 1');
    assert.equal(count('skipped'), 2);
    assert.equal(job.status, 'stopped');
    assert.match(job.hosts.find((h) => h.status === 'skipped')!.error, /error budget/);
  });

  it('marks output over 1 MiB as truncated, times out long commands, and respects --no-exec', async () => {
    const bigRun = await fleet.cli('exec', '-s', 'env=prod', '--', 'sh', '-c', 'head -c 2000000 /dev/zero | tr "\\0" a');
    const big = await jobOf(bigRun);
    assert.ok(big.hosts.every((h) => h.truncated && h.output.length === 1024 * 1024));

    const slow = await fleet.cli('exec', '-s', 'env=prod', '--timeout', '1', '--', 'sleep', '30');
    assert.equal(slow.code, 1);
    assert.ok((await jobOf(slow)).hosts.every((h) => /timed out/.test(h.error)));

    const locked = await fleet.cli('exec', '-s', 'env=locked', '--', 'true');
    assert.equal(locked.code, 1);
    assert.match(locked.stderr, /exec is disabled on this agent/);
  });
});
