/**
 * The web console's account page, end to end: a real server serving the
 * built console, a user who is not an admin (a viewer of the fleet and an
 * operator on staging), and Debian's Chromium driven by playwright-core. The
 * user sees their name, role bindings and the token in use; creates a token
 * and sees its secret once (never in the URL, storage or the page once the
 * dialog closes), which the API then accepts; revokes it and the token made
 * with it, which the API then refuses; revoking the token in use signs out.
 * A token narrowed to its own roles (viewer on the whole fleet, one click)
 * shows them in the list, reads and is refused writes; the page signed in
 * with it says it is narrowed; a role beyond the user's is refused by the
 * server, whose words show beside the roles section, and nothing is made.
 * Another user's tokens never show. axe finds no serious violation, light or dark.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { Locator, Page } from 'playwright-core';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { Browser, chromiumMissing } from '../../src/testkit/browser.js';

const LONG = 60_000;

const missing = chromiumMissing();
if (missing && process.env.CI === 'true') throw new Error(`${missing} (CI=true: the console tests must run; .ci/run installs chromium)`);

describe('web console: your account and API tokens', { concurrency: false, skip: missing ?? false }, () => {
  let fleet: Fleet;
  let browser: Browser;
  let page: Page;
  let noraToken = '';
  let ottoPrefix = '';

  const until = (check: () => Promise<boolean> | boolean, what: string) => eventually(async () => ((await check()) ? true : undefined), { timeoutMs: LONG, what });
  const whoami = (token: string) => fleet.api<{ name: string }>('GET', '/api/v1/whoami', undefined, token);
  const focused = (l: Locator) => l.evaluate((el) => el === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement);
  /** The text of the first element `l` is described by (where a field's error is). */
  const describedText = async (l: Locator) => page.locator(`[id="${(await l.getAttribute('aria-describedby'))!.split(' ')[0]}"]`).innerText();
  const rolesSection = (p = page) => p.getByRole('group', { name: 'Narrow to roles (optional)' });
  const tokenRow = (name: string, p = page) => p.locator('tbody tr', { has: p.locator('td:first-child .mono', { hasText: new RegExp(`^${name}$`) }) });

  async function adminMadeToken(user: string, name: string): Promise<{ token: string; prefix: string }> {
    const t = await fleet.api<{ token: string; prefix: string }>('POST', `/api/v1/users/${user}/tokens`, { name });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    return t.body;
  }

  async function signIn(token: string, b = browser): Promise<Page> {
    const p = await b.page();
    await p.goto(fleet.url + '/fleet');
    await p.fill('#token', token);
    await p.click('button[type=submit]');
    await p.getByRole('heading', { name: 'Fleet' }).waitFor({ timeout: LONG });
    return p;
  }

  async function openAccount(p: Page): Promise<void> {
    await p.goto(fleet.url + '/account');
    await p.getByRole('heading', { name: 'Your account' }).waitFor({ timeout: LONG });
    await until(async () => (await p.locator('.state[role=status]').count()) === 0, '/account loaded');
  }

  async function axe(p: Page): Promise<string[]> {
    await p.addScriptTag({ path: createRequire(import.meta.url).resolve('axe-core/axe.min.js') });
    return p.evaluate(async () => {
      const g = globalThis as unknown as { document: unknown; axe: { run: (ctx: unknown, opts: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } };
      const result = await g.axe.run(g.document, { resultTypes: ['violations'] });
      return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
    });
  }

  before(async () => {
    fleet = await Fleet.start();
    for (const [name, roles] of [
      ['nora', [{ role: 'viewer', selector: '' }, { role: 'operator', selector: 'env=staging' }]],
      ['otto', [{ role: 'operator', selector: '' }]],
    ] as const) {
      const made = await fleet.api('POST', '/api/v1/users', { name, roles });
      assert.equal(made.status, 201, JSON.stringify(made.body));
    }
    noraToken = (await adminMadeToken('nora', 'laptop')).token;
    ottoPrefix = (await adminMadeToken('otto', 'otto-only')).prefix;
    browser = await Browser.launch();
    page = await signIn(noraToken);
  });

  after(async () => {
    await browser?.close();
    await fleet?.close();
  });

  it("shows who you are (name, role bindings, the token in use) from the header, and none of another user's tokens", async () => {
    await page.getByRole('link', { name: /nora \(your account\)/ }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor({ timeout: LONG });
    assert.equal(new URL(page.url()).pathname, '/account');
    await until(async () => (await page.getByTestId('account-user').innerText()) === 'nora', 'the user name');
    const roles = await page.getByTestId('account-roles').innerText();
    assert.match(roles, /viewer on the whole fleet/);
    assert.match(roles, /operator on env=staging/);
    await until(async () => /laptop[\s\S]*this one/.test(await page.getByTestId('account-token').innerText()), 'the token in use, marked');
    const table = page.getByRole('table', { name: 'Your API tokens' });
    await until(async () => (await tokenRow('laptop').count()) === 1, "nora's token listed");
    assert.match(await tokenRow('laptop').innerText(), /this one[\s\S]*never[\s\S]*by an admin[\s\S]*active/);
    const text = await page.locator('main').innerText();
    assert.ok(!text.includes('otto-only') && !text.includes(ottoPrefix), `no token of otto's on the page: ${await table.innerText()}`);
  });

  it('creates a token, shows the secret once and never keeps it; the API accepts it, and refuses it and its child once revoked', async () => {
    await openAccount(page);
    // The API's 400 shows beside the field it names.
    await page.getByLabel('Name').fill('bad/name');
    await page.getByRole('button', { name: 'Create token' }).click();
    const nameField = page.getByLabel('Name');
    await until(async () => (await nameField.getAttribute('aria-invalid')) === 'true', 'the name marked invalid');
    const describedBy = (await nameField.getAttribute('aria-describedby'))!.split(' ');
    const errorText = await page.locator(`[id="${describedBy[0]}"]`).innerText();
    assert.match(errorText, /token name "bad\/name": 1 to 64 letters/);
    // A date chosen but not given: said beside the expiry, nothing sent.
    await page.getByLabel('Expires in').selectOption('date');
    await page.getByLabel('Name').fill('ci runner');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByText('Pick the date the token expires.').waitFor({ timeout: LONG });
    assert.equal(await nameField.getAttribute('aria-invalid'), null, 'the name error cleared');

    await page.getByLabel('Expires in').selectOption('30d');
    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Token ci runner created' });
    await dialog.waitFor({ timeout: LONG });
    assert.match(await dialog.innerText(), /you won't see it again/);
    const secretField = dialog.getByLabel('Secret');
    assert.equal(await secretField.getAttribute('readonly'), '');
    const secret = await secretField.inputValue();
    assert.match(secret, /^corral_user_/);
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await until(async () => /Copied|press Ctrl\+C/.test(await dialog.getByRole('status').innerText()), 'copy answered');

    // The secret works, as nora.
    const who = await whoami(secret);
    assert.equal(who.status, 200, JSON.stringify(who.body));
    assert.equal(who.body.name, 'nora');
    // Never in the URL or storage, even while shown.
    const leaks = () =>
      page.evaluate((s) => {
        const g = globalThis as unknown as { location: { href: string }; localStorage: object; sessionStorage: object; document: { documentElement: { outerHTML: string } } };
        return { url: g.location.href.includes(s), local: JSON.stringify({ ...g.localStorage }).includes(s), session: JSON.stringify({ ...g.sessionStorage }).includes(s), page: g.document.documentElement.outerHTML.includes(s) };
      }, secret);
    assert.deepEqual({ ...(await leaks()), page: false }, { url: false, local: false, session: false, page: false });

    await dialog.getByRole('button', { name: 'Done, I have copied it' }).click();
    await dialog.waitFor({ state: 'detached', timeout: LONG });
    assert.deepEqual(await leaks(), { url: false, local: false, session: false, page: false }, 'the secret gone once the dialog closed');
    await until(async () => (await tokenRow('ci runner').count()) === 1, 'the new token listed');
    assert.match(await tokenRow('ci runner').innerText(), /in (29d 23h|30d)[\s\S]*laptop[\s\S]*active/);

    // A token made with the new one (its child): revoking the new one revokes it too, and the dialog says so.
    const child = await fleet.api<{ token: string }>('POST', '/api/v1/whoami/tokens', { name: 'ci child', expiresIn: '7d' }, secret);
    assert.equal(child.status, 201, JSON.stringify(child.body));
    await openAccount(page);
    await until(async () => (await tokenRow('ci child').count()) === 1, 'the child listed');
    assert.match(await tokenRow('ci child').innerText(), /ci runner/);
    await page.getByRole('button', { name: 'Revoke ci runner' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke token ci runner?' });
    await confirm.waitFor({ timeout: LONG });
    const body = await confirm.innerText();
    assert.match(body, /Tokens created with it are revoked too: 1 active \(ci child\)/);
    assert.doesNotMatch(body, /signs you out/);
    await confirm.getByRole('button', { name: 'Revoke', exact: true }).click();
    await until(async () => /revoked/.test(await tokenRow('ci runner').innerText()) && /revoked/.test(await tokenRow('ci child').innerText()), 'both shown revoked');
    assert.equal(await page.getByRole('button', { name: 'Revoke ci runner' }).count(), 0, 'no Revoke on a revoked token');
    assert.equal((await whoami(secret)).status, 401, 'the revoked token refused');
    assert.equal((await whoami(child.body.token)).status, 401, 'its child refused');
    assert.equal((await whoami(noraToken)).status, 200, 'the token in use still works');
    await page.getByRole('heading', { name: 'Your account' }).waitFor({ timeout: LONG });
  });

  it('narrows a new token to viewer on the whole fleet in one click: the list and the dialog show its roles, the API lets it read and refuses its writes, and signed in with it the page says it is narrowed', async () => {
    await openAccount(page);
    await page.getByLabel('Name').fill('read only');
    const roles = rolesSection();
    await roles.getByRole('button', { name: 'Add viewer on the whole fleet' }).click();
    const row = roles.getByRole('group', { name: 'Role binding 1' });
    const role = row.getByLabel('Role', { exact: true });
    assert.equal(await role.inputValue(), 'viewer');
    assert.equal(await row.getByLabel('Selector').inputValue(), '');
    await until(() => focused(role), "focus on the new row's role");
    assert.equal(await roles.getByRole('button', { name: 'Add viewer on the whole fleet' }).count(), 0, 'a pick already chosen is not offered again');
    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Token read only created' });
    await dialog.waitFor({ timeout: LONG });
    assert.equal(await dialog.getByTestId('secret-roles').innerText(), 'Narrowed to viewer on the whole fleet.');
    const secret = await dialog.getByLabel('Secret').inputValue();
    await dialog.getByRole('button', { name: 'Done, I have copied it' }).click();
    await dialog.waitFor({ state: 'detached', timeout: LONG });
    assert.equal(await roles.getByRole('group').count(), 0, 'the rows cleared for the next token');
    await until(async () => (await tokenRow('read only').count()) === 1, 'the narrowed token listed');
    assert.match(await tokenRow('read only').innerText(), /viewer on the whole fleet[\s\S]*laptop[\s\S]*active/);
    assert.match(await tokenRow('laptop').innerText(), /never\s+as its user\s+by an admin/);

    // The API: it reads, and is refused a write nora herself may make (operator on env=staging).
    const who = await fleet.api<{ tokenRoles: unknown }>('GET', '/api/v1/whoami', undefined, secret);
    assert.deepEqual(who.body.tokenRoles, [{ role: 'viewer', selector: '' }]);
    assert.equal((await fleet.api('GET', '/api/v1/configs', undefined, secret)).status, 200, 'a read works');
    const config = { selector: 'env=staging', files: { 'app.yaml': { contentType: 'text/yaml', body: 'env: staging\n' } } };
    const write = await fleet.api<{ error: { message: string } }>('PUT', '/api/v1/configs/narrowed-cfg', config, secret);
    assert.equal(write.status, 403, JSON.stringify(write.body));
    assert.match(write.body.error.message, /needs role operator; .*narrowed/);
    const asUser = await fleet.api('PUT', '/api/v1/configs/narrowed-cfg', config, noraToken);
    assert.equal(asUser.status, 200, `nora's own token may: ${JSON.stringify(asUser.body)}`);

    // Signed in with it: the page says it is narrowed, and to what.
    const p = await signIn(secret);
    try {
      await openAccount(p);
      await until(async () => /viewer on the whole fleet/.test(await p.getByTestId('account-token-roles').innerText()), 'the token in use shown narrowed');
      const may = await p.getByTestId('account-roles').innerText();
      assert.match(may, /viewer on the whole fleet/);
      assert.doesNotMatch(may, /operator/);
      assert.match(await rolesSection(p).innerText(), /Without roles here, the new token is narrowed as the one you are signed in with/);
      assert.equal(await rolesSection(p).getByRole('button', { name: /^Add operator/ }).count(), 0, 'no pick beyond what this token may do');
    } finally {
      await p.close();
    }
  });

  it("shows the server's refusal of a role beyond yours beside the roles section and creates nothing; a bad selector beside its row; rows added and removed with the keyboard", async () => {
    await openAccount(page);
    await page.getByLabel('Name').fill('staging ops');
    const roles = rolesSection();
    await roles.getByRole('button', { name: 'Add a role' }).focus();
    await page.keyboard.press('Enter');
    const row1 = roles.getByRole('group', { name: 'Role binding 1' });
    const role1 = row1.getByLabel('Role', { exact: true });
    await until(() => focused(role1), "focus on the new row's role");
    await role1.selectOption('admin');
    await page.getByRole('button', { name: 'Create token' }).click();
    await until(async () => (await roles.getAttribute('aria-describedby'))!.split(' ').length === 2, 'the roles section described by an error');
    // The server names the binding refused and what the token in use holds (in its own order).
    assert.match(await describedText(roles), /^roles must be within yours \(the roles of the token you call with\): admin is not within (viewer, operator on env=staging|operator on env=staging, viewer)$/);
    assert.deepEqual(await axe(page), [], 'axe, with the refusal shown');
    const listed = await fleet.api<{ tokens: { name: string }[] }>('GET', '/api/v1/whoami/tokens', undefined, noraToken);
    assert.ok(!listed.body.tokens.some((t) => t.name === 'staging ops'), 'nothing created');
    assert.equal(await tokenRow('staging ops').count(), 0);

    // Within nora's roles, but a second row whose selector does not parse: said beside that row.
    await role1.selectOption('operator');
    await row1.getByLabel('Selector').fill('env=staging');
    await roles.getByRole('button', { name: 'Add a role' }).click();
    const selector2 = roles.getByRole('group', { name: 'Role binding 2' }).getByLabel('Selector');
    await selector2.fill('env in (');
    await page.getByRole('button', { name: 'Create token' }).click();
    await until(async () => (await selector2.getAttribute('aria-invalid')) === 'true', 'the second selector marked invalid');
    assert.match(await describedText(selector2), /^roles\[1\]\.selector: /);
    assert.equal((await roles.getAttribute('aria-describedby'))!.split(' ').length, 1, 'the section error gone');

    // Remove the bad row with the keyboard: focus returns to Add a role.
    await roles.getByRole('button', { name: 'Remove role binding 2' }).focus();
    await page.keyboard.press('Enter');
    await until(async () => (await roles.getByRole('group').count()) === 1, 'the second row removed');
    await until(() => focused(roles.getByRole('button', { name: 'Add a role' })), 'focus back on Add a role');
    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Token staging ops created' });
    await dialog.waitFor({ timeout: LONG });
    assert.equal(await dialog.getByTestId('secret-roles').innerText(), 'Narrowed to operator on env=staging.');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached', timeout: LONG });
    await until(async () => (await tokenRow('staging ops').count()) === 1, 'the token listed');
    assert.match(await tokenRow('staging ops').innerText(), /operator on env=staging/);
  });

  it('has no serious or critical accessibility violations on /account, light and dark, with the secret dialog open too (axe-core)', async () => {
    const found: string[] = [];
    await openAccount(page);
    // The roles section with a row in it, checked too (and in the dialog's page behind).
    await rolesSection().getByRole('button', { name: 'Add viewer on the whole fleet' }).click();
    for (const v of await axe(page)) found.push(`light: ${v}`);
    await page.getByLabel('Name').fill('a11y');
    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Token a11y created' });
    await dialog.waitFor({ timeout: LONG });
    for (const v of await axe(page)) found.push(`light, secret dialog: ${v}`);
    // Escape closes it like Done, and forgets the secret.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached', timeout: LONG });
    const dark = await Browser.launch({ colorScheme: 'dark' });
    try {
      const p = await signIn(noraToken, dark);
      await openAccount(p);
      await rolesSection(p).getByRole('button', { name: 'Add viewer on the whole fleet' }).click();
      for (const v of await axe(p)) found.push(`dark: ${v}`);
    } finally {
      await dark.close();
    }
    assert.deepEqual(found, []);
  });

  it('revoking the token in use says it signs out, then signs out; the API refuses that token after', async () => {
    const second = await fleet.api<{ token: string }>('POST', '/api/v1/users/nora/tokens', { name: 'second', expiresIn: '7d' });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    const p = await signIn(second.body.token);
    await openAccount(p);
    await until(async () => /second[\s\S]*this one/.test(await p.getByTestId('account-token').innerText()), 'the second token in use');
    // A token cannot outlive the one that creates it: the API's refusal shows beside the expiry.
    await p.getByLabel('Name').fill('too long');
    await p.getByLabel('Expires in').selectOption('30d');
    await p.getByRole('button', { name: 'Create token' }).click();
    const expiry = p.getByLabel('Expires in');
    await until(async () => (await expiry.getAttribute('aria-invalid')) === 'true', 'the expiry marked invalid');
    const errorId = (await expiry.getAttribute('aria-describedby'))!.split(' ')[0]!;
    assert.match(await p.locator(`[id="${errorId}"]`).innerText(), /expiresIn: 30d .* when the token you are using expires/);
    assert.equal(await tokenRow('too long', p).count(), 0);
    await p.getByRole('button', { name: 'Revoke second' }).click();
    const confirm = p.getByRole('dialog', { name: 'Revoke token second?' });
    await confirm.waitFor({ timeout: LONG });
    assert.match(await confirm.innerText(), /the token you are signed in with: revoking it signs you out/);
    await confirm.getByRole('button', { name: 'Revoke and sign out' }).click();
    await p.locator('#token').waitFor({ timeout: LONG });
    assert.equal(await p.evaluate(() => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length), 0, 'the session forgotten');
    assert.equal((await whoami(second.body.token)).status, 401);
    // The other page, on another token, is still signed in.
    assert.equal((await whoami(noraToken)).status, 200);
    assert.deepEqual(browser.errors.filter((e) => !/Failed to load resource|401|403|404/.test(e)), [], 'no page errors');
  });
});
