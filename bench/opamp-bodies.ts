/**
 * `npm run bench -- opamp-bodies [--parallel 12] [--mib 60] [--inflight-mib 128] [--transport http|ws]`
 *
 * Server memory under the "dozen parallel 60 MiB OpAMP bodies" attack: a
 * real `corral server` (built dist/, run `npm run build` first), `parallel`
 * clients each sending one `mib`-MiB body at once with the enrollment token,
 * server RSS sampled every 20 ms. Run once with the default budget and once
 * with `--inflight-mib 100000` (effectively unbounded, as before the budget)
 * to compare. Loopback only; every loop is bounded.
 */
import { parseArgs } from 'node:util';
import { Fleet } from '../src/testkit/fleet.js';
import { WsOpampClient, postOpamp } from '../src/testkit/opamp-client.js';
import { encodeWsFrame } from '../src/protocol/index.js';
import { rssBytes } from './proc-stats.js';

const MiB = 1024 * 1024;

export async function opampBodiesBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { parallel: { type: 'string', default: '12' }, mib: { type: 'string', default: '60' }, 'inflight-mib': { type: 'string', default: '128' }, transport: { type: 'string', default: 'http' } },
  });
  const parallel = Number(values.parallel);
  const mib = Number(values.mib);
  const fleet = await Fleet.start({ extraServerArgs: ['--max-opamp-inflight-mib', values['inflight-mib']!] });
  try {
    const pid = fleet.serverPid!;
    // Let the server settle, then take the baseline.
    await new Promise((r) => setTimeout(r, 2000));
    const before = rssBytes(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
    const body = new Uint8Array(mib * MiB);
    const statuses: Record<string, number> = {};
    const count = (k: string) => (statuses[k] = (statuses[k] ?? 0) + 1);
    const t0 = performance.now();
    if (values.transport === 'ws') {
      const clients = await Promise.all(Array.from({ length: parallel }, () => WsOpampClient.connect(fleet.url, fleet.enrollmentToken)));
      const frame = encodeWsFrame(body);
      for (const c of clients) c.sendRaw(frame);
      await Promise.all(clients.map(async (c) => count(`close ${await c.closed(120_000)}`)));
    } else {
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          try {
            count(String((await postOpamp(fleet.url, fleet.enrollmentToken, body)).status));
          } catch (e) {
            count((e as Error).message);
          }
        }),
      );
    }
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    await new Promise((r) => setTimeout(r, 1000));
    const afterRss = rssBytes(pid);
    const m = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
    console.log(`transport ${values.transport}, ${parallel} × ${mib} MiB, --max-opamp-inflight-mib ${values['inflight-mib']}`);
    console.log(`answers: ${JSON.stringify(statuses)} in ${seconds.toFixed(1)} s`);
    console.log(`server RSS: before ${m(before)}, peak ${m(peak)} (+${m(peak - before)}), 1 s after ${m(afterRss)}`);
  } finally {
    await fleet.close();
  }
}
