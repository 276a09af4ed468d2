/**
 * `npm run bench -- console-fleet [--agents N] [--runs N]`: the web console's
 * fleet page with N agents in the store (SQLite), in headless Chromium
 * against a real `corral server`. Prints the time from opening /fleet to the
 * first rows and counts on screen, and from a search change to the new
 * result (median of --runs). Needs the built console (`npm run build`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openStore, type AgentRecord } from '../src/server/store/index.js';
import { CorralProcess } from '../src/testkit/processes.js';
import { Browser } from '../src/testkit/browser.js';

const uid = (n: number) => `0190cccc-0000-7000-8000-${String(n).padStart(12, '0')}`;
const ENVS = ['prod', 'staging', 'dev'];

function agent(n: number, now: number): AgentRecord {
  return {
    id: uid(n),
    kind: 'corral',
    name: `host-${String(n).padStart(6, '0')}`,
    status: n % 50 === 0 ? 'offline' : 'online',
    labels: { env: ENVS[n % 3]!, rack: `r${n % 40}` },
    boundLabels: { zone: `z${n % 7}` },
    enrollmentTokenId: null,
    approval: 'approved',
    identifyingAttributes: { 'service.name': 'io.corral.agent', 'service.version': `0.${n % 5}.0` },
    nonIdentifyingAttributes: { 'host.name': `host-${n}.example`, 'os.type': 'linux', 'host.arch': n % 4 === 0 ? 'arm64' : 'amd64' },
    capabilities: 0,
    health: null,
    effectiveConfig: null,
    remoteConfigStatus: null,
    packageStatuses: null,
    credentialHash: null,
    firstSeenAt: now,
    lastSeenAt: now,
    lastSequenceNum: 0,
    revokedAt: null,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function consoleFleetBench(argv: string[]): Promise<void> {
  const flag = (name: string, dflt: number) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const count = flag('agents', 10_000);
  const runs = flag('runs', 3);
  const dir = await mkdtemp(join(tmpdir(), 'corral-console-bench-'));
  const token = `corral_admin_${randomBytes(32).toString('base64url')}`;
  let server: CorralProcess | null = null;
  let browser: Browser | null = null;
  try {
    const store = await openStore({ database: '', dataDir: join(dir, 'server') });
    const now = Date.now();
    for (let i = 0; i < count; i += 1000) await store.insertAgents(Array.from({ length: Math.min(1000, count - i) }, (_, j) => agent(i + j + 1, now)));
    await store.close();
    server = new CorralProcess(['server', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'server')], { CORRAL_ADMIN_TOKEN: token, CORRAL_LOG_LEVEL: 'warn' });
    const url = (await server.waitForOutput(/listening on (http:\/\/\S+)/, 120_000))[1]!;
    browser = await Browser.launch();
    const page = await browser.page();
    await page.goto(url + '/');
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.locator('.topbar').waitFor({ timeout: 120_000 });

    const firstRender: number[] = [];
    const filterChange: number[] = [];
    for (let run = 0; run < runs; run++) {
      let t = Date.now();
      await page.goto(url + '/fleet');
      await page.locator('.vbody .vrow').first().waitFor({ timeout: 120_000 });
      await page.locator('.table-foot', { hasText: `of ${count.toLocaleString('en-US')} agents` }).waitFor({ timeout: 120_000 });
      firstRender.push(Date.now() - t);
      // A search that matches 10 agents (host-00004 matches host-000040 ... host-000049): the table and counts change.
      const needle = `host-${String(4 + run).padStart(5, "0")}`;
      t = Date.now();
      await page.fill('#search', needle);
      await page.press('#search', 'Enter');
      await page.locator('.table-foot', { hasNotText: `of ${count.toLocaleString('en-US')} agents` }).waitFor({ timeout: 120_000 });
      await page.locator('.vbody .vrow').first().waitFor({ timeout: 120_000 });
      filterChange.push(Date.now() - t);
    }
    // The same requests from Node: how much of the page's time is the server's.
    const timed = async (path: string) => {
      const t = Date.now();
      const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
      await res.text();
      return Date.now() - t;
    };
    const api = { firstPage: median(await Promise.all([0, 1, 2].map(() => timed('/api/v1/agents?limit=500&sort=name')))), facets: median([await timed('/api/v1/agents/facets'), await timed('/api/v1/agents/facets'), await timed('/api/v1/agents/facets')]), searchPage: await timed('/api/v1/agents?limit=500&sort=name&q=host-00004') };
    console.log(JSON.stringify({ agents: count, runs, apiMs: api, firstRenderMs: { median: median(firstRender), all: firstRender }, filterChangeMs: { median: median(filterChange), all: filterChange } }));
  } finally {
    await browser?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
