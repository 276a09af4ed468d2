/**
 * Refreshes the console screenshots in docs/screenshots/ (light and dark): a
 * real server and agents (src/testkit/fleet.ts), a package in two versions,
 * a deployment with a rollout waiting for promote, a job, a write a viewer
 * was denied (for the audit log), then Chromium
 * visits the main pages. Run on purpose (`npm run screenshots:console`,
 * after `npm run build`), not on every test run.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet } from '../src/testkit/fleet.js';
import { eventually } from '../src/testkit/eventually.js';
import { Browser } from '../src/testkit/browser.js';

const OUT = new URL('../docs/screenshots/', import.meta.url).pathname;
const LONG = 60_000;

async function publish(fleet: Fleet, work: string, version: string): Promise<void> {
  const dir = join(work, `hello-${version}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'hello.sh'), `#!/bin/sh\nn=0\nwhile true; do n=$((n+1)); echo "hello ${version} says hi, tick $n"; x=0; while [ $x -lt 20000 ]; do x=$((x+1)); done; sleep 1; done\n`);
  await writeFile(join(dir, 'corral.yaml'), `apiVersion: corral.io/v1\nname: hello\nversion: ${version}\nplatforms: [{os: linux, arch: any}]\nrun: {command: sh, args: [hello.sh]}\nrestart: {policy: always, maxDelayMs: 1000}\n`);
  const out = join(work, `hello-${version}.tar.gz`);
  if ((await fleet.cli('package', 'build', dir, '--out', out)).code !== 0) throw new Error('package build failed');
  if ((await fleet.cli('package', 'push', out)).code !== 0) throw new Error('package push failed');
}

const work = await mkdtemp(join(tmpdir(), 'corral-shots-'));
const fleet = await Fleet.start({ rolloutDefaults: { maxInFlight: '100%', minHealthySeconds: 0, onFailure: 'pause' } });
try {
  const groups: [string, Record<string, string>][] = [
    ['web-1', { env: 'prod', role: 'web', cluster: 'eu-1' }],
    ['web-2', { env: 'prod', role: 'web', cluster: 'eu-2' }],
    ['web-3', { env: 'staging', role: 'web', cluster: 'eu-1' }],
    ['api-1', { env: 'prod', role: 'api', cluster: 'us-1' }],
    ['api-2', { env: 'staging', role: 'api', cluster: 'us-1' }],
    ['db-1', { env: 'prod', role: 'db', cluster: 'eu-1' }],
  ];
  const agents = [];
  for (const [name, labels] of groups) agents.push(await fleet.startAgent({ name, labels }));
  for (const a of agents) {
    // A loaded machine can take a while to start an agent process.
    await eventually(() => (existsSync(join(a.dataDir, 'identity.json')) ? true : undefined), { timeoutMs: LONG, what: `${a.name} started` });
    await fleet.awaitAgent(a, (x) => x.status === 'online', LONG);
  }
  const web1 = await agents[0]!.instanceUid();
  const web2 = await agents[1]!.instanceUid();
  await publish(fleet, work, '1.0.0');
  await publish(fleet, work, '1.1.0');
  await fleet.api('POST', '/api/v1/deployments', { name: 'hello', package: 'hello', version: '1.0.0', selector: 'role in (web,api)', values: { greeting: 'hi' } });
  await eventually(async () => {
    const r = await fleet.api<{ services: { state: string }[] }>('GET', `/api/v1/agents/${web1}/services`);
    return r.body.services.some((s) => s.state === 'running') ? true : undefined;
  }, { timeoutMs: LONG, what: 'hello running' });
  await fleet.api('POST', '/api/v1/deployments', { name: 'hello', package: 'hello', version: '1.1.0', selector: 'role in (web,api)', values: { greeting: 'hello' }, rollout: { canary: '1', promote: 'manual', batches: 2, maxInFlight: '1' } });
  const job = await fleet.api<{ id: string }>('POST', '/api/v1/jobs', { selector: 'role=web', command: ['uname', '-a'] });
  // The audit log: a viewer's write, denied, among the admin's.
  await fleet.api('POST', '/api/v1/users', { name: 'vera', roles: [{ role: 'viewer', selector: '' }] });
  const vera = await fleet.api<{ token: string }>('POST', '/api/v1/users/vera/tokens', { name: 'laptop' });
  await fleet.api('POST', '/api/v1/deployments/hello/stop', undefined, vera.body.token);
  // Let samples build up for the charts.
  await new Promise((r) => setTimeout(r, 25_000));
  const rollouts = await fleet.api<{ rollouts: { id: string }[] }>('GET', '/api/v1/rollouts');
  const pages: [string, string][] = [
    // Two agents ticked: the bulk actions bar.
    ['fleet', `/fleet?sel=${web1},${web2}`],
    ['agent', `/agents/${web1}?logs=hello`],
    ['deployment', '/deployments/hello'],
    ['rollout', `/rollouts/${rollouts.body.rollouts[0]!.id}`],
    ['job', `/jobs/${job.body.id}`],
    ['events', '/events'],
    ['audit', '/audit'],
    ['account', '/account'],
  ];
  await mkdir(OUT, { recursive: true });
  for (const scheme of ['light', 'dark'] as const) {
    const browser = await Browser.launch({ colorScheme: scheme });
    const page = await browser.page();
    await page.goto(fleet.url + '/');
    await page.screenshot({ path: join(OUT, `sign-in-${scheme}.png`) });
    await page.fill('#token', fleet.adminToken);
    await page.click('button[type=submit]');
    await page.locator('.topbar').waitFor({ timeout: LONG });
    for (const [name, path] of pages) {
      await page.goto(fleet.url + path);
      // The live stream keeps the network busy (no "network idle"): wait for the page's loading states to end.
      await page.locator('main h1').first().waitFor({ timeout: LONG });
      await eventually(async () => ((await page.locator('.state[role=status]').count()) === 0 ? true : undefined), { timeoutMs: LONG, what: `${path} loaded` });
      if (name === 'agent') await page.getByTestId('log-tail').filter({ hasText: 'tick' }).waitFor({ timeout: LONG });
      if (name === 'audit') {
        await page.getByRole('button', { name: 'Verify chain' }).click();
        await page.getByTestId('verify-result').filter({ hasText: 'chain intact' }).waitFor({ timeout: LONG });
      }
      await page.screenshot({ path: join(OUT, `${name}-${scheme}.png`), fullPage: name !== 'fleet' });
    }
    console.log(`${scheme}: ${pages.length + 1} screenshots in ${OUT}`, browser.errors.filter((e) => !/Failed to load resource/.test(e)));
    await browser.close();
  }
} finally {
  await fleet.close();
  await rm(work, { recursive: true, force: true });
}
