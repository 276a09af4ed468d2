/**
 * A short history of resource samples per agent (the last 120: ten minutes
 * at the default 5 s), for charts and fleet gauges. Kept in the memory of
 * the server process the agent is connected to; samples are validated
 * before they are kept, and bounded: at most MAX_SAMPLE_BYTES each,
 * MAX_AGENT_SAMPLES_PER_MINUTE per agent (excess dropped and counted) and
 * MAX_SAMPLE_HISTORY_BYTES_PER_AGENT per agent (oldest dropped first).
 */
import { z } from 'zod';
import { decodeJsonObject, type ResourceSample } from '../../protocol/index.js';
import { systemClock, type Clock } from '../clock.js';

/** Resource samples kept per agent per minute (the agent sends one every 5 s by default); excess is dropped and counted. */
export const MAX_AGENT_SAMPLES_PER_MINUTE = 30;
/** Bytes of one resource sample (its JSON), and of the whole history kept for one agent. */
export const MAX_SAMPLE_BYTES = 64 * 1024;
export const MAX_SAMPLE_HISTORY_BYTES_PER_AGENT = 512 * 1024;

const MAX_SAMPLES = 120;
const MAX_SERVICES = 1000;
const WINDOW_MS = 60_000;

const num = z.number().finite().nullable();
const SampleSchema = z.object({
  at: z.number().finite(),
  host: z.object({ cpuPercent: num, memUsedBytes: z.number().finite(), memTotalBytes: z.number().finite(), diskUsedBytes: num, diskTotalBytes: num }),
  services: z.array(z.object({ name: z.string().max(64), cpuPercent: num, rssBytes: num, fds: num })).max(MAX_SERVICES),
});

/** Why a sample was not kept. */
export type SampleRefusal = 'malformed' | 'too-large' | 'rate-limited';

interface AgentSamples {
  list: { sample: ResourceSample; bytes: number }[];
  bytes: number;
  windowStartedAt: number;
  inWindow: number;
}

export class SampleHistory {
  private readonly byAgent = new Map<string, AgentSamples>();

  constructor(private readonly deps: { clock?: Clock; onDropped?: (reason: SampleRefusal) => void } = {}) {}

  /** Adds a sample from an agent; returns false (and keeps nothing) when it is malformed, too large or over the rate. */
  add(agentId: string, data: Uint8Array): boolean {
    const refused = this.tryAdd(agentId, data);
    if (refused) this.deps.onDropped?.(refused);
    return refused === null;
  }

  private tryAdd(agentId: string, data: Uint8Array): SampleRefusal | null {
    if (data.length > MAX_SAMPLE_BYTES) return 'too-large';
    const now = (this.deps.clock ?? systemClock).now();
    const entry = this.byAgent.get(agentId) ?? { list: [], bytes: 0, windowStartedAt: now, inWindow: 0 };
    if (now - entry.windowStartedAt >= WINDOW_MS) {
      entry.windowStartedAt = now;
      entry.inWindow = 0;
    }
    if (entry.inWindow >= MAX_AGENT_SAMPLES_PER_MINUTE) return 'rate-limited';
    let parsed;
    try {
      parsed = SampleSchema.safeParse(decodeJsonObject(data));
    } catch {
      return 'malformed';
    }
    if (!parsed.success) return 'malformed';
    entry.inWindow++;
    entry.list.push({ sample: parsed.data, bytes: data.length });
    entry.bytes += data.length;
    while (entry.list.length > MAX_SAMPLES || entry.bytes > MAX_SAMPLE_HISTORY_BYTES_PER_AGENT) entry.bytes -= entry.list.shift()!.bytes;
    this.byAgent.set(agentId, entry);
    return null;
  }

  get(agentId: string): ResourceSample[] {
    return (this.byAgent.get(agentId)?.list ?? []).map((e) => e.sample);
  }

  forget(agentId: string): void {
    this.byAgent.delete(agentId);
  }

  /** Latest sample of every agent that has one. */
  latest(): ResourceSample[] {
    return [...this.byAgent.values()].map((e) => e.list.at(-1)?.sample).filter((s): s is ResourceSample => s !== undefined);
  }
}
