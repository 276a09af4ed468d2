/**
 * Imperative operations that go to agents now rather than through desired
 * state: restart a deployment's services, read a service's output. They
 * reach agents connected to this server process (over WebSocket).
 */
import { LOGS_CAPABILITY, RESTART_CAPABILITY, SERVICES_CAPABILITY, type LogsResult, type ResourceSample, type ServiceDetail } from '../../protocol/index.js';
import type { SampleHistory } from './sample-history.js';
import { AgentNotFoundError, CorralError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { DeploymentService } from './deployment-service.js';

export interface AgentRequester {
  request(
    agentId: string,
    capability: string,
    payload: Record<string, unknown>,
    timeoutMs?: number,
    progress?: (chunk: Record<string, unknown>) => void,
  ): Promise<Record<string, unknown>>;
}

class AgentRefusedError extends CorralError {
  constructor(agentId: string, message: string) {
    super('AGENT_REFUSED', `agent ${agentId}: ${message}`);
  }
}

const MAX_PARALLEL = 64;

export class ImperativeService {
  constructor(private readonly deps: { store: Store; deployments: DeploymentService; agents: AgentRequester; samples: SampleHistory }) {}

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
  async restartDeployment(name: string) {
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
}
