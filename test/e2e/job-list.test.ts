/**
 * The job list end to end: jobs run by real agents show up newest first
 * with host counts by outcome (ok, failed, timed out, running), filter by
 * state, starter and failed hosts, page with a cursor without repeats, a
 * reader scoped to env=staging lists only the jobs it may open, bad input
 * is refused naming the parameter, and the CLI prints the list.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';

interface Counts {
  total: number;
  ok: number;
  failed: number;
  timedOut: number;
  skipped: number;
  running: number;
  pending: number;
}
interface Summary {
  id: string;
  status: string;
  command: string[];
  selector: string;
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
  hosts: Counts;
}
interface Page {
  jobs: Summary[];
  total: number;
  nextCursor: string | null;
}
interface JobJson {
  id: string;
  status: string;
  createdBy: string;
  hosts: { agentName: string; status: string; timedOut: boolean; exitCode: number | null }[];
}

const LONG = 60_000;

describe('job list', { concurrency: false, timeout: 300_000 }, () => {
  let fleet: Fleet;
  let samToken = '';
  let vicToken = '';
  const ids: Record<string, string> = {};

  const start = async (name: string, body: Record<string, unknown>, token = fleet.adminToken) => {
    const res = await fleet.api<JobJson>('POST', '/api/v1/jobs', body, token);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    ids[name] = res.body.id;
    return res.body.id;
  };
  const finished = (id: string) =>
    eventually(
      async () => {
        const j = (await fleet.api<JobJson>('GET', `/api/v1/jobs/${id}`)).body;
        assert.notEqual(j.status, 'running');
        return j;
      },
      { timeoutMs: LONG },
    );
  const list = async (query = '', token = fleet.adminToken) => {
    const res = await fleet.api<Page>('GET', `/api/v1/jobs${query}`, undefined, token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const named = (page: Page) => page.jobs.map((j) => Object.entries(ids).find(([, id]) => id === j.id)?.[0] ?? j.id);

  before(async () => {
    fleet = await Fleet.start();
    const agents = [];
    for (let i = 1; i <= 3; i++) agents.push(await fleet.startAgent({ name: `prod-${i}`, labels: { env: 'prod' } }));
    agents.push(await fleet.startAgent({ name: 'staging-1', labels: { env: 'staging' } }));
    for (const a of agents) await fleet.awaitAgent(a, (x) => x.status === 'online');
    const user = async (name: string, roles: { role: string; selector: string }[]) => {
      assert.equal((await fleet.api('POST', '/api/v1/users', { name, roles })).status, 201);
      return (await fleet.api<{ token: string }>('POST', `/api/v1/users/${name}/tokens`, { name: 'test' })).body.token;
    };
    samToken = await user('sam', [{ role: 'admin', selector: 'env=staging' }]);
    vicToken = await user('vic', [{ role: 'viewer', selector: 'env=staging' }]);

    // Started one after another, so the list's order is known: ok, failing, sam's, timed out, running.
    await finished(await start('ok', { selector: 'env=prod', command: ['true'] }));
    await finished(await start('failing', { selector: 'env=prod', command: ['sh', '-c', 'test "$(basename "$PWD")" != prod-2'], errorBudget: '100%' }));
    await finished(await start('sams', { selector: 'env=staging', command: ['echo', 'hi'] }, samToken));
    await finished(await start('slow', { selector: 'env=staging', command: ['sleep', '30'], timeoutSeconds: 1 }));
    await start('running', { selector: 'env=prod', command: ['sleep', '20'], maxConcurrency: '1' });
  });
  after(async () => fleet?.close());

  it('lists jobs newest first with who started them and host counts by outcome', async () => {
    const page = await list();
    assert.deepEqual(named(page), ['running', 'slow', 'sams', 'failing', 'ok']);
    assert.equal(page.total, 5);
    assert.equal(page.nextCursor, null);
    const by = Object.fromEntries(page.jobs.map((j) => [named({ ...page, jobs: [j] })[0], j]));
    assert.deepEqual(by.ok!.hosts, { total: 3, ok: 3, failed: 0, timedOut: 0, skipped: 0, running: 0, pending: 0 });
    assert.deepEqual(by.failing!.hosts, { total: 3, ok: 2, failed: 1, timedOut: 0, skipped: 0, running: 0, pending: 0 });
    assert.deepEqual(by.slow!.hosts, { total: 1, ok: 0, failed: 0, timedOut: 1, skipped: 0, running: 0, pending: 0 });
    assert.deepEqual({ running: by.running!.hosts.running, pending: by.running!.hosts.pending }, { running: 1, pending: 2 }, 'one host at a time');
    assert.equal(by.sams!.createdBy, 'sam');
    assert.equal(by.ok!.createdBy, 'admin');
    assert.deepEqual(by.failing!.command, ['sh', '-c', 'test "$(basename "$PWD")" != prod-2']);
    assert.equal(by.failing!.selector, 'env=prod');
    assert.equal(by.running!.finishedAt, null);
    assert.ok(by.ok!.finishedAt && Date.parse(by.ok!.finishedAt) >= Date.parse(by.ok!.createdAt));
  });

  it('filters by state, starter and failed hosts', async () => {
    assert.deepEqual(named(await list('?state=running')), ['running']);
    assert.deepEqual(named(await list('?state=done')), ['slow', 'sams', 'failing', 'ok']);
    assert.deepEqual(named(await list('?createdBy=sam')), ['sams']);
    assert.deepEqual(named(await list('?failed=true')), ['slow', 'failing'], 'a timed out host is a failed host');
    assert.deepEqual(named(await list('?failed=true&state=done&createdBy=admin')), ['slow', 'failing']);
    assert.equal((await list('?createdBy=nobody')).total, 0);
  });

  it('pages with a cursor, newest first, each job once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 10; n++) {
      const page: Page = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.ok(page.jobs.length <= 2);
      assert.equal(page.total, 5);
      seen.push(...named(page));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    assert.deepEqual(seen, ['running', 'slow', 'sams', 'failing', 'ok']);
  });

  it('shows one job with only its failed hosts when asked', async () => {
    const only = (await fleet.api<JobJson>('GET', `/api/v1/jobs/${ids.failing}?failed=true`)).body;
    assert.deepEqual(only.hosts.map((h) => h.agentName), ['prod-2']);
    assert.equal((await fleet.api<JobJson>('GET', `/api/v1/jobs/${ids.failing}`)).body.hosts.length, 3);
    const slow = (await fleet.api<JobJson>('GET', `/api/v1/jobs/${ids.slow}?failed=true`)).body;
    assert.deepEqual(slow.hosts.map((h) => [h.agentName, h.status, h.timedOut]), [['staging-1', 'failed', true]]);
  });

  it('lists to a scoped reader only the jobs it may open', async () => {
    const page = await list('', vicToken);
    assert.deepEqual(named(page), ['slow', 'sams']);
    assert.equal(page.total, 2, 'the total counts only jobs in scope');
    assert.deepEqual(named(await list('?limit=1', vicToken)), ['slow'], 'a page is full even when jobs outside the scope come between');
    assert.equal((await fleet.api('GET', `/api/v1/jobs/${ids.ok}`, undefined, vicToken)).status, 403, 'the ones it cannot see it cannot open either');
    assert.equal((await fleet.api('GET', `/api/v1/jobs/${ids.sams}`, undefined, vicToken)).status, 200);
  });

  it('refuses bad parameters, naming them', async () => {
    for (const [query, word] of [
      ['?limit=0', 'limit'],
      ['?limit=501', 'limit'],
      ['?limit=x', 'limit'],
      ['?state=bogus', 'state'],
      ['?failed=yes', 'failed'],
      ['?cursor=not-a-cursor', 'cursor'],
      [`?cursor=${Buffer.from(JSON.stringify({ s: 'name', k: 'a', i: 'b' })).toString('base64url')}`, 'cursor'],
      [`?createdBy=${'x'.repeat(300)}`, 'createdBy'],
    ] as const) {
      const res = await fleet.api<{ error: { code: string; message: string; field?: string } }>('GET', `/api/v1/jobs${query}`);
      assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.message, new RegExp(word), query);
      assert.equal(res.body.error.field, word, `${query}: the field at fault, for a form to show the message beside it`);
    }
  });

  it('prints the list in a table and as JSON from the CLI', async () => {
    const table = await fleet.cli('jobs', '--failed');
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID\s+STATUS\s+HOSTS\s+BY\s+STARTED\s+SELECTOR\s+COMMAND$/);
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, new RegExp(`^${ids.slow}\\s+failed\\s+1 timed out\\s+admin\\s+`));
    assert.match(lines[2]!, new RegExp(`^${ids.failing}\\s+failed\\s+2 ok, 1 failed\\s+admin\\s+.*env=prod\\s+sh -c`));
    const json = await fleet.cli('job', 'list', '--by', 'sam', '-o', 'json');
    assert.equal(json.code, 0, json.stderr);
    const page = JSON.parse(json.stdout) as Page;
    assert.deepEqual(named(page), ['sams']);
    const paged = await fleet.cli('jobs', '--limit', '2', '--state', 'done');
    assert.match(paged.stderr, /2 of 4 shown/);
    const all = JSON.parse((await fleet.cli('jobs', '--limit', '1', '--all', '-o', 'json')).stdout) as Page;
    assert.equal(all.jobs.length, 5);
    const show = await fleet.cli('job', 'show', ids.failing!, '--failed');
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^prod-2\s+failed\s+1\s+/m);
    assert.doesNotMatch(show.stdout, /prod-1/);
    const bad = await fleet.cli('jobs', '--state', 'sideways');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--state must be running or done/);
  });
});
