/**
 * The web console end to end: a real server serving the built console, real
 * agents running a real package, and Debian's Chromium driven by
 * playwright-core. Sign in; filter the fleet by selector and by facet (and
 * see a selector's parse error inline); open an agent and follow a live log
 * line; run a command and see its output; pause, resume and promote a
 * rollout from the inbox; see a killed agent turn offline and a lost server
 * connection come back, without a reload; agent names and log lines with
 * markup show as text; axe finds no serious accessibility violation.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { Fleet, IMMEDIATE_ROLLOUTS, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { Browser, chromiumMissing } from '../../src/testkit/browser.js';

const XSS = '<img src=x onerror=window.__xss=1>';
const LONG = 60_000;

/** A package printing a numbered line (with markup in it) twice a second. */
async function buildPackage(fleet: Fleet, work: string, version: string): Promise<void> {
  const dir = join(work, `hello-${version}`);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'hello.sh'),
    `#!/bin/sh\nn=0\nwhile true; do n=$((n+1)); echo "hello ${version} tick $n ${XSS}"; sleep 0.5; done\n`,
  );
  await writeFile(
    join(dir, 'corral.yaml'),
    `apiVersion: corral.io/v1\nname: hello\nversion: ${version}\nplatforms: [{os: linux, arch: any}]\nrun: {command: sh, args: [hello.sh]}\nrestart: {policy: always, maxDelayMs: 1000}\n`,
  );
  const out = join(work, `hello-${version}.tar.gz`);
  const built = await fleet.cli('package', 'build', dir, '--out', out);
  assert.equal(built.code, 0, built.stderr);
  const pushed = await fleet.cli('package', 'push', out);
  assert.equal(pushed.code, 0, pushed.stderr);
}

const missing = chromiumMissing();
if (missing && process.env.CI === 'true') throw new Error(`${missing} (CI=true: the console tests must run; .ci/run installs chromium)`);

describe('web console in a real browser', { concurrency: false, skip: missing ?? false }, () => {
  let fleet: Fleet;
  let work: string;
  let browser: Browser;
  let page: Page;
  let web1: TestAgent;
  let db1: TestAgent;
  let evil: TestAgent;
  const ids: Record<string, string> = {};

  /** Visible text of the fleet table's rows. */
  const rowTexts = () => page.locator('.vbody .vrow').allInnerTexts();
  const until = (check: () => Promise<boolean> | boolean, what: string) => eventually(async () => ((await check()) ? true : undefined), { timeoutMs: LONG, what });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-console-e2e-'));
    fleet = await Fleet.start({ rolloutDefaults: IMMEDIATE_ROLLOUTS });
    web1 = await fleet.startAgent({ name: 'web-1', labels: { env: 'prod', role: 'web' } });
    db1 = await fleet.startAgent({ name: 'db-1', labels: { env: 'dev', role: 'db' } });
    evil = await fleet.startAgent({ name: XSS, labels: { env: 'dev', role: 'web' } });
    for (const a of [web1, db1, evil]) {
      // A loaded machine can take a while to start an agent process.
      await until(() => existsSync(join(a.dataDir, 'identity.json')), `${a.name} started`);
      await fleet.awaitAgent(a, (x) => x.status === 'online', LONG);
      ids[a.name] = await a.instanceUid();
    }
    await buildPackage(fleet, work, '1.0.0');
    await buildPackage(fleet, work, '1.1.0');
    const deployed = await fleet.api('POST', '/api/v1/deployments', { name: 'hello', package: 'hello', version: '1.0.0', selector: 'role=web' });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    browser = await Browser.launch();
    page = await browser.page();
  });

  after(async () => {
    await browser?.close();
    await fleet?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('signs in with a token kept in the tab session only, never in the URL', async () => {
    await page.goto(fleet.url + '/fleet?status=online');
    await page.fill('#token', 'corral_admin_not-a-real-token');
    await page.click('button[type=submit]');
    await page.locator('#token-error').waitFor({ timeout: LONG });
    assert.match(await page.locator('#token-error').innerText(), /does not accept this token/);

    await page.fill('#token', fleet.adminToken);
    await page.click('button[type=submit]');
    await page.getByRole('heading', { name: 'Fleet' }).waitFor({ timeout: LONG });
    assert.ok(!page.url().includes(fleet.adminToken), 'the token is not in the URL');
    assert.match(page.url(), /status=online/, 'the page asked for is kept through the sign-in');
    // (In the page: DOM globals, reached through globalThis since this file is typed for Node.)
    const stored = await page.evaluate(() => {
      const g = globalThis as unknown as { sessionStorage: Record<string, string>; localStorage: Record<string, string> };
      return { session: Object.values(g.sessionStorage), local: Object.values(g.localStorage) };
    });
    assert.ok(stored.session.includes(fleet.adminToken));
    assert.ok(!stored.local.some((v) => v.includes(fleet.adminToken)));
  });

  it('lists the fleet, filters by selector and by facet, and shows a selector parse error inline', async () => {
    await page.goto(fleet.url + '/fleet');
    await until(async () => (await rowTexts()).length === 3, 'three agents listed');
    assert.match((await page.locator('.counts').innerText()).replace(/\s+/g, ' '), /online 3/);

    await page.fill('#selector', 'role=db');
    await page.press('#selector', 'Enter');
    await until(async () => {
      const rows = await rowTexts();
      return rows.length === 1 && rows[0]!.includes('db-1');
    }, 'only db-1 for role=db');
    assert.match(page.url(), /selector=role%3Ddb/, 'the filter is in the URL');

    await page.fill('#selector', 'env in (');
    await page.press('#selector', 'Enter');
    await page.locator('#selector-error').waitFor({ timeout: LONG });
    assert.ok((await page.locator('#selector-error').innerText()).length > 0);
    assert.equal(await page.getAttribute('#selector', 'aria-invalid'), 'true');

    await page.fill('#selector', '');
    await page.press('#selector', 'Enter');
    await until(async () => (await rowTexts()).length === 3, 'all agents again');
    // Facet: env → prod.
    await page.locator('.facets details', { hasText: 'env' }).getByRole('button', { name: /prod/ }).click();
    await until(async () => {
      const rows = await rowTexts();
      return rows.length === 1 && rows[0]!.includes('web-1');
    }, 'only web-1 for the env=prod facet');
    assert.equal(await page.inputValue('#selector'), 'env=prod');

    // A shared URL opens the same view (a new tab signs in first: the token is per tab).
    const shared = await browser.page();
    await shared.goto(fleet.url + '/fleet?selector=role%3Ddb');
    await shared.fill('#token', fleet.adminToken);
    await shared.click('button[type=submit]');
    await until(async () => {
      const rows = await shared.locator('.vbody .vrow').allInnerTexts();
      return rows.length === 1 && rows[0]!.includes('db-1');
    }, 'the shared URL shows the same filter');
    await shared.close();
  });

  it("shows an agent's services and follows a live log line", async () => {
    await page.goto(fleet.url + '/fleet');
    await page.getByRole('link', { name: 'web-1' }).click();
    await page.getByRole('heading', { name: 'web-1' }).waitFor({ timeout: LONG });
    const services = page.getByRole('region', { name: 'Services' });
    await until(async () => /hello[\s\S]*running/.test(await services.innerText()), 'the hello service running');
    await services.getByRole('button', { name: 'Follow logs' }).click();
    const tail = page.getByTestId('log-tail');
    let first = 0;
    await until(async () => {
      const m = [...(await tail.innerText()).matchAll(/tick (\d+)/g)];
      if (m.length > 0) first = Number(m.at(-1)![1]);
      return m.length > 0;
    }, 'a log line');
    await until(async () => {
      const m = [...(await tail.innerText()).matchAll(/tick (\d+)/g)];
      return m.length > 0 && Number(m.at(-1)![1]) > first;
    }, 'a newer log line arriving live');
  });

  it('renders agent names and log lines with markup as text, never as HTML', async () => {
    await page.goto(`${fleet.url}/agents/${ids[XSS]}?logs=hello`);
    await page.getByRole('heading', { name: XSS }).waitFor({ timeout: LONG });
    const tail = page.getByTestId('log-tail');
    await until(async () => (await tail.innerText()).includes(`tick`) && (await tail.innerText()).includes(XSS), 'the log line with its markup as text');
    await page.goto(`${fleet.url}/fleet?q=${encodeURIComponent('img')}`);
    await until(async () => (await rowTexts()).some((r) => r.includes(XSS)), 'the name shown literally in the fleet');
    const injected = { imgs: await page.locator('img[src="x"]').count(), xss: await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss ?? null) };
    assert.deepEqual(injected, { imgs: 0, xss: null });
  });

  it('runs a command from the agent page and shows its output', async () => {
    await page.goto(`${fleet.url}/agents/${ids['web-1']}`);
    const exec = page.getByRole('region', { name: 'Run a command' });
    await exec.getByRole('textbox').fill('echo "console exec works"');
    await exec.getByRole('button', { name: 'Run' }).click();
    await until(async () => (await exec.innerText()).includes('console exec works'), 'the exec output');
    await until(async () => /succeeded/.test(await exec.innerText()), 'the job succeeded');
  });

  it('creates a deployment from the form, with mistakes shown beside their fields', async () => {
    await page.goto(fleet.url + '/deployments/new');
    await page.fill('#f-name', 'Not A Name');
    await page.fill('#f-selector', 'env in (');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.locator('#f-name-error').waitFor({ timeout: LONG });
    await page.locator('#f-package-error').waitFor({ timeout: LONG });
    await until(async () => (await page.locator('#f-selector-error').count()) === 1, 'the selector parse error beside the selector');

    await page.fill('#f-name', 'hello-idle');
    await page.selectOption('#f-package', 'hello');
    await page.selectOption('#f-version', '1.0.0');
    await page.fill('#f-selector', 'role=nothing');
    await until(async () => /0 agents match now/.test(await page.locator('form').innerText()), 'the live count of matching agents');
    // The form lets 250% through; the server refuses it and names the field, and the message shows beside it.
    await page.fill('#f-maxInFlight', '250%');
    await page.getByRole('button', { name: 'Create' }).click();
    await until(async () => /percentage/.test(await page.locator('#f-maxInFlight-error').innerText().catch(() => '')), "the server's refusal beside Max in flight");
    await page.fill('#f-maxInFlight', '');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'hello-idle' }).waitFor({ timeout: LONG });
    const stored = await fleet.api<{ package: string; version: string; selector: string }>('GET', '/api/v1/deployments/hello-idle');
    assert.deepEqual([stored.status, stored.body.package, stored.body.version, stored.body.selector], [200, 'hello', '1.0.0', 'role=nothing']);
  });

  it('promotes a rollout waiting in the inbox; pauses, resumes and aborts another', async () => {
    const deploy = async (version: string, minHealthySeconds: number) => {
      const changed = await fleet.api('POST', '/api/v1/deployments', {
        name: 'hello',
        package: 'hello',
        version,
        selector: 'role=web',
        rollout: { canary: '1', promote: 'manual', maxInFlight: '1', minHealthySeconds },
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
    };
    const act = async (button: string) => {
      await page.getByRole('button', { name: button, exact: true }).click();
      const dialog = page.locator('dialog[open]');
      await dialog.waitFor({ timeout: LONG });
      await dialog.getByRole('button', { name: button, exact: true }).click();
      await until(async () => (await page.locator('dialog[open]').count()) === 0, `the ${button} dialog closed`);
    };
    const state = () => page.locator('.page-head .status').first().innerText();

    // A healthy canary under manual promote waits in the inbox.
    await deploy('1.1.0', 0);
    await page.goto(fleet.url + '/fleet');
    await until(async () => /Inbox\s*1/.test(await page.locator('.inbox').innerText()), 'the inbox counting the rollout waiting for promote');
    await page.locator('body').press('i');
    await page.getByRole('heading', { name: 'Inbox' }).waitFor({ timeout: LONG });
    await page.getByRole('link', { name: 'hello' }).first().click();
    await until(async () => (await state()) === 'waiting for promote', 'the rollout page waiting for promote');
    await act('Promote');
    await until(async () => (await state()) === 'succeeded', 'the promoted rollout succeeding');
    await until(async () => /Inbox\s*0/.test(await page.locator('.inbox').innerText()), 'the inbox empty again');

    // A canary that must stay healthy for an hour keeps its rollout running: pause, resume, abort it.
    await deploy('1.0.0', 3600);
    await page.goto(fleet.url + '/rollouts');
    await page.getByRole('link', { name: 'hello' }).first().click();
    await until(async () => (await state()) === 'running', 'the new rollout running');
    await act('Pause');
    await until(async () => (await state()) === 'paused', 'the rollout paused');
    await act('Resume');
    await until(async () => (await state()) === 'running', 'the rollout resumed');
    await act('Abort');
    await until(async () => (await state()) === 'aborted', 'the rollout aborted');
  });

  it('diffs two revisions and rolls back to one from the history as a rollout', async () => {
    await page.goto(fleet.url + '/deployments/hello');
    const history = page.getByRole('region', { name: 'Revision history' });
    await until(async () => (await history.getByRole('row').count()) >= 4, 'three revisions listed');
    // Compare revision 1 (1.0.0) with 2 (1.1.0).
    await history.getByRole('row', { name: /^1 / }).getByLabel('from', { exact: true }).check();
    await history.getByRole('row', { name: /^2 / }).getByLabel('to', { exact: true }).check();
    const diff = history.getByLabel('Differences between the revisions');
    await until(async () => /- version: 1\.0\.0[\s\S]*\+ version: 1\.1\.0/.test(await diff.innerText()), 'the version change in the diff');

    await history.getByRole('button', { name: 'Roll back to 2' }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor({ timeout: LONG });
    await dialog.getByRole('button', { name: 'Roll back to 2' }).click();
    await page.getByRole('heading', { name: /Rollback of hello/ }).waitFor({ timeout: LONG });
    await until(async () => (await page.locator('.page-head .status').first().innerText()) === 'succeeded', 'the rollback to revision 2 succeeding');
    const d = await fleet.api<{ version: string }>('GET', '/api/v1/deployments/hello');
    assert.equal(d.body.version, '1.1.0');
  });

  it('shows a killed agent offline without a reload', async () => {
    await page.goto(fleet.url + '/fleet?selector=role%3Ddb');
    await until(async () => /online/.test((await rowTexts())[0] ?? ''), 'db-1 online');
    await db1.process.signal('SIGKILL');
    await until(async () => /offline/.test((await rowTexts())[0] ?? ''), 'db-1 offline in the open page');
  });

  it('shows a banner when the server connection is lost and recovers by itself', async () => {
    await page.goto(fleet.url + '/events');
    await until(async () => (await page.locator('.live-dot').innerText()) === 'Live', 'live updates connected');
    await fleet.stopServer();
    await page.getByRole('alert').filter({ hasText: 'Connection to the server lost' }).waitFor({ timeout: LONG });
    await fleet.restartServer();
    await page.getByRole('alert').filter({ hasText: 'Connection to the server lost' }).waitFor({ state: 'detached', timeout: LONG });
    // Events from after the outage arrive live: web-1 reconnecting to the restarted server.
    await until(async () => (await page.locator('table').innerText()).includes('agent.online'), 'new events after the reconnect');
  });

  it('has no serious or critical accessibility violations on the main pages (axe-core)', async () => {
    const axe = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
    const pages = ['/fleet', `/agents/${ids['web-1']}`, '/deployments', '/deployments/hello', '/rollouts', '/jobs', '/packages', '/events', '/audit', '/account'];
    const found: string[] = [];
    for (const path of pages) {
      await page.goto(fleet.url + path);
      // The live stream keeps the network busy: wait for the page's own loading states to end instead.
      await page.locator('main h1').first().waitFor({ timeout: LONG });
      await until(async () => (await page.locator('.state[role=status]').count()) === 0, `${path} loaded`);
      await page.addScriptTag({ path: axe });
      const violations = await page.evaluate(async () => {
        const g = globalThis as unknown as { document: unknown; axe: { run: (ctx: unknown, opts: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } };
        const result = await g.axe.run(g.document, { resultTypes: ['violations'] });
        return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
      });
      for (const v of violations) found.push(`${path}: ${v}`);
    }
    assert.deepEqual(found, []);
  });

  it('works under its own Content-Security-Policy (no inline script or style needed)', async () => {
    const strict = await Browser.launch({ bypassCSP: false });
    try {
      const p = await strict.page();
      await p.goto(fleet.url + '/');
      await p.fill('#token', fleet.adminToken);
      await p.click('button[type=submit]');
      await until(async () => (await p.locator('.vbody .vrow').count()) > 0, 'the fleet under the CSP');
      await p.goto(`${fleet.url}/agents/${ids['web-1']}`);
      await p.getByRole('heading', { name: 'web-1' }).waitFor({ timeout: LONG });
      await until(async () => (await p.locator('.uplot').count()) > 0, 'the charts drawn under the CSP');
      assert.deepEqual(strict.errors.filter((e) => /Content Security Policy|Refused to/i.test(e)), []);
    } finally {
      await strict.close();
    }
  });

  it('raised no script errors in the pages', () => {
    // Failed requests the console expects and handles (an API older than the console: 404 for /me, /stream) are not errors of the page.
    assert.deepEqual(browser.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});
