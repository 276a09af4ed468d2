/**
 * Operator-facing fleet operations: the REST API calls these, never the
 * store directly. Every change that can alter what agents should be offered
 * calls `onFleetChange`, which pushes new offers to connected agents here and
 * tells other replicas through the store.
 */
import type { Logger } from 'pino';
import type { AgentListStatus, ConfigRecord, EventQuery, EventRecord, Store, TokenRecord } from '../store/index.js';
import { AgentNotFoundError, ConfigNotFoundError, InvalidSelectorError, TokenNotFoundError, ValidationError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { EventRecorder } from '../events.js';
import { newTokenRecord } from '../auth/tokens.js';
import { compileTokenScope, type TokenScopeInput } from '../auth/enrollment-scope.js';
import { MAX_OPERATOR_LABELS } from '../auth/label-rules.js';
import { selectableAttributes } from './agent-labels.js';
import { agentDetail, agentSummary, configState } from './agent-view.js';
import { hashConfigFiles } from './remote-config.js';
import { diffConfigFiles } from './config-diff.js';
import { loadDesiredState } from './desired-state.js';
import { matchesSelector, parseSelector, SelectorError, type Selector } from './selector.js';
import { selectorMismatches } from './selector-hints.js';
import { agentFacets, listAgentPage, unmatchedRequirements, type AgentListInput } from './agent-list.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { resolveConfigFiles, type ConfigFileInput } from '../secrets/secret-fields.js';
import { registerSecretsKey } from '../secrets/secrets-key.js';
import { scrubEffectiveConfig } from '../secrets/effective-config-scrub.js';
import { listTokenPage, type TokenListInput, type TokenListPage } from '../users/token-list.js';

export interface FleetServiceDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  events: EventRecorder;
  /** Seals and opens secret config files; null when the server has no secrets key (a secret file is then refused). */
  secrets: SecretBox | null;
  /** Called after any change to labels, configs or revocations. */
  onFleetChange(reason: { agentId?: string; revoked?: boolean; tokenRevoked?: boolean }): void;
}

function parseOrReject(selector: string): Selector {
  try {
    return parseSelector(selector);
  } catch (e) {
    if (e instanceof SelectorError) throw new InvalidSelectorError(e.message, e.selector, e.position);
    throw e;
  }
}

export class FleetService {
  constructor(private readonly deps: FleetServiceDeps) {}

  private compiledConfigs() {
    return loadDesiredState(this.deps.store, this.deps.secrets);
  }

  /** Every agent `selector` matches, by name; within `scopes` when given (a scoped reader's). */
  async listAgents(selector = '', scopes?: readonly Selector[]) {
    const sel = parseOrReject(selector);
    const [agents, configs] = await Promise.all([this.deps.store.listAgents(), this.compiledConfigs()]);
    const inScope = (attrs: Record<string, string>) => !scopes || scopes.some((s) => matchesSelector(s, attrs));
    return agents
      .filter((a) => {
        const attrs = selectableAttributes(a);
        return matchesSelector(sel, attrs) && inScope(attrs);
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1))
      .map((a) => agentSummary(a, configs));
  }

  /**
   * One server-side page of the fleet (agent-list.ts). When nothing matches
   * a first page, `warnings` says which requirement alone matches no agent,
   * counted in the store (the fleet is not read into memory for it).
   */
  async listAgentPage(input: Omit<AgentListInput, 'selector'> & { selector: string }) {
    const selector = parseOrReject(input.selector);
    const page = await listAgentPage(this.deps.store, this.deps.secrets, { ...input, selector });
    const warnings = page.total === 0 && !input.cursor ? await unmatchedRequirements(this.deps.store, selector, input.scopes) : [];
    return { ...page, warnings };
  }

  agentFacets(filter: { selector: string; q?: string; statuses?: AgentListStatus[]; scopes?: readonly Selector[] }) {
    return agentFacets(this.deps.store, { ...filter, selector: parseOrReject(filter.selector) });
  }

  /** Why `selector` matches no agent, one sentence per reason (see selectorMismatches); [] when it matches some. */
  async whyNoAgentMatches(selector: string, scopes?: readonly Selector[]): Promise<string[]> {
    const sel = parseOrReject(selector);
    const agents = (await this.deps.store.listAgents()).filter((a) => !scopes || scopes.some((s) => matchesSelector(s, selectableAttributes(a))));
    if (agents.some((a) => matchesSelector(sel, selectableAttributes(a)))) return [];
    return selectorMismatches(sel, agents);
  }

  async getAgent(id: string) {
    const agent = await this.deps.store.getAgent(id);
    if (!agent) throw new AgentNotFoundError(id);
    return agentDetail(agent, await this.compiledConfigs());
  }

  /**
   * What the server offers an agent against what it reports running, file
   * by file, with the config status (config-diff.ts). Throws AgentNotFoundError.
   */
  async configDiff(id: string) {
    const agent = await this.deps.store.getAgent(id);
    if (!agent) throw new AgentNotFoundError(id);
    const state = await loadDesiredState(this.deps.store, this.deps.secrets, [id]);
    const { desired } = state.forAgent(id, selectableAttributes(agent));
    // Both sides masked: what is offered holds opened secrets, and what the agent reports may echo them.
    const offered = desired ? { ...desired, files: scrubEffectiveConfig({ files: desired.files }, state.secrets).files } : null;
    return {
      agentId: id,
      config: configState(agent, state),
      configNames: desired?.configNames ?? [],
      effectiveReported: agent.effectiveConfig !== null,
      files: diffConfigFiles(offered, agent.effectiveConfig ? scrubEffectiveConfig(agent.effectiveConfig, state.secrets) : null),
    };
  }

  /** Sets (string) or removes (null) operator labels, keeping the others. */
  async patchLabels(id: string, patch: Record<string, string | null>, actor: string) {
    const agent = await this.deps.store.getAgent(id);
    if (!agent) throw new AgentNotFoundError(id);
    const labels = { ...agent.labels };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete labels[k];
      else labels[k] = v;
    }
    const count = Object.keys(labels).length;
    if (count > MAX_OPERATOR_LABELS) {
      throw new ValidationError(`agent ${agent.name || id} would have ${count} operator labels: at most ${MAX_OPERATOR_LABELS} (remove some with key-)`, 'labels');
    }
    const updated = await this.deps.store.setAgentLabels(id, labels);
    this.deps.events.record('agent.labels_changed', id, { labels, actor });
    this.deps.onFleetChange({ agentId: id });
    return agentDetail(updated, await this.compiledConfigs());
  }

  /**
   * Asks for new credentials for the agents `selector` matches (not revoked,
   * enrolled): each is offered one over OpAMP connection settings on its
   * connection, on any replica (credential-rotation.ts). Returns those asked.
   */
  async rotateCredentials(selector: string, actor: string): Promise<{ id: string; name: string }[]> {
    const targets = (await this.listAgents(selector)).filter((a) => a.status !== 'revoked');
    const marked = await this.deps.store.credentials.requestRotation(targets.map((a) => a.id), this.deps.clock.now());
    this.deps.events.record('agent.credential_rotation_requested', null, { selector, agents: marked, actor });
    this.deps.onFleetChange({});
    return targets.map((a) => ({ id: a.id, name: a.name }));
  }

  async revokeAgent(id: string, actor: string) {
    const agent = await this.deps.store.revokeAgent(id, this.deps.clock.now());
    this.deps.events.record('agent.revoked', id, { actor });
    this.deps.onFleetChange({ agentId: id, revoked: true });
    return agentDetail(agent, await this.compiledConfigs());
  }

  /** Lets a pending agent in: it gets its credential, config and packages on its next message. Approving twice is fine. */
  async approveAgent(id: string, actor: string) {
    const agent = await this.deps.store.getAgent(id);
    if (!agent) throw new AgentNotFoundError(id);
    if (agent.status === 'revoked') throw new ValidationError(`agent ${id} is revoked (or was rejected); it cannot be approved`, 'id');
    const updated = agent.approval === 'approved' ? agent : await this.deps.store.setAgentApproval(id, 'approved');
    if (agent.approval === 'pending') this.deps.events.record('agent.approved', id, { actor });
    this.deps.onFleetChange({ agentId: id });
    return agentDetail(updated, await this.compiledConfigs());
  }

  /** Refuses a pending agent for good: it is revoked (disconnected, refused from then on). */
  async rejectAgent(id: string, actor: string) {
    const agent = await this.deps.store.getAgent(id);
    if (!agent) throw new AgentNotFoundError(id);
    if (agent.approval !== 'pending') throw new ValidationError(`agent ${id} is not waiting for approval; to refuse an approved agent, revoke it (corral revoke)`, 'id');
    const revoked = await this.deps.store.revokeAgent(id, this.deps.clock.now());
    this.deps.events.record('agent.rejected', id, { actor });
    this.deps.onFleetChange({ agentId: id, revoked: true });
    return agentDetail(revoked, await this.compiledConfigs());
  }

  /**
   * Deletes a revoked agent's records (see Store.deleteAgent) and records
   * `agent.deleted` (not tied to the agent, whose events are gone).
   * Throws AgentNotFoundError, AgentNotRevokedError.
   */
  async deleteAgent(id: string, actor: string): Promise<{ id: string; name: string; events: number }> {
    // Events of the agent still buffered here go into the store first, and out with the rest.
    await this.deps.events.flush();
    const { agent, events } = await this.deps.store.deleteAgent(id);
    this.deps.events.record('agent.deleted', null, { agentId: id, name: agent.name, events, actor });
    this.deps.onFleetChange({ agentId: id });
    return { id, name: agent.name, events };
  }

  /** One page of the enrollment tokens, oldest or newest first (users/token-list.ts). */
  listEnrollmentTokens(page: TokenListInput = {}): Promise<TokenListPage> {
    return listTokenPage(this.deps.store, { kind: 'enrollment' }, page, this.deps.clock.now());
  }

  /** Creates an enrollment token with the given scope (labels, expiry, agent cap, approval); throws ValidationError naming a bad field. */
  async createEnrollmentToken(name: string, scopeInput: TokenScopeInput, actor: string): Promise<{ record: TokenRecord; secret: string }> {
    const now = this.deps.clock.now();
    const scope = compileTokenScope(scopeInput, now);
    const token = newTokenRecord('enrollment', name, now);
    const record: TokenRecord = { ...token.record, ...scope, enrolledAgents: 0, userId: null, parentId: null, roles: null };
    await this.deps.store.createToken(record);
    this.deps.events.record('token.created', null, { id: record.id, name, labels: scope.labels, expiresAt: scope.expiresAt, maxAgents: scope.maxAgents, actor });
    return { record, secret: token.secret };
  }

  /** Revokes an enrollment token; any other id (an API token's too) is TokenNotFoundError, changing nothing. */
  async revokeEnrollmentToken(id: string, actor: string): Promise<TokenRecord> {
    // An API token revoked here would skip the revocation of the tokens created with it (users/user-service.ts).
    if ((await this.deps.store.tokens.get(id))?.kind !== 'enrollment') throw new TokenNotFoundError(id);
    const record = await this.deps.store.revokeToken(id, this.deps.clock.now());
    this.deps.events.record('token.revoked', null, { id, actor });
    // Every replica closes the sessions that hold only this token.
    this.deps.onFleetChange({ tokenRevoked: true });
    return record;
  }

  async getConfig(name: string): Promise<ConfigRecord> {
    const config = await this.deps.store.getConfig(name);
    if (!config) throw new ConfigNotFoundError(name);
    return config;
  }

  listConfigs(): Promise<ConfigRecord[]> {
    return this.deps.store.listConfigs();
  }

  /**
   * Creates or replaces a named config. The hash (over the files' content,
   * secret ones included) changes only if the files change. Secret files are
   * sealed before anything is written (see server/secrets/secret-fields.ts
   * for the rule on `***`).
   */
  async putConfig(name: string, selector: string, input: Record<string, ConfigFileInput>, actor: string): Promise<ConfigRecord> {
    parseOrReject(selector);
    const before = await this.deps.store.getConfig(name);
    const { files, plaintext } = resolveConfigFiles(this.deps.secrets, name, input, before?.files ?? {});
    const hash = hashConfigFiles(plaintext);
    if (this.deps.secrets && Object.values(files).some((f) => f.secret)) await registerSecretsKey(this.deps.store, this.deps.secrets);
    if (before && before.hash === hash && before.selector === selector && JSON.stringify(before.files) === JSON.stringify(files)) return before;
    const record = await this.deps.store.putConfig({ name, selector, files, hash, updatedAt: this.deps.clock.now() });
    this.deps.events.record('config.changed', null, { name, selector, hash, actor });
    this.deps.onFleetChange({});
    return record;
  }

  async deleteConfig(name: string, actor: string): Promise<void> {
    await this.deps.store.deleteConfig(name);
    this.deps.events.record('config.deleted', null, { name, actor });
    this.deps.onFleetChange({});
  }

  /** Per matching agent: has it applied this config's current content? */
  async configStatus(name: string) {
    const config = await this.getConfig(name);
    const selector = parseSelector(config.selector);
    const [agents, configs] = await Promise.all([this.deps.store.listAgents(), this.compiledConfigs()]);
    const rows = agents
      .filter((a) => a.status !== 'revoked' && matchesSelector(selector, selectableAttributes(a)))
      .map((a) => {
        const state = configState(a, configs);
        return { id: a.id, name: a.name, agentStatus: a.status, desiredHash: state.desiredHash, status: state.status, errorMessage: state.errorMessage };
      });
    const counts: Record<string, number> = {};
    for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
    return { name, hash: config.hash, counts, agents: rows };
  }

  listEvents(query: EventQuery): Promise<EventRecord[]> {
    return this.deps.store.listEvents(query);
  }
}
