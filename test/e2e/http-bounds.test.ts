/**
 * The REST and metrics edge of a real server under abuse: random paths do
 * not grow /metrics, /metrics can require a token, REST bodies are bounded,
 * and bursts of wrong tokens are rate limited and logged while valid clients
 * keep working.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Fleet } from '../../src/testkit/fleet.js';

const METRICS_TOKEN = 'metrics-secret-0123456789';

function series(metrics: string, name: string): string[] {
  return metrics.split('\n').filter((l) => l.startsWith(`${name}{`));
}

describe('HTTP edge bounds', { concurrency: false }, () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await Fleet.start({ extraServerArgs: ['--metrics-token', METRICS_TOKEN] });
  });
  after(async () => fleet?.close());

  const scrape = async () => {
    const res = await fetch(`${fleet.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(res.status, 200);
    return res.text();
  };

  it('labels HTTP metrics by route template: 1,000 random paths add no series', async () => {
    // Every status the random requests can get, once, so the comparison is about paths only.
    for (const path of ['/nothing-here', '/api/v1/nothing-here']) await (await fetch(fleet.url + path)).text();
    const before = series(await scrape(), 'corral_http_requests_total');
    const words: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const word = randomBytes(6).toString('hex');
      words.push(word);
      const path = i % 2 === 0 ? `/${word}/x` : `/api/v1/${word}`;
      await (await fetch(fleet.url + path)).text();
    }
    const afterScrape = await scrape();
    const after = series(afterScrape, 'corral_http_requests_total');
    const added = after.filter((l) => !before.some((b) => b.split('}')[0] === l.split('}')[0]));
    assert.ok(added.length <= 2, `at most a new status (e.g. 429) per unmatched label, got:\n${added.join('\n')}`);
    assert.ok(!words.some((w) => afterScrape.includes(w)), 'no raw path reaches /metrics');
    assert.match(afterScrape, /corral_http_requests_total\{route="GET unmatched",status="40\d"\}/);
  });

  it('answers /metrics only with the --metrics-token', async () => {
    assert.equal((await fetch(`${fleet.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${fleet.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    assert.match(await scrape(), /corral_agents/);
  });
});
