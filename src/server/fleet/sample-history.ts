/**
 * A short history of resource samples per agent (the last 120: ten minutes
 * at the default 5 s), for charts and fleet gauges. Kept in the memory of
 * the server process the agent is connected to; samples are validated
 * before they are kept.
 */
import { z } from 'zod';
import { decodeJsonObject, type ResourceSample } from '../../protocol/index.js';

const MAX_SAMPLES = 120;
const MAX_SERVICES = 1000;

const num = z.number().finite().nullable();
const SampleSchema = z.object({
  at: z.number().finite(),
  host: z.object({ cpuPercent: num, memUsedBytes: z.number().finite(), memTotalBytes: z.number().finite(), diskUsedBytes: num, diskTotalBytes: num }),
  services: z.array(z.object({ name: z.string().max(64), cpuPercent: num, rssBytes: num, fds: num })).max(MAX_SERVICES),
});

export class SampleHistory {
  private readonly byAgent = new Map<string, ResourceSample[]>();

  /** Adds a sample from an agent; returns false (and keeps nothing) when it is malformed. */
  add(agentId: string, data: Uint8Array): boolean {
    let parsed;
    try {
      parsed = SampleSchema.safeParse(decodeJsonObject(data));
    } catch {
      return false;
    }
    if (!parsed.success) return false;
    const list = this.byAgent.get(agentId) ?? [];
    list.push(parsed.data);
    if (list.length > MAX_SAMPLES) list.splice(0, list.length - MAX_SAMPLES);
    this.byAgent.set(agentId, list);
    return true;
  }

  get(agentId: string): ResourceSample[] {
    return this.byAgent.get(agentId) ?? [];
  }

  forget(agentId: string): void {
    this.byAgent.delete(agentId);
  }

  /** Latest sample of every agent that has one. */
  latest(): ResourceSample[] {
    return [...this.byAgent.values()].map((l) => l.at(-1)!).filter(Boolean);
  }
}
