/**
 * Deployments: install (create or replace), start/stop (desired state that
 * persists), uninstall (delete), and status per matching agent. A change
 * reaches agents through the same offer machinery as configs.
 */
import type { DeploymentRecord, Store } from '../store/index.js';
import { DeploymentNotFoundError, PackageNotFoundError, ValidationError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { EventRecorder } from '../events.js';
import { configState } from './agent-view.js';
import { loadDesiredState } from './desired-state.js';
import { deploymentTargets } from './corral-agents.js';
import { parseSelector, SelectorError, type Selector } from './selector.js';
import { noTargetWarning } from './selector-hints.js';
import { checkDeploymentValues } from './deployment-values.js';
import { checkDeploymentResources, packResources } from './deployment-resources.js';
import type { Resources } from '../../protocol/index.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { resolveDeploymentSecrets } from '../secrets/secret-fields.js';
import { registerSecretsKey } from '../secrets/secrets-key.js';

export interface DeploymentInput {
  name: string;
  package: string;
  version: string;
  selector: string;
  values: Record<string, string>;
  /**
   * Secret values (plaintext as written, or the mask `***` to keep a stored
   * one; see server/secrets/secret-fields.ts). Absent: none. Templates see
   * them as values; answers show only their keys.
   */
  secretValues?: Record<string, string>;
  desiredState: 'running' | 'stopped';
  /** Resource limits over the manifest's, field by field (absent: the manifest's own). Part of the revision, like values. */
  resources?: Resources;
  /** Rollout policy overrides kept on the deployment; absent keeps what it has. */
  policy?: Record<string, unknown>;
}

/** What a deployment change needs from the rollouts module (kept as an interface: fleet does not import rollouts). */
export interface DeploymentChanger {
  change(
    next: Omit<DeploymentRecord, 'createdAt' | 'revision' | 'stableRevision'>,
    opts: { actor: string; policy?: Record<string, unknown> | null },
  ): Promise<{ deployment: DeploymentRecord; rollout: { id: string } | null }>;
}

export class DeploymentService {
  constructor(
    private readonly deps: {
      store: Store;
      clock: Clock;
      events: EventRecorder;
      onFleetChange(): void;
      rollouts: DeploymentChanger;
      /** Seals and opens secret values; null when the server has no secrets key (a secret is then refused). */
      secrets: SecretBox | null;
    },
  ) {}

  /**
   * Creates or replaces a deployment. A change of package, version or values
   * goes out as a rollout (with `rollout` overriding the policy for that one).
   * Throws PackageNotFoundError when package@version is not published.
   * Also answers how many Corral agents the selector matches now, and
   * warnings for the operator (a selector that matches none, and why).
   */
  async put(
    input: DeploymentInput,
    opts: { actor: string; rollout?: Record<string, unknown> | null } = { actor: 'api' },
  ): Promise<{ deployment: DeploymentRecord; rolloutId: string | null; targets: number; warnings: string[] }> {
    let selector: Selector;
    try {
      selector = parseSelector(input.selector);
    } catch (e) {
      if (e instanceof SelectorError) throw new ValidationError(e.message, 'selector');
      throw e;
    }
    const published = await this.deps.store.listPackages(input.package);
    const pkg = published.find((p) => p.version === input.version);
    if (!pkg) throw new PackageNotFoundError(`${input.package}@${input.version}`);
    checkDeploymentResources(pkg, input.resources);
    const existing = await this.deps.store.getDeployment(input.name);
    // Sealed (or refused) before anything is written: nothing is half-applied.
    const secrets = resolveDeploymentSecrets(this.deps.secrets, input.name, input.secretValues ?? {}, input.values, existing?.secretValues ?? {});
    checkDeploymentValues(pkg, input.values, secrets.plaintext);
    if (this.deps.secrets && Object.keys(secrets.sealed).length > 0) await registerSecretsKey(this.deps.store, this.deps.secrets);
    const { secretValues: _plain, resources, ...rest } = input;
    const { deployment, rollout } = await this.deps.rollouts.change(
      { ...rest, values: packResources(input.values, resources), secretValues: secrets.sealed, policy: input.policy ?? existing?.policy ?? {}, updatedAt: this.deps.clock.now() },
      { actor: opts.actor, policy: opts.rollout ?? null },
    );
    this.deps.events.record('deployment.changed', null, { name: input.name, package: input.package, version: input.version, desiredState: input.desiredState, actor: opts.actor });
    this.deps.onFleetChange();
    const agents = await this.deps.store.listAgents();
    const targets = deploymentTargets(deployment, agents).length;
    const warning = noTargetWarning(selector, targets, agents);
    return { deployment, rolloutId: rollout?.id ?? null, targets, warnings: warning ? [warning] : [] };
  }

  async get(name: string): Promise<DeploymentRecord> {
    const d = await this.deps.store.getDeployment(name);
    if (!d) throw new DeploymentNotFoundError(name);
    return d;
  }

  list(): Promise<DeploymentRecord[]> {
    return this.deps.store.listDeployments();
  }

  async setDesiredState(name: string, desiredState: 'running' | 'stopped', actor: string): Promise<DeploymentRecord> {
    const d = await this.get(name);
    if (d.desiredState === desiredState) return d;
    const record = await this.deps.store.putDeployment({ ...d, desiredState, updatedAt: this.deps.clock.now() });
    this.deps.events.record(desiredState === 'running' ? 'deployment.started' : 'deployment.stopped', null, { name, actor });
    this.deps.onFleetChange();
    return record;
  }

  async remove(name: string, actor: string): Promise<void> {
    await this.deps.store.deleteDeployment(name);
    this.deps.events.record('deployment.deleted', null, { name, actor });
    this.deps.onFleetChange();
  }

  /**
   * Per matching Corral agent: the revision it is offered, whether it took
   * it, and its service's health as it reports it; and the newest rollout.
   */
  async status(name: string) {
    const d = await this.get(name);
    const [agents, desired, [latest]] = await Promise.all([this.deps.store.listAgents(), loadDesiredState(this.deps.store, this.deps.secrets), this.deps.store.rollouts.listRollouts(name, 1)]);
    const rows = deploymentTargets(d, agents).map((a) => {
        const service = a.health?.components[name] ?? null;
        return {
          id: a.id,
          name: a.name,
          agentStatus: a.status,
          revision: desired.revisionFor(name, a.id)?.revision ?? null,
          config: configState(a, desired).status,
          service: service ? { healthy: service.healthy, status: service.status, lastError: service.lastError } : null,
        };
      });
    const rollout = latest ? { id: latest.id, kind: latest.kind, state: latest.state, reason: latest.reason, toRevision: latest.toRevision } : null;
    return { deployment: d, rollout, agents: rows };
  }
}
