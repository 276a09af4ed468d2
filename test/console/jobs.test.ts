/**
 * The console's Jobs page end to end: a real server serving the built
 * console, real agents, Debian's Chromium driven by playwright-core. The
 * start form shows the live count of matching agents and its validation
 * messages beside the fields; a job started from it streams each host's
 * output in while it runs; per-host results filter to the failed host;
 * the list shows jobs live (one started elsewhere appears without a
 * reload) with host counts and filters by failed hosts; axe finds no
 * serious violation.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { Browser, chromiumMissing } from '../../src/testkit/browser.js';

const LONG = 60_000;

const missing = chromiumMissing();
if (missing && process.env.CI === 'true') throw new Error(`${missing} (CI=true: the console tests must run; .ci/run installs chromium)`);

describe('console jobs page in a real browser', { concurrency: false, skip: missing ?? false, timeout: 600_000 }, () => {
  let fleet: Fleet;
  let work: string;
  let browser: Browser;
  let page: Page;
  let jobUrl = '';
  const until = (check: () => Promise<boolean> | boolean, what: string) => eventually(async () => ((await check()) ? true : undefined), { timeoutMs: LONG, what });
  const listRows = () => page.locator('table.jobs-list tbody tr').allInnerTexts();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-console-jobs-'));
    fleet = await Fleet.start();
    const agents = [await fleet.startAgent({ name: 'prod-1', labels: { env: 'prod' } }), await fleet.startAgent({ name: 'prod-2', labels: { env: 'prod' } }), await fleet.startAgent({ name: 'dev-1', labels: { env: 'dev' } })];
    for (const a of agents) await fleet.awaitAgent(a, (x) => x.status === 'online', LONG);
    browser = await Browser.launch();
    page = await browser.page();
    await page.goto(fleet.url + '/jobs');
    await page.fill('#token', fleet.adminToken);
    await page.click('button[type=submit]');
    await page.getByRole('heading', { name: 'Jobs', exact: true }).waitFor({ timeout: LONG });
  });

  after(async () => {
    await browser?.close();
    await fleet?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('shows how many agents a selector matches, and validation messages beside the fields', async () => {
    const form = page.getByRole('form', { name: 'Start a job' });
    await form.locator('#j-selector').fill('env=prod');
    await until(async () => /2 online agents match now/.test(await form.innerText()), 'the live count for env=prod');
    await form.locator('#j-selector').fill('env in (prod');
    await until(async () => (await form.locator('#j-selector-error').count()) === 1, 'the selector parse error beside the field');
    await form.locator('#j-selector').fill('env=prod');
    await form.locator('#j-command').fill('');
    await form.locator('#j-maxConcurrency').fill('lots');
    await form.locator('#j-timeoutSeconds').fill('0');
    await form.getByRole('button', { name: 'Run job' }).click();
    assert.match(await form.locator('#j-command-error').innerText(), /program to run/);
    assert.match(await form.locator('#j-maxConcurrency-error').innerText(), /count .* or a percentage/);
    assert.match(await form.locator('#j-timeoutSeconds-error').innerText(), /more than 0/);
    assert.equal(await form.locator('#j-errorBudget-error').count(), 0, 'a valid field shows no error');
    assert.match(page.url(), /\/jobs$/, 'nothing was started');
    assert.equal((await fleet.api<{ total: number }>('GET', '/api/v1/jobs')).body.total, 0);
  });

  it('starts a job from the form, streams output in while it runs, and filters hosts by failed', async () => {
    const gate = join(work, 'go');
    // Each host says hello, then waits for the gate: its output must show while the job still runs. prod-2 then fails.
    const script = `echo "hello from $(basename "$PWD")"; i=0; while [ ! -e ${gate} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; test "$(basename "$PWD")" != prod-2`;
    const form = page.getByRole('form', { name: 'Start a job' });
    await form.locator('#j-command').fill('sh');
    await form.locator('#j-args').fill(`-c\n${script}`);
    await form.locator('#j-maxConcurrency').fill('100%');
    await form.locator('#j-errorBudget').fill('1');
    await form.locator('#j-timeoutSeconds').fill('300');
    await form.getByRole('button', { name: 'Run job' }).click();
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/, { timeout: LONG });
    jobUrl = page.url();
    const hosts = page.locator('table.job-hosts');
    for (const name of ['prod-1', 'prod-2']) {
      await until(async () => (await hosts.locator(`tr[data-host="${name}"]`).count()) === 1 && (await hosts.locator(`tr[data-host="${name}"]`).innerText()).includes(`hello from ${name}`), `${name}'s output streamed in`);
    }
    assert.match(await page.locator('main').innerText(), /running/, 'the job is still running while its output shows');
    assert.equal(await hosts.locator('tr[data-host="dev-1"]').count(), 0, 'only the selector\'s agents');

    await writeFile(gate, '');
    await until(async () => /\bfailed\b/.test(await hosts.locator('tr[data-host="prod-2"]').innerText()), 'prod-2 failed');
    await until(async () => /succeeded/.test(await hosts.locator('tr[data-host="prod-1"]').innerText()), 'prod-1 succeeded');
    assert.match(await hosts.locator('tr[data-host="prod-2"]').innerText(), /\b1\b/, 'the exit code');

    await page.getByLabel('Only failed hosts').check();
    await until(async () => (await hosts.locator('tbody tr').count()) === 1, 'only the failed host');
    assert.match(await hosts.locator('tbody tr').innerText(), /prod-2/);
    assert.match(page.url(), /failed=1/, 'the filter is in the URL');
  });

  it('lists jobs live with host counts, and filters by failed hosts', async () => {
    await page.goto(fleet.url + '/jobs');
    await until(async () => (await listRows()).length === 1, 'the job in the list');
    const [row] = await listRows();
    assert.match(row!, /1 ok/);
    assert.match(row!, /1 failed/);
    assert.match(row!, /admin/);
    assert.match(row!, /env=prod/);

    // Started elsewhere: the open page shows it from the fleet stream, without a reload.
    const started = await fleet.api<{ id: string }>('POST', '/api/v1/jobs', { selector: 'env=dev', command: ['true'] });
    assert.equal(started.status, 201);
    await until(async () => (await listRows()).length === 2 && (await listRows())[0]!.includes(started.body.id.slice(0, 8)), 'the new job at the top, live');
    await until(async () => /1 ok/.test((await listRows())[0]!), 'its host count, live');

    await page.getByLabel('Only jobs with failed hosts').check();
    await until(async () => (await listRows()).length === 1, 'only the job with a failed host');
    assert.match((await listRows())[0]!, /1 failed/);
    assert.match(page.url(), /failed=1/);
    await page.selectOption('#jobs-state', 'running');
    await until(async () => /No job matches these filters/.test(await page.locator('main').innerText()), 'no running job with failed hosts');
  });

  it('has no serious or critical accessibility violations on the jobs pages (axe-core)', async () => {
    const axe = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
    const found: string[] = [];
    for (const url of [fleet.url + '/jobs', jobUrl]) {
      await page.goto(url);
      await page.locator('main h1').first().waitFor({ timeout: LONG });
      await until(async () => (await page.locator('.state[role=status]').count()) === 0, `${url} loaded`);
      await page.addScriptTag({ path: axe });
      const violations = await page.evaluate(async () => {
        const g = globalThis as unknown as { document: unknown; axe: { run: (ctx: unknown, opts: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } };
        const result = await g.axe.run(g.document, { resultTypes: ['violations'] });
        return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
      });
      for (const v of violations) found.push(`${url}: ${v}`);
    }
    assert.deepEqual(found, []);
    assert.deepEqual(browser.errors.filter((e) => !/Failed to load resource|401|403|404/.test(e)), [], 'no page errors');
  });
});
