/**
 * The Store over Kysely: one implementation for SQLite and PostgreSQL; only
 * the dialect differs (chosen in open-store.ts).
 */
import { Migrator, sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { migrateRetrying, migrationProvider } from './migrations.js';
import { deploymentRow, KyselyRolloutStore } from './rollout-store.js';
import { KyselyCredentialStore } from './credential-store.js';
import { KyselyAuditStore } from './audit-store.js';
import type { AuditStore } from './audit-records.js';
import { KyselyUserStore } from './user-store.js';
import { KyselyTokenStore } from './token-store.js';
import { ConfigNotFoundError, CorralError, DeploymentNotFoundError, PackageConflictError, StoreError, TokenNotFoundError } from '../errors.js';
import { enrollAgentTx } from './enrollment-store.js';
import { deleteRevokedAgentTx, forgetOfflineAgentsTx } from './agent-deletion.js';
import {
  applyAgentReports, claimAgentCredential, insertAgents, markStaleAgentsOffline, revokeAgent, setAgentApproval,
  setAgentCredential, setAgentLabels, setAgentStatus, touchAgents, TOUCH_CHUNK, upsertAgentReport,
} from './agent-writes.js';
import { resealSecretsIn } from './secret-rows.js';
import type {
  AgentApproval, AgentFacetBounds, AgentFacets, AgentFilter, AgentPage, AgentPageQuery, AgentRecord, AgentReportPatch, AgentTouch, ConfigRecord,
  CredentialStore, DeploymentRecord, EnrollmentOutcome, EventQuery, EventRecord, ForgottenAgent, JobHostRecord, JobListPage, JobListQuery, JobRecord,
  JobStatus, NewEvent, NewTokenRecord, PackageRecord, RolloutStore, SecretResealer, Store, TokenKind, TokenRecord, UserStore,
} from './store.js';
import { queryAgentFacets, queryAgentPage } from './agent-query.js';
import { queryJobPage } from './job-query.js';
import { json, jobHostRow, num, toAgent, toConfig, toDeployment, toJob, toJobHost, toPackage, toToken, tokenRow } from './rows.js';

export class KyselyStore implements Store {
  private closed = false;
  readonly rollouts: RolloutStore;
  readonly credentials: CredentialStore;
  readonly audit: AuditStore;
  readonly users: UserStore;
  readonly tokens: KyselyTokenStore;

  constructor(
    readonly kind: 'sqlite' | 'postgres',
    private readonly db: Kysely<Database>,
  ) {
    this.rollouts = new KyselyRolloutStore(db, (what, fn) => this.run(what, fn));
    this.credentials = new KyselyCredentialStore(db, (what, fn) => this.run(what, fn));
    this.audit = new KyselyAuditStore(db, kind, (what, fn) => this.run(what, fn));
    this.users = new KyselyUserStore(kind, db, (what, fn) => this.run(what, fn));
    this.tokens = new KyselyTokenStore(kind, db, (what, fn) => this.run(what, fn));
  }

  /** Runs a store operation, turning driver errors into StoreError. */
  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreError(`store is closed (${what})`);
    try {
      return await fn();
    } catch (e) {
      if (e instanceof CorralError) throw e;
      throw new StoreError(`${what} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  async migrate(): Promise<void> {
    await this.run('migrate', async () => {
      // On PostgreSQL, Kysely's bookkeeping tables must live in our schema (the search_path's first):
      // unqualified, its existence check would see another schema's copy in the same database.
      const schema =
        this.kind === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(this.db)).rows[0]?.schema : undefined;
      // Unordered: numbers were handed out ahead, so a store may have run 0015 before 0014 existed.
      const migrator = new Migrator({ db: this.db, provider: migrationProvider(this.kind), allowUnorderedMigrations: true, ...(schema ? { migrationTableSchema: schema } : {}) });
      const { error } = await migrateRetrying(() => migrator.migrateToLatest(), schema);
      if (error) throw error;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }

  createToken(t: NewTokenRecord): Promise<void> {
    return this.run('create token', async () => {
      await this.db.insertInto('tokens').values(tokenRow(t)).execute();
    });
  }

  findActiveTokenByHash(hash: string): Promise<TokenRecord | null> {
    return this.run('find token', async () => {
      const r = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst();
      return r ? toToken(r) : null;
    });
  }

  listTokens(kind?: TokenKind): Promise<TokenRecord[]> {
    return this.run('list tokens', async () => {
      let q = this.db.selectFrom('tokens').selectAll().orderBy('created_at').orderBy('id');
      if (kind) q = q.where('kind', '=', kind);
      return (await q.execute()).map(toToken);
    });
  }

  revokeToken(id: string, at: number): Promise<TokenRecord> {
    return this.run('revoke token', async () => {
      await this.db.updateTable('tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
      const r = await this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
      if (!r) throw new TokenNotFoundError(id);
      return toToken(r);
    });
  }

  getAgent(id: string): Promise<AgentRecord | null> {
    return this.run('get agent', async () => {
      const r = await this.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toAgent(r) : null;
    });
  }

  enrollAgent(e: { id: string; tokenId: string; at: number; requireApproval: boolean }): Promise<EnrollmentOutcome> {
    return this.run('enroll agent', () => enrollAgentTx(this.db, e));
  }

  setAgentApproval(id: string, approval: AgentApproval): Promise<AgentRecord> {
    return this.run('set agent approval', () => setAgentApproval(this.db, id, approval));
  }

  findAgentByCredentialHash(hash: string): Promise<AgentRecord | null> {
    return this.run('find agent by credential', async () => {
      const r = await this.db.selectFrom('agents').selectAll().where('credential_hash', '=', hash).executeTakeFirst();
      return r ? toAgent(r) : null;
    });
  }

  listAgents(): Promise<AgentRecord[]> {
    return this.run('list agents', async () => (await this.db.selectFrom('agents').selectAll().orderBy('id').execute()).map(toAgent));
  }

  queryAgents(query: AgentPageQuery): Promise<AgentPage> {
    return this.run('query agents', async () => {
      const page = await queryAgentPage(this.db, this.kind, query);
      if (page.ids.length === 0) return { agents: [], keys: [], total: page.total, hasMore: false };
      const rows = await this.db.selectFrom('agents').selectAll().where('id', 'in', page.ids).execute();
      const byId = new Map(rows.map((r) => [r.id, toAgent(r)]));
      // An agent deleted between the two reads drops out of the page (with its key).
      const kept = page.ids.map((id, i) => ({ agent: byId.get(id), key: page.keys[i]! })).filter((x) => x.agent !== undefined);
      return { agents: kept.map((x) => x.agent!), keys: kept.map((x) => x.key), total: page.total, hasMore: page.hasMore };
    });
  }

  agentFacets(filter: AgentFilter, bounds: AgentFacetBounds): Promise<AgentFacets> {
    return this.run('count agent facets', () => queryAgentFacets(this.db, this.kind, filter, bounds));
  }

  insertAgents(agents: readonly AgentRecord[]): Promise<void> {
    return this.run('insert agents', () => insertAgents(this.db, agents));
  }

  upsertAgentReport(id: string, patch: AgentReportPatch, at: number): Promise<AgentRecord> {
    return this.run('store agent report', () => upsertAgentReport(this.db, id, patch, at));
  }

  applyAgentReports(reports: { id: string; patch: AgentReportPatch; at: number }[]): Promise<void> {
    if (reports.length === 0) return Promise.resolve();
    return this.run('store agent reports', () => applyAgentReports(this.db, this.kind, reports));
  }

  setAgentCredential(id: string, credentialHash: string): Promise<void> {
    return this.run('set agent credential', () => setAgentCredential(this.db, id, credentialHash));
  }

  claimAgentCredential(id: string, credentialHash: string): Promise<boolean> {
    return this.run('claim agent credential', () => claimAgentCredential(this.db, id, credentialHash));
  }

  setAgentLabels(id: string, labels: Record<string, string>): Promise<AgentRecord> {
    return this.run('set agent labels', () => setAgentLabels(this.db, id, labels));
  }

  setAgentStatus(id: string, status: 'online' | 'offline', at: number): Promise<boolean> {
    return this.run('set agent status', () => setAgentStatus(this.db, id, status, at));
  }

  touchAgents(touches: AgentTouch[]): Promise<string[]> {
    if (touches.length === 0) return Promise.resolve([]);
    return this.run('touch agents', () => touchAgents(this.db, this.kind, touches));
  }

  markStaleAgentsOffline(before: number): Promise<string[]> {
    return this.run('mark stale agents offline', () => markStaleAgentsOffline(this.db, before));
  }

  revokeAgent(id: string, at: number): Promise<AgentRecord> {
    return this.run('revoke agent', () => revokeAgent(this.db, id, at));
  }

  deleteAgent(id: string): Promise<{ agent: AgentRecord; events: number }> {
    return this.run('delete agent', () => deleteRevokedAgentTx(this.db, id));
  }

  forgetOfflineAgents(before: number, limit: number): Promise<{ agents: ForgottenAgent[]; events: number }> {
    return this.run('forget offline agents', () => forgetOfflineAgentsTx(this.db, before, limit));
  }

  putConfig(c: Omit<ConfigRecord, 'createdAt'>): Promise<ConfigRecord> {
    return this.run('put config', async () => {
      await this.db
        .insertInto('configs')
        .values({ name: c.name, selector: c.selector, files: json(c.files), hash: c.hash, created_at: c.updatedAt, updated_at: c.updatedAt })
        .onConflict((oc) => oc.column('name').doUpdateSet({ selector: c.selector, files: json(c.files), hash: c.hash, updated_at: c.updatedAt }))
        .execute();
      return toConfig(await this.db.selectFrom('configs').selectAll().where('name', '=', c.name).executeTakeFirstOrThrow());
    });
  }

  getConfig(name: string): Promise<ConfigRecord | null> {
    return this.run('get config', async () => {
      const r = await this.db.selectFrom('configs').selectAll().where('name', '=', name).executeTakeFirst();
      return r ? toConfig(r) : null;
    });
  }

  listConfigs(): Promise<ConfigRecord[]> {
    return this.run('list configs', async () => (await this.db.selectFrom('configs').selectAll().orderBy('name').execute()).map(toConfig));
  }

  deleteConfig(name: string): Promise<void> {
    return this.run('delete config', async () => {
      const res = await this.db.deleteFrom('configs').where('name', '=', name).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw new ConfigNotFoundError(name);
    });
  }

  appendEvents(events: NewEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.run('append events', async () => {
      for (let i = 0; i < events.length; i += TOUCH_CHUNK) {
        await this.db
          .insertInto('events')
          .values(events.slice(i, i + TOUCH_CHUNK).map((e) => ({ at: e.at, type: e.type, agent_id: e.agentId, data: json(e.data) })))
          .execute();
      }
    });
  }

  listEventIds(afterId: number, limit: number): Promise<number[]> {
    return this.run('list event ids', async () =>
      (await this.db.selectFrom('events').select('id').where('id', '>', afterId).orderBy('id').limit(limit).execute()).map((r) => num(r.id)),
    );
  }

  listEvents(query: EventQuery): Promise<EventRecord[]> {
    return this.run('list events', async () => {
      const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
      let q = this.db.selectFrom('events').selectAll();
      if (query.afterId !== undefined) q = q.where('id', '>', query.afterId);
      if (query.upToId !== undefined) q = q.where('id', '<=', query.upToId);
      if (query.agentId !== undefined) q = q.where('agent_id', '=', query.agentId);
      if (query.type !== undefined) q = q.where('type', '=', query.type);
      if (query.since !== undefined) q = q.where('at', '>=', query.since);
      if (query.until !== undefined) q = q.where('at', '<', query.until);
      if (query.typePrefix !== undefined && query.typePrefix !== '') q = q.where(sql<boolean>`type like ${`${query.typePrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} escape '\\'`);
      // Without `afterId`, the newest `limit` events; with it, the next `limit` after it. Oldest first either way.
      // Newest by time in a time window: events_at, events_type_at and events_agent_at (0017) hold that order, so a
      // page reads `limit` entries wherever the window lies. Ids follow times but where replicas' batches interleave.
      const byTime = query.afterId === undefined && (query.since !== undefined || query.until !== undefined);
      const rows =
        query.afterId !== undefined
          ? await q.orderBy('id', 'asc').limit(limit).execute()
          : byTime
            ? (await q.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute()).reverse()
            : (await q.orderBy('id', 'desc').limit(limit).execute()).reverse();
      return rows.map((r) => ({ id: num(r.id), at: num(r.at), type: r.type, agentId: r.agent_id, data: JSON.parse(r.data) as Record<string, unknown> }));
    });
  }

  putPackage(p: PackageRecord): Promise<PackageRecord> {
    return this.run('put package', async () => {
      await this.db
        .insertInto('packages')
        .values({ name: p.name, version: p.version, os: p.os, arch: p.arch, sha256: p.sha256, size: p.size, signature: p.signature, manifest: json(p.manifest), created_at: p.createdAt, publisher_signature: p.publisherSignature ?? null })
        .onConflict((oc) => oc.columns(['name', 'version', 'os', 'arch']).doNothing())
        .execute();
      const r = await this.db
        .selectFrom('packages')
        .selectAll()
        .where('name', '=', p.name)
        .where('version', '=', p.version)
        .where('os', '=', p.os)
        .where('arch', '=', p.arch)
        .executeTakeFirstOrThrow();
      if (r.sha256 !== p.sha256) throw new PackageConflictError(`${p.name}@${p.version} for ${p.os}/${p.arch}`, r.sha256);
      if (p.publisherSignature && p.publisherSignature !== r.publisher_signature) {
        // The same bytes pushed again with (another) publisher signature: signing after publishing is allowed.
        await this.db.updateTable('packages').set({ publisher_signature: p.publisherSignature }).where('name', '=', p.name).where('version', '=', p.version).where('os', '=', p.os).where('arch', '=', p.arch).execute();
        return toPackage({ ...r, publisher_signature: p.publisherSignature });
      }
      return toPackage(r);
    });
  }

  listPackages(name?: string): Promise<PackageRecord[]> {
    return this.run('list packages', async () => {
      let q = this.db.selectFrom('packages').selectAll().orderBy('name').orderBy('created_at').orderBy('os').orderBy('arch');
      if (name !== undefined) q = q.where('name', '=', name);
      return (await q.execute()).map(toPackage);
    });
  }

  putArtifactContent(sha256: string, chunks: AsyncIterable<Buffer>): Promise<void> {
    return this.run('put artifact content', () =>
      this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('artifact_chunks').where('sha256', '=', sha256).execute();
        let seq = 0;
        for await (const data of chunks) await tx.insertInto('artifact_chunks').values({ sha256, seq: seq++, data }).execute();
      }),
    );
  }

  async *readArtifactContent(sha256: string): AsyncIterable<Buffer> {
    // One chunk per query: memory stays at one chunk whatever the artifact's size.
    for (let seq = 0; ; seq++) {
      const row = await this.run('read artifact content', () => this.db.selectFrom('artifact_chunks').select('data').where('sha256', '=', sha256).where('seq', '=', seq).executeTakeFirst());
      if (!row) return;
      yield Buffer.from(row.data);
    }
  }

  hasArtifactContent(sha256: string): Promise<boolean> {
    return this.run('has artifact content', async () => (await this.db.selectFrom('artifact_chunks').select('seq').where('sha256', '=', sha256).where('seq', '=', 0).executeTakeFirst()) !== undefined);
  }

  deleteArtifactContent(sha256: string): Promise<void> {
    return this.run('delete artifact content', async () => {
      await this.db.deleteFrom('artifact_chunks').where('sha256', '=', sha256).execute();
    });
  }

  findPackagesBySha256(sha256: string): Promise<PackageRecord[]> {
    return this.run('find package', async () => (await this.db.selectFrom('packages').selectAll().where('sha256', '=', sha256).execute()).map(toPackage));
  }

  setMetaIfAbsent(key: string, value: string): Promise<string> {
    return this.run('set meta if absent', async () => {
      await this.db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).execute();
      return (await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirstOrThrow()).value;
    });
  }

  putDeployment(d: Omit<DeploymentRecord, 'createdAt'>): Promise<DeploymentRecord> {
    return this.run('put deployment', async () => {
      const cols = deploymentRow(d);
      await this.db
        .insertInto('deployments')
        .values({ name: d.name, ...cols, created_at: d.updatedAt })
        .onConflict((oc) => oc.column('name').doUpdateSet(cols))
        .execute();
      return toDeployment(await this.db.selectFrom('deployments').selectAll().where('name', '=', d.name).executeTakeFirstOrThrow());
    });
  }

  getDeployment(name: string): Promise<DeploymentRecord | null> {
    return this.run('get deployment', async () => {
      const r = await this.db.selectFrom('deployments').selectAll().where('name', '=', name).executeTakeFirst();
      return r ? toDeployment(r) : null;
    });
  }

  listDeployments(): Promise<DeploymentRecord[]> {
    return this.run('list deployments', async () => (await this.db.selectFrom('deployments').selectAll().orderBy('name').execute()).map(toDeployment));
  }

  deleteDeployment(name: string): Promise<void> {
    return this.run('delete deployment', async () => {
      await this.db.transaction().execute(async (tx) => {
        const res = await tx.deleteFrom('deployments').where('name', '=', name).executeTakeFirst();
        if (Number(res.numDeletedRows) === 0) throw new DeploymentNotFoundError(name);
        const rollouts = tx.selectFrom('rollouts').select('id').where('deployment', '=', name);
        await tx.deleteFrom('rollout_agents').where('rollout_id', 'in', rollouts).execute();
        await tx.deleteFrom('rollouts').where('deployment', '=', name).execute();
        await tx.deleteFrom('deployment_revisions').where('deployment', '=', name).execute();
        await tx.deleteFrom('deployment_agents').where('deployment', '=', name).execute();
      });
    });
  }

  createJob(job: JobRecord, hosts: JobHostRecord[]): Promise<void> {
    return this.run('create job', () =>
      this.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('jobs')
          .values({ id: job.id, spec: json(job.spec), status: job.status, created_by: job.createdBy, selector: job.spec.selector, created_at: job.createdAt, finished_at: job.finishedAt })
          .execute();
        for (let i = 0; i < hosts.length; i += TOUCH_CHUNK) {
          await tx.insertInto('job_hosts').values(hosts.slice(i, i + TOUCH_CHUNK).map(jobHostRow)).execute();
        }
      }),
    );
  }

  finishJob(id: string, status: JobStatus, at: number): Promise<void> {
    return this.run('finish job', async () => {
      await this.db.updateTable('jobs').set({ status, finished_at: at }).where('id', '=', id).execute();
    });
  }

  putJobHost(host: JobHostRecord): Promise<void> {
    return this.run('store job host', async () => {
      const row = jobHostRow(host);
      const { job_id: _j, agent_id: _a, ...rest } = row;
      await this.db.insertInto('job_hosts').values(row).onConflict((oc) => oc.columns(['job_id', 'agent_id']).doUpdateSet(rest)).execute();
    });
  }

  getJob(id: string): Promise<{ job: JobRecord; hosts: JobHostRecord[] } | null> {
    return this.run('get job', async () => {
      const j = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
      if (!j) return null;
      const hosts = await this.db.selectFrom('job_hosts').selectAll().where('job_id', '=', id).orderBy('agent_name').execute();
      return { job: toJob(j), hosts: hosts.map(toJobHost) };
    });
  }

  queryJobs(query: JobListQuery): Promise<JobListPage> {
    return this.run('list jobs', () => queryJobPage(this.db, this.kind, query));
  }

  listJobSelectors(): Promise<string[]> {
    return this.run('list job selectors', async () => (await this.db.selectFrom('jobs').select('selector').distinct().execute()).map((r) => r.selector));
  }

  resealSecrets(reseal: SecretResealer, meta: { key: string; value: string }): Promise<{ values: number; files: number }> {
    return resealSecretsIn(this.db, (what, fn) => this.run(what, fn), reseal, meta);
  }

  getMeta(key: string): Promise<string | null> {
    return this.run('get meta', async () => {
      const r = await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
      return r?.value ?? null;
    });
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.run('set meta', async () => {
      await this.db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
    });
  }
}
