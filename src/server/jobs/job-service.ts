/**
 * Exec jobs: a command on every online Corral agent a selector matches,
 * at most `maxConcurrency` hosts at once; once failures exceed the error
 * budget no new host starts (the rest are `skipped`). Output streams live
 * to subscribers and is kept per host in the store (≈1 MiB each, truncation
 * marked). Runs on the server process the agents are connected to.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { EXEC_CAPABILITY, MAX_EXEC_OUTPUT_BYTES } from '../../protocol/index.js';
import type { JobHostRecord, JobRecord, JobSpec, Store } from '../store/index.js';
import type { Clock } from '../clock.js';
import type { EventRecorder } from '../events.js';
import type { AgentRequester } from '../fleet/imperative.js';
import { selectableAttributes } from '../fleet/agent-labels.js';
import { CORRAL_AGENT_SERVICE_NAME } from '../fleet/corral-agents.js';
import { matchesSelector, parseSelector, SelectorError } from '../fleet/selector.js';
import { AgentTimeoutError, CorralError, ValidationError } from '../errors.js';
import { concurrencyFor, errorBudgetFor } from './job-policy.js';
import { listJobPage, type JobListInput } from './job-list.js';

export type JobEvent =
  | { type: 'output'; agentId: string; agentName: string; stream: 'stdout' | 'stderr'; data: string }
  | { type: 'host'; host: JobHostRecord }
  | { type: 'done'; job: JobRecord };

class JobNotFoundError extends CorralError {
  constructor(id: string) {
    super('JOB_NOT_FOUND', `job ${id} not found`);
  }
}

/**
 * How long past its timeout the server waits for a host's result. The agent
 * kills the command at the timeout and reports at once; past this grace the
 * server marks the host timed out and tells the agent to cancel, whatever
 * the agent keeps sending.
 */
export const EXEC_REPORT_GRACE_MS = 5_000;

/** How long a finished job's live event log stays replayable. */
const REPLAY_KEEP_MS = 60_000;

interface LiveJob {
  events: JobEvent[];
  listeners: Set<(e: JobEvent) => void>;
  done: boolean;
}

export class JobService {
  private readonly live = new Map<string, LiveJob>();

  constructor(private readonly deps: { store: Store; agents: AgentRequester; clock: Clock; events: EventRecorder; log: Logger }) {}

  /** Validates, picks the targets, stores the job and starts it; its events name `actor` (the user who started it). */
  async create(spec: JobSpec, actor: string): Promise<{ job: JobRecord; hosts: JobHostRecord[] }> {
    let selector;
    try {
      selector = parseSelector(spec.selector);
    } catch (e) {
      if (e instanceof SelectorError) throw new ValidationError(e.message, 'selector');
      throw e;
    }
    const targets = (await this.deps.store.listAgents())
      .filter((a) => a.status === 'online' && a.approval !== 'pending' && a.identifyingAttributes['service.name'] === CORRAL_AGENT_SERVICE_NAME)
      .filter((a) => matchesSelector(selector, selectableAttributes(a)))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const concurrency = concurrencyFor(spec.maxConcurrency, targets.length);
    const budget = errorBudgetFor(spec.errorBudget, targets.length);
    const job: JobRecord = { id: randomUUID(), spec, status: 'running', createdBy: actor, createdAt: this.deps.clock.now(), finishedAt: null };
    const hosts: JobHostRecord[] = targets.map((a) => ({
      jobId: job.id,
      agentId: a.id,
      agentName: a.name,
      status: 'pending',
      exitCode: null,
      signal: null,
      output: '',
      truncated: false,
      timedOut: false,
      error: '',
      startedAt: null,
      finishedAt: null,
    }));
    await this.deps.store.createJob(job, hosts);
    this.live.set(job.id, { events: [], listeners: new Set(), done: false });
    this.deps.events.record('job.started', null, { id: job.id, command: spec.command, targets: hosts.length, actor });
    void this.run(job, hosts, concurrency, budget, actor).catch((err: unknown) => this.deps.log.error({ err, job: job.id }, 'job failed'));
    return { job, hosts };
  }

  async get(id: string): Promise<{ job: JobRecord; hosts: JobHostRecord[] }> {
    const got = await this.deps.store.getJob(id);
    if (!got) throw new JobNotFoundError(id);
    return got;
  }

  /** One page of jobs, newest first (job-list.ts). Throws ValidationError for a bad limit or cursor. */
  list(input: JobListInput): ReturnType<typeof listJobPage> {
    return listJobPage(this.deps.store, input);
  }

  /** Every distinct selector jobs ran on. */
  selectors(): Promise<string[]> {
    return this.deps.store.listJobSelectors();
  }

  /**
   * Replays what happened so far, then follows live until the job is done.
   * Returns null for a job that is not running here any more (read it with get()).
   */
  subscribe(id: string, listener: (e: JobEvent) => void): (() => void) | null {
    const live = this.live.get(id);
    if (!live) return null;
    for (const e of live.events) listener(e);
    if (live.done) return () => undefined;
    live.listeners.add(listener);
    return () => live.listeners.delete(listener);
  }

  private emit(id: string, e: JobEvent): void {
    const live = this.live.get(id);
    if (!live) return;
    live.events.push(e);
    for (const l of live.listeners) l(e);
  }

  private async run(job: JobRecord, hosts: JobHostRecord[], concurrency: number, budget: number, actor: string): Promise<void> {
    let next = 0;
    let failures = 0;
    const runOne = async (host: JobHostRecord) => {
      host.status = 'running';
      host.startedAt = this.deps.clock.now();
      await this.deps.store.putJobHost(host);
      let kept = 0;
      try {
        const reply = await this.deps.agents.request(
          host.agentId,
          EXEC_CAPABILITY,
          { command: job.spec.command, timeoutMs: job.spec.timeoutMs, ...(job.spec.service ? { service: job.spec.service } : {}) },
          job.spec.timeoutMs + EXEC_REPORT_GRACE_MS,
          (chunk) => {
            // Past the output limit nothing more is kept or streamed, however much the agent sends.
            if (kept >= MAX_EXEC_OUTPUT_BYTES) {
              host.truncated = true;
              return;
            }
            const raw = typeof chunk.data === 'string' ? chunk.data : '';
            const stream = chunk.stream === 'stderr' ? 'stderr' : 'stdout';
            const data = raw.slice(0, MAX_EXEC_OUTPUT_BYTES - kept);
            host.output += data;
            kept += Buffer.byteLength(data);
            if (data.length < raw.length) host.truncated = true;
            this.emit(job.id, { type: 'output', agentId: host.agentId, agentName: host.agentName, stream, data });
          },
          { deadlineMs: job.spec.timeoutMs + EXEC_REPORT_GRACE_MS },
        );
        if (reply.ok === true) {
          host.exitCode = typeof reply.exitCode === 'number' ? reply.exitCode : null;
          host.signal = typeof reply.signal === 'string' ? reply.signal : null;
          host.truncated ||= reply.truncated === true;
          host.timedOut = reply.timedOut === true;
          host.error = reply.timedOut === true ? `timed out after ${job.spec.timeoutMs} ms` : typeof reply.error === 'string' ? reply.error : '';
        } else {
          host.error = typeof reply.error === 'string' ? reply.error : 'agent refused';
        }
      } catch (e) {
        host.timedOut = e instanceof AgentTimeoutError;
        host.error = e instanceof AgentTimeoutError ? `timed out after ${job.spec.timeoutMs} ms (enforced by the server; the agent was told to cancel)` : (e as Error).message;
      }
      host.status = host.exitCode === 0 && host.error === '' ? 'succeeded' : 'failed';
      if (host.status === 'failed') failures++;
      host.finishedAt = this.deps.clock.now();
      await this.deps.store.putJobHost(host);
      this.emit(job.id, { type: 'host', host: { ...host } });
    };
    const worker = async () => {
      while (next < hosts.length && failures <= budget) await runOne(hosts[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, hosts.length) }, worker));
    for (const host of hosts.slice(next)) {
      host.status = 'skipped';
      host.error = `not started: the error budget (${job.spec.errorBudget}) was exceeded`;
      await this.deps.store.putJobHost(host);
      this.emit(job.id, { type: 'host', host: { ...host } });
    }
    const status = hosts.every((h) => h.status === 'succeeded') ? 'succeeded' : hosts.some((h) => h.status === 'skipped') ? 'stopped' : 'failed';
    const finishedAt = this.deps.clock.now();
    await this.deps.store.finishJob(job.id, status, finishedAt);
    this.deps.events.record('job.finished', null, { id: job.id, status, failures, actor });
    this.emit(job.id, { type: 'done', job: { ...job, status, finishedAt } });
    const live = this.live.get(job.id)!;
    live.done = true;
    live.listeners.clear();
    setTimeout(() => this.live.delete(job.id), REPLAY_KEEP_MS).unref();
  }
}
