/**
 * The web console's audit log page and the fleet page's bulk actions, end
 * to end: a real server serving the built console, real Corral agents (and
 * bare OpAMP agents over HTTP, so the fleet list is long enough to
 * virtualize), users with each role, and Debian's Chromium driven by
 * playwright-core. Also the events page's time range, the `/` shortcut, and
 * a bulk action that the server's rate limit refuses part-way.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { AgentCapabilities, recordToKeyValues } from '../../src/protocol/index.js';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { encodeForHttp, newInstanceUid, postOpamp } from '../../src/testkit/opamp-client.js';
import { Browser, chromiumMissing } from '../../src/testkit/browser.js';

const XSS = '<img src=x onerror=window.__xss=1>';
const LONG = 60_000;
/** Bare OpAMP agents: with the three real ones, more rows than the table draws at once. */
const SIMULATED = 60;
const CAPS = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus);

interface Job {
  hosts: { agentId: string; status: string; output: string }[];
}

const missing = chromiumMissing();
if (missing && process.env.CI === 'true') throw new Error(`${missing} (CI=true: the console tests must run; .ci/run installs chromium)`);

describe('web console: audit log and bulk actions', { concurrency: false, skip: missing ?? false }, () => {
  let fleet: Fleet;
  let browser: Browser;
  let page: Page;
  const agents: Record<string, TestAgent> = {};
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};

  const until = (check: () => Promise<boolean> | boolean, what: string) => eventually(async () => ((await check()) ? true : undefined), { timeoutMs: LONG, what });
  const rowTexts = (p = page) => p.locator('.vbody .vrow').allInnerTexts();
  const row = (name: string, p = page) => p.locator('.vbody .vrow', { has: p.getByRole('link', { name, exact: true }) });

  async function signIn(token: string): Promise<Page> {
    const p = await browser.page();
    await p.goto(fleet.url + '/fleet');
    await p.fill('#token', token);
    await p.click('button[type=submit]');
    await p.getByRole('heading', { name: 'Fleet' }).waitFor({ timeout: LONG });
    return p;
  }

  async function user(name: string, roles: { role: string; selector: string }[]): Promise<string> {
    const made = await fleet.api('POST', '/api/v1/users', { name, roles });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const t = await fleet.api<{ token: string }>('POST', `/api/v1/users/${name}/tokens`, { name: 'console-test' });
    assert.ok(t.status === 200 || t.status === 201, JSON.stringify(t.body));
    return t.body.token;
  }

  before(async () => {
    fleet = await Fleet.start();
    for (const [name, labels] of [
      ['web-1', { env: 'prod', role: 'web' }],
      ['web-2', { env: 'prod', role: 'web' }],
      ['db-1', { env: 'dev', role: 'db' }],
    ] as const) {
      agents[name] = await fleet.startAgent({ name, labels: { ...labels } });
    }
    for (const a of Object.values(agents)) {
      await until(() => existsSync(join(a.dataDir, 'identity.json')), `${a.name} started`);
      await fleet.awaitAgent(a, (x) => x.status === 'online', LONG);
      ids[a.name] = await a.instanceUid();
    }
    for (let i = 0; i < SIMULATED; i++) {
      const body = encodeForHttp({
        instanceUid: newInstanceUid(),
        sequenceNum: 0n,
        capabilities: CAPS,
        agentDescription: { identifyingAttributes: recordToKeyValues({ 'service.name': 'sim' }), nonIdentifyingAttributes: recordToKeyValues({ 'host.name': `sim-${String(i).padStart(2, '0')}` }) },
      });
      const sent = await postOpamp(fleet.url, fleet.enrollmentToken, body);
      assert.equal(sent.status, 200, sent.text);
    }
    tokens.viewer = await user('vera', [{ role: 'viewer', selector: '' }]);
    tokens.operator = await user('otto', [{ role: 'operator', selector: '' }]);
    browser = await Browser.launch();
    page = await signIn(fleet.adminToken);
  });

  after(async () => {
    await browser?.close();
    await fleet?.close();
  });

  it('lists audit records with who, where, what and the outcome as text, filtered in the URL, live', async () => {
    // A denied write by the viewer, and a job whose command carries markup (shown in the summary).
    assert.equal((await fleet.api('POST', '/api/v1/deployments', { name: 'nope', package: 'x', version: '1.0.0', selector: 'role=web' }, tokens.viewer)).status, 403);
    const job = await fleet.api<{ id: string }>('POST', '/api/v1/jobs', { selector: 'role=db', command: ['echo', XSS] });
    assert.equal(job.status, 201, JSON.stringify(job.body));

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor({ timeout: LONG });
    const table = page.getByRole('table', { name: 'Audit records' });
    await until(async () => /vera[\s\S]*POST \/api\/v1\/deployments[\s\S]*denied 403/.test(await table.innerText()), 'the denied write by vera');
    assert.match(await table.innerText(), /POST \/api\/v1\/jobs[\s\S]*ok 201/);
    assert.ok((await table.innerText()).includes(XSS), 'the command with markup shown as text');
    assert.deepEqual({ imgs: await page.locator('img[src="x"]').count(), xss: await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss ?? null) }, { imgs: 0, xss: null });

    // Outcome filter: only the denied record, and in the URL.
    await page.selectOption('#au-outcome', 'denied');
    await until(async () => (await rowTexts()).length === 1 && (await rowTexts())[0]!.includes('vera'), 'only the denied record');
    assert.match(page.url(), /outcome=denied/);
    // Filtered by the server: only the denied record was loaded.
    await until(async () => /1 record shown of 1 loaded/.test(await page.locator('.table-foot').innerText()), 'one record loaded');
    // User filter (in the URL; a shared link opens the same view).
    await page.goto(`${fleet.url}/audit?user=admin`);
    await until(async () => (await rowTexts()).length > 0 && (await rowTexts()).every((r) => r.includes('admin')), "only admin's records");
    // A time range that ends before anything happened.
    await page.goto(`${fleet.url}/audit?until=2001-01-01T00%3A00%3A00.000Z`);
    await page.getByText('No audit record matches these filters.').waitFor({ timeout: LONG });

    // Live: a write while the page is open shows up without a reload.
    await page.goto(`${fleet.url}/audit`);
    await until(async () => (await rowTexts()).length >= 2, 'the records listed');
    const labelled = await fleet.api('PATCH', `/api/v1/agents/${ids['db-1']}`, { labels: { live: 'yes' } });
    assert.equal(labelled.status, 200);
    await until(async () => ((await rowTexts())[0] ?? '').includes('PATCH /api/v1/agents/{id}'), 'the new record on top, live');

    await page.getByRole('button', { name: 'Verify chain' }).click();
    await until(async () => /chain intact/.test(await page.getByTestId('verify-result').innerText()), 'the chain verified');
  });

  it('pages through more audit records than one page as the list scrolls, none missed or doubled', async () => {
    // Enough writes for two pages of 500, several within each millisecond or so. They go faster than
    // the token's rate limit (50 a second past a burst of 200): a 429 is sent again once its bucket refills.
    const write = (n: number) =>
      eventually(
        async () => {
          const r = await fleet.api('PATCH', `/api/v1/agents/${ids['db-1']}`, { labels: { n: String(n) } });
          return r.status === 429 ? undefined : r;
        },
        { timeoutMs: LONG, intervalMs: 200, what: `label write ${n} past the rate limit` },
      );
    for (let i = 0; i < 520; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, (_, j) => write(i + j)));
      assert.deepEqual(batch.filter((r) => r.status !== 200), [], 'every label write answered 200');
    }
    const verified = await fleet.api<{ ok: boolean; records: number }>('GET', '/api/v1/audit/verify');
    assert.ok(verified.body.ok && verified.body.records > 520);
    await page.goto(`${fleet.url}/audit`);
    const foot = page.locator('.table-foot');
    const n = verified.body.records.toLocaleString('en-US');
    // Scrolls until the last page is in: every record once (none doubled), and nothing older to load.
    await until(async () => {
      await page.getByTestId('audit-scroller').evaluate((el) => (el.scrollTop = el.scrollHeight));
      return /no older records/.test(await foot.innerText());
    }, 'every page loaded');
    assert.match(await foot.innerText(), new RegExp(`^${n} records shown of ${n} loaded; no older records`));
  });

  it('shows the audit page and bulk actions only to roles allowed them', async () => {
    const viewer = await signIn(tokens.viewer!);
    await until(async () => (await rowTexts(viewer)).length > 3, 'the fleet for the viewer');
    assert.equal(await viewer.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).count(), 0, 'no Audit link for a viewer');
    assert.equal(await viewer.locator('.vbody input[type=checkbox]').count(), 0, 'no selection for a viewer');
    await viewer.close();

    const operator = await signIn(tokens.operator!);
    await until(async () => (await rowTexts(operator)).length > 3, 'the fleet for the operator');
    assert.equal(await operator.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).count(), 0, 'no Audit link for an operator');
    await row('db-1', operator).getByRole('checkbox').check();
    const bulk = operator.getByRole('region', { name: 'Bulk actions' });
    await bulk.getByRole('button', { name: 'Remove label' }).waitFor({ timeout: LONG });
    assert.equal(await bulk.getByRole('button', { name: 'Run on selection' }).count(), 0, 'exec is for admins only');
    await operator.close();
  });

  it('keeps a selection in the URL and while scrolling the virtualized list', async () => {
    await page.goto(fleet.url + '/fleet');
    await until(async () => (await rowTexts()).some((r) => r.includes('sim-02')), 'the simulated agents listed');
    await row('sim-02').getByRole('checkbox').check();
    await row('db-1').getByRole('checkbox').check();
    await until(() => /sel=/.test(page.url()), 'the selection in the URL');
    const scroller = page.getByTestId('fleet-scroller');
    await scroller.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await until(async () => (await row('web-2').count()) === 1 && (await row('sim-02').count()) === 0, 'scrolled to the end (sim-02 no longer drawn)');
    await scroller.evaluate((el) => (el.scrollTop = 0));
    await until(async () => (await row('sim-02').count()) === 1, 'scrolled back');
    assert.equal(await row('sim-02').getByRole('checkbox').isChecked(), true);
    assert.match(await page.getByRole('region', { name: 'Bulk actions' }).innerText(), /2 selected/);

    const shared = await signIn(fleet.adminToken);
    await shared.goto(page.url());
    await until(async () => (await row('db-1', shared).count()) === 1 && (await row('db-1', shared).getByRole('checkbox').isChecked()), 'the shared URL has the same selection');
    await shared.close();
  });

  it('says so when the selection reaches its cap of 200 ticked agents', async () => {
    // A URL naming more than the cap (here 205 made-up ids after db-1) keeps only the first 200.
    const many = [ids['db-1']!, ...Array.from({ length: 205 }, (_, i) => `gone-${i}`)];
    await page.goto(`${fleet.url}/fleet?sel=${many.join(',')}`);
    const bulk = page.getByRole('region', { name: 'Bulk actions' });
    await until(async () => /200 selected/.test(await bulk.innerText()), 'the selection cut to 200');
    assert.match(await bulk.getByRole('status').innerText(), /At most 200 can be ticked/);
    await until(async () => (await row('sim-03').count()) === 1, 'sim-03 listed');
    await row('sim-03').getByRole('checkbox').click();
    assert.equal(await row('sim-03').getByRole('checkbox').isChecked(), false, 'no 201st tick');
    await row('db-1').getByRole('checkbox').uncheck();
    await until(async () => /199 selected/.test(await bulk.innerText()) && (await bulk.getByRole('status').count()) === 0, 'below the cap, no note');
  });

  it('labels a selection and names the agents where it failed', async () => {
    // A shared link may name an agent that has since gone: that one fails, the others are labelled.
    await page.goto(`${fleet.url}/fleet?sel=${ids['web-1']},${ids['web-2']},no-such-agent`);
    const bulk = page.getByRole('region', { name: 'Bulk actions' });
    await bulk.getByLabel('Label key').fill('tier');
    await bulk.getByLabel(/Label value/).fill('gold');
    await bulk.getByRole('button', { name: 'Set label' }).click();
    await until(async () => /2 labelled, 1 failed[\s\S]*no-such-agent/.test(await bulk.innerText()), 'the failure named');
    for (const name of ['web-1', 'web-2']) {
      const a = await fleet.api<{ labels: Record<string, string> }>('GET', `/api/v1/agents/${ids[name]}`);
      assert.equal(a.body.labels.tier, 'gold', name);
    }
    assert.equal((await fleet.api<{ labels: Record<string, string> }>('GET', `/api/v1/agents/${ids['db-1']}`)).body.labels.tier, undefined);

    // All matching a selector: remove it again from every agent the filter matches.
    await page.goto(`${fleet.url}/fleet?selector=role%3Dweb`);
    await until(async () => (await rowTexts()).length === 2, 'the two web agents');
    await page.getByRole('checkbox', { name: /Select all 2 agents matching/ }).check();
    await until(() => /selall=1/.test(page.url()), 'select-all in the URL');
    assert.match(await bulk.innerText(), /All 2 matching selected/);
    await bulk.getByLabel('Label key').fill('tier');
    await bulk.getByRole('button', { name: 'Remove label' }).click();
    await until(async () => /Labelled 2 agents/.test(await bulk.innerText()), 'both unlabelled');
    assert.equal((await fleet.api<{ labels: Record<string, string> }>('GET', `/api/v1/agents/${ids['web-2']}`)).body.labels.tier, undefined);
  });

  it('runs a command on exactly the selected agents after confirming how many, then opens the job', async () => {
    await page.goto(`${fleet.url}/fleet?sel=${ids['web-1']},${ids['db-1']}`);
    const bulk = page.getByRole('region', { name: 'Bulk actions' });
    await bulk.getByRole('textbox', { name: 'Command' }).fill('echo bulk-exec-ok');
    await bulk.getByRole('button', { name: 'Run on selection' }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor({ timeout: LONG });
    assert.match(await dialog.innerText(), /the 2 selected agents/);
    await dialog.getByRole('button', { name: 'Run', exact: true }).click();
    await until(() => /\/jobs\/[0-9a-f-]{36}$/.test(page.url()), 'the job page');
    const jobId = page.url().split('/').at(-1)!;
    const job = await eventually(
      async () => {
        const j = await fleet.api<Job & { status: string }>('GET', `/api/v1/jobs/${jobId}`);
        return j.body.status === 'running' ? undefined : j.body;
      },
      { timeoutMs: LONG, what: 'the job finished' },
    );
    assert.deepEqual(job.hosts.map((h) => h.agentId).sort(), [ids['web-1'], ids['db-1']].sort(), 'only the selected agents');
    assert.ok(job.hosts.every((h) => h.output.includes('bulk-exec-ok')));

    // Free-text search has no selector form: exec on "all matching" says so instead of guessing.
    await page.goto(`${fleet.url}/fleet?q=web&selall=1`);
    await until(async () => /Free-text search has no selector form/.test(await page.getByRole('region', { name: 'Bulk actions' }).innerText()), 'exec refused for a text search');
  });

  it("focuses the page's search box with /", async () => {
    for (const [path, id] of [
      ['/fleet', 'search'],
      ['/audit', 'au-user'],
    ]) {
      await page.goto(fleet.url + path);
      await page.locator('main h1').first().waitFor({ timeout: LONG });
      await page.locator('main').focus();
      await page.keyboard.press('/');
      await until(async () => (await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id)) === id, `${path}: ${id} focused`);
    }
  });

  it('filters events by a time range kept in the URL', async () => {
    await page.goto(`${fleet.url}/events?until=2001-01-01T00%3A00%3A00.000Z`);
    await page.getByText('No events match.').waitFor({ timeout: LONG });
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    await page.goto(`${fleet.url}/events?type=agent.online&since=${encodeURIComponent(hourAgo)}`);
    await until(async () => (await page.locator('main table tbody tr').count()) >= 3, 'the agents coming online within the hour');
    assert.notEqual(await page.inputValue('#ev-since'), '', 'the range shown in its field');
    await page.fill('#ev-until', '2001-01-01T00:00');
    await until(() => /until=2001-01-01T/.test(page.url()), 'the end of the range in the URL');
    await page.getByText('No events match.').waitFor({ timeout: LONG });
  });

  it("rides out the server's rate limit: a refused write is sent again after Retry-After, and the action completes", async () => {
    const otto = await signIn(tokens.operator!);
    // The server's answer past a token's rate limit (rest-guard.ts), forced on the console's first label
    // write: a real flood only wins that race most of the time, since the bucket refills 50 a second.
    const refused: string[] = [];
    const sent: string[] = [];
    await otto.route('**/api/v1/agents/*', async (route) => {
      const req = route.request();
      if (req.method() !== 'PATCH') return route.continue();
      sent.push(req.url());
      if (refused.length > 0) return route.continue();
      refused.push(req.url());
      return route.fulfill({
        status: 429,
        headers: { 'Retry-After': '1', 'Content-Type': 'application/json' },
        body: JSON.stringify({ error: { code: 'RATE_LIMITED', message: 'more than 50 requests a second with this token; retry later' } }),
      });
    });
    await otto.goto(`${fleet.url}/fleet?sel=${ids['web-1']},${ids['web-2']}`);
    const bulk = otto.getByRole('region', { name: 'Bulk actions' });
    await bulk.getByLabel('Label key').fill('burst');
    await bulk.getByLabel(/Label value/).fill('yes');
    await bulk.getByRole('button', { name: 'Set label' }).click();
    await until(async () => /Labelled 2 agents/.test(await bulk.innerText()), 'both labelled despite the 429');
    assert.equal(refused.length, 1);
    assert.equal(sent.filter((u) => u === refused[0]).length, 2, 'the refused write was sent again');
    for (const name of ['web-1', 'web-2']) {
      const a = await fleet.api<{ labels: Record<string, string> }>('GET', `/api/v1/agents/${ids[name]}`);
      assert.equal(a.body.labels.burst, 'yes', name);
    }
    await otto.close();
  });

  it('raised no script errors in the pages', () => {
    assert.deepEqual(browser.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});
