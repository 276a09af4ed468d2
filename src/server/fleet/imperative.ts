/**
 * Imperative operations that go to agents now rather than through desired
 * state: restart a deployment's services, read or follow a service's output.
 * They reach agents connected to this server process (over WebSocket).
 */
import type { EventRecorder } from '../events.js';
import type { Logger } from 'pino';
import {
  LOGS_CAPABILITY,
  LogsFollowProgressSchema,
  RESTART_CAPABILITY,
  SERVICES_CAPABILITY,
  type LogChunk,
  type LogsResult,
  type ResourceSample,
  type ServiceDetail,
} from '../../protocol/index.js';
import type { SampleHistory } from './sample-history.js';
import { AgentNotFoundError, AgentTimeoutError, AgentUnavailableError, CorralError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { DeploymentService } from './deployment-service.js';

export interface AgentRequester {
  request(
    agentId: string,
    capability: string,
    payload: Record<string, unknown>,
    timeoutMs?: number,
    progress?: (chunk: Record<string, unknown>) => void,
    /** `deadlineMs`: fail after this long whatever the agent sends meanwhile (progress does not extend it), and tell the agent to cancel. */
    opts?: { deadlineMs?: number },
  ): Promise<Record<string, unknown>>;
  /** A request that runs until the agent replies (no timeout); `done` rejects with AgentUnavailableError if the connection closes first. */
  openStream(agentId: string, capability: string, payload: Record<string, unknown>, onProgress: (chunk: Record<string, unknown>) => void): { id: string; done: Promise<Record<string, unknown>> };
}

/** A running `logs -f` on one agent. */
export interface LogFollow {
  /**
   * Resolves with why it ended: the agent's reason ('cancelled', 'max-time',
   * 'service-removed', …) or 'disconnected' when the agent's connection
   * closed. Rejects with AgentRefusedError if the agent fails while following.
   */
  ended: Promise<string>;
  /** Asks the agent to stop following. Idempotent, never throws; a no-op once ended. */
  cancel(): void;
}

/** How long an agent has to start following. */
const FOLLOW_START_TIMEOUT_MS = 10_000;

class AgentRefusedError extends CorralError {
  constructor(agentId: string, message: string) {
    super('AGENT_REFUSED', `agent ${agentId}: ${message}`);
  }
}

const MAX_PARALLEL = 64;

export class ImperativeService {
  constructor(private readonly deps: { store: Store; deployments: DeploymentService; agents: AgentRequester; samples: SampleHistory; log: Logger; events: EventRecorder }) {}

  /** The agent's recent resource samples (host and per service), oldest first. */
  async samples(agentId: string): Promise<ResourceSample[]> {
    if (!(await this.deps.store.getAgent(agentId))) throw new AgentNotFoundError(agentId);
    return this.deps.samples.get(agentId);
  }

  private async ask(agentId: string, capability: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    const reply = await this.deps.agents.request(agentId, capability, payload);
    if (reply.ok !== true) throw new AgentRefusedError(agentId, typeof reply.error === 'string' ? reply.error : 'request failed');
    return reply;
  }

  /** Restarts the deployment's service on every matching online agent; reports each agent's outcome. */
  /** Restarts the deployment's services on its online agents now; records `deployment.restarted` naming `actor`. */
  async restartDeployment(name: string, actor: string) {
    const { agents } = await this.deps.deployments.status(name);
    const online = agents.filter((a) => a.agentStatus === 'online');
    const results: { id: string; name: string; ok: boolean; error: string }[] = [];
    for (let i = 0; i < online.length; i += MAX_PARALLEL) {
      results.push(
        ...(await Promise.all(
          online.slice(i, i + MAX_PARALLEL).map(async (a) => {
            try {
              await this.ask(a.id, RESTART_CAPABILITY, { service: name });
              return { id: a.id, name: a.name, ok: true, error: '' };
            } catch (e) {
              return { id: a.id, name: a.name, ok: false, error: (e as Error).message };
            }
          }),
        )),
      );
    }
    this.deps.events.record('deployment.restarted', null, { name, actor, agents: results.length, failed: results.filter((r) => !r.ok).length });
    return { deployment: name, results };
  }

  /** The agent's services in detail, asked of the agent now. */
  async services(agentId: string): Promise<ServiceDetail[]> {
    if (!(await this.deps.store.getAgent(agentId))) throw new AgentNotFoundError(agentId);
    const reply = await this.ask(agentId, SERVICES_CAPABILITY, {});
    return Array.isArray(reply.services) ? (reply.services as ServiceDetail[]) : [];
  }

  /** A window of a service's output on one agent. */
  async logs(agentId: string, service: string, opts: { stream: 'stdout' | 'stderr'; offset?: number; tailBytes?: number }): Promise<LogsResult> {
    if (!(await this.deps.store.getAgent(agentId))) throw new AgentNotFoundError(agentId);
    const reply = await this.ask(agentId, LOGS_CAPABILITY, { service, ...opts });
    return { data: String(reply.data ?? ''), nextOffset: Number(reply.nextOffset ?? 0) };
  }

  /**
   * Follows a service's stdout and stderr on one agent: new lines go to
   * `onChunks` (validated, each chunk bounded) as the agent sends them.
   * Resolves once the agent follows; throws AgentNotFoundError,
   * AgentUnavailableError (not connected here), AgentRefusedError (e.g. no
   * such service) or AgentTimeoutError. `offsets` start each file there
   * (e.g. right after a tail just read); omitted: at its end.
   */
  async followLogs(
    agentId: string,
    service: string,
    offsets: { stdout?: number; stderr?: number },
    onChunks: (chunks: LogChunk[]) => void,
  ): Promise<LogFollow> {
    if (!(await this.deps.store.getAgent(agentId))) throw new AgentNotFoundError(agentId);
    let markStarted: () => void = () => undefined;
    const started = new Promise<'started'>((resolve) => (markStarted = () => resolve('started')));
    let warned = false;
    const { id, done } = this.deps.agents.openStream(agentId, LOGS_CAPABILITY, { service, follow: true, offsets }, (raw) => {
      const p = LogsFollowProgressSchema.safeParse(raw);
      if (!p.success) {
        if (!warned) this.deps.log.warn({ agentId, service }, 'dropping malformed log follow messages from agent');
        warned = true;
      } else if ('started' in p.data) markStarted();
      else onChunks(p.data.chunks);
    });
    let over = false;
    const ended = done
      .then(
        (reply) => {
          if (reply.ok !== true) throw new AgentRefusedError(agentId, typeof reply.error === 'string' ? reply.error.slice(0, 1024) : 'request failed');
          return typeof reply.reason === 'string' ? reply.reason.slice(0, 64) : 'ended';
        },
        (err: unknown) => {
          if (err instanceof AgentUnavailableError) return 'disconnected';
          throw err;
        },
      )
      .finally(() => (over = true));
    // Consumers handle its outcome; this keeps a failure after a failed start from being an unhandled rejection.
    ended.catch(() => undefined);
    const cancel = () => {
      if (over) return;
      over = true;
      // If the agent is gone it stops by itself (its connection closed), so a failure here changes nothing.
      this.deps.agents.request(agentId, LOGS_CAPABILITY, { cancel: id }).catch(() => undefined);
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), FOLLOW_START_TIMEOUT_MS)));
    try {
      const first = await Promise.race([started, ended, timeout]);
      if (first === 'timeout') throw new AgentTimeoutError(agentId, FOLLOW_START_TIMEOUT_MS);
      if (first === 'disconnected') throw new AgentUnavailableError(agentId, 'disconnected before it started following');
      if (first !== 'started') throw new AgentUnavailableError(agentId, `stopped following at once (${first})`);
    } catch (e) {
      cancel();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return { ended, cancel };
  }
}
