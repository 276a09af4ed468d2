/** The RolloutStore over Kysely (see rollout-records.ts for the contract). */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { AgentRevisionRecord, DeploymentRecord, RevisionRecord, RolloutAgentRecord, RolloutRecord, RolloutStore } from './store.js';

type Run = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

const CHUNK = 500;
const ACTIVE = ['running', 'paused'];
const num = (v: number | string | bigint): number => Number(v);
const numOrNull = (v: number | string | bigint | null): number | null => (v === null ? null : Number(v));

export function deploymentRow(d: Omit<DeploymentRecord, 'createdAt'>) {
  return {
    package: d.package,
    version: d.version,
    selector: d.selector,
    values: JSON.stringify(d.values),
    secret_values: JSON.stringify(d.secretValues),
    desired_state: d.desiredState,
    revision: d.revision,
    stable_revision: d.stableRevision,
    policy: JSON.stringify(d.policy),
    updated_at: d.updatedAt,
  };
}

function toRevision(r: Selectable<Database['deployment_revisions']>): RevisionRecord {
  return { deployment: r.deployment, revision: num(r.revision), package: r.package, version: r.version, values: JSON.parse(r.values) as Record<string, string>, secretValues: JSON.parse(r.secret_values) as Record<string, string>, createdAt: num(r.created_at) };
}

function toRollout(r: Selectable<Database['rollouts']>): RolloutRecord {
  return {
    id: r.id,
    deployment: r.deployment,
    kind: r.kind as RolloutRecord['kind'],
    fromRevision: numOrNull(r.from_revision),
    toRevision: num(r.to_revision),
    policy: JSON.parse(r.policy) as Record<string, unknown>,
    state: r.state,
    stage: num(r.stage),
    stageStartedAt: num(r.stage_started_at),
    promoted: num(r.promoted) === 1,
    forgiven: num(r.forgiven),
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    finishedAt: numOrNull(r.finished_at),
    leaseOwner: r.lease_owner,
    leaseUntil: numOrNull(r.lease_until),
  };
}

function rolloutRow(r: Partial<Omit<RolloutRecord, 'id' | 'deployment' | 'createdAt'>>) {
  const row: Partial<Database['rollouts']> = {};
  if (r.kind !== undefined) row.kind = r.kind;
  if (r.fromRevision !== undefined) row.from_revision = r.fromRevision;
  if (r.toRevision !== undefined) row.to_revision = r.toRevision;
  if (r.policy !== undefined) row.policy = JSON.stringify(r.policy);
  if (r.state !== undefined) row.state = r.state;
  if (r.stage !== undefined) row.stage = r.stage;
  if (r.stageStartedAt !== undefined) row.stage_started_at = r.stageStartedAt;
  if (r.promoted !== undefined) row.promoted = r.promoted ? 1 : 0;
  if (r.forgiven !== undefined) row.forgiven = r.forgiven;
  if (r.reason !== undefined) row.reason = r.reason;
  if (r.createdBy !== undefined) row.created_by = r.createdBy;
  if (r.updatedAt !== undefined) row.updated_at = r.updatedAt;
  if (r.finishedAt !== undefined) row.finished_at = r.finishedAt;
  return row;
}

function toRolloutAgent(r: Selectable<Database['rollout_agents']>): RolloutAgentRecord {
  return {
    rolloutId: r.rollout_id,
    agentId: r.agent_id,
    agentName: r.agent_name,
    stage: num(r.stage),
    state: r.state,
    startedAt: numOrNull(r.started_at),
    healthySince: numOrNull(r.healthy_since),
    finishedAt: numOrNull(r.finished_at),
    reason: r.reason,
  };
}

const rolloutAgentRow = (r: RolloutAgentRecord) => ({
  rollout_id: r.rolloutId,
  agent_id: r.agentId,
  agent_name: r.agentName,
  stage: r.stage,
  state: r.state,
  started_at: r.startedAt,
  healthy_since: r.healthySince,
  finished_at: r.finishedAt,
  reason: r.reason,
});

async function putRolloutAgentsIn(tx: Kysely<Database> | Transaction<Database>, rows: RolloutAgentRecord[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await tx
      .insertInto('rollout_agents')
      .values(rows.slice(i, i + CHUNK).map(rolloutAgentRow))
      .onConflict((oc) =>
        oc.columns(['rollout_id', 'agent_id']).doUpdateSet((eb) => ({
          agent_name: eb.ref('excluded.agent_name'),
          stage: eb.ref('excluded.stage'),
          state: eb.ref('excluded.state'),
          started_at: eb.ref('excluded.started_at'),
          healthy_since: eb.ref('excluded.healthy_since'),
          finished_at: eb.ref('excluded.finished_at'),
          reason: eb.ref('excluded.reason'),
        })),
      )
      .execute();
  }
}

export class KyselyRolloutStore implements RolloutStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly run: Run,
  ) {}

  commitChange(change: Parameters<RolloutStore['commitChange']>[0]): Promise<void> {
    const { deployment: d, revision, rollout, agents, supersede } = change;
    return this.run('commit deployment change', () =>
      this.db.transaction().execute(async (tx) => {
        const cols = deploymentRow(d);
        await tx
          .insertInto('deployments')
          .values({ name: d.name, ...cols, created_at: d.updatedAt })
          .onConflict((oc) => oc.column('name').doUpdateSet(cols))
          .execute();
        if (revision) {
          await tx
            .insertInto('deployment_revisions')
            .values({ deployment: revision.deployment, revision: revision.revision, package: revision.package, version: revision.version, values: JSON.stringify(revision.values), secret_values: JSON.stringify(revision.secretValues), created_at: revision.createdAt })
            .execute();
        }
        if (supersede && supersede.length > 0) {
          await tx
            .updateTable('rollouts')
            .set({ state: 'aborted', reason: 'superseded by a newer change', finished_at: d.updatedAt, updated_at: d.updatedAt })
            .where('id', 'in', supersede)
            .where('state', 'in', ACTIVE)
            .execute();
        }
        if (rollout) {
          await tx
            .insertInto('rollouts')
            .values({
              id: rollout.id,
              deployment: rollout.deployment,
              ...rolloutRow(rollout),
              created_at: rollout.createdAt,
              lease_owner: rollout.leaseOwner ?? null,
              lease_until: rollout.leaseUntil ?? null,
            } as Database['rollouts'])
            .execute();
          await putRolloutAgentsIn(tx, agents ?? []);
        }
      }),
    );
  }

  listRevisions(deployment?: string): Promise<RevisionRecord[]> {
    return this.run('list revisions', async () => {
      let q = this.db.selectFrom('deployment_revisions').selectAll().orderBy('deployment').orderBy('revision');
      if (deployment !== undefined) q = q.where('deployment', '=', deployment);
      return (await q.execute()).map(toRevision);
    });
  }

  getRollout(id: string): Promise<RolloutRecord | null> {
    return this.run('get rollout', async () => {
      const r = await this.db.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toRollout(r) : null;
    });
  }

  listRollouts(deployment?: string, limit = 100): Promise<RolloutRecord[]> {
    return this.run('list rollouts', async () => {
      let q = this.db.selectFrom('rollouts').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit);
      if (deployment !== undefined) q = q.where('deployment', '=', deployment);
      return (await q.execute()).map(toRollout);
    });
  }

  listActiveRollouts(): Promise<RolloutRecord[]> {
    return this.run('list active rollouts', async () => (await this.db.selectFrom('rollouts').selectAll().where('state', 'in', ACTIVE).orderBy('created_at').execute()).map(toRollout));
  }

  updateRollout(id: string, patch: Parameters<RolloutStore['updateRollout']>[1], fromStates: string[]): Promise<boolean> {
    return this.run('update rollout', async () => {
      const res = await this.db.updateTable('rollouts').set(rolloutRow(patch)).where('id', '=', id).where('state', 'in', fromStates).executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    });
  }

  listRolloutAgents(rolloutId: string): Promise<RolloutAgentRecord[]> {
    return this.run('list rollout agents', async () =>
      (await this.db.selectFrom('rollout_agents').selectAll().where('rollout_id', '=', rolloutId).orderBy('stage').orderBy('agent_id').execute()).map(toRolloutAgent),
    );
  }

  putRolloutAgents(rows: RolloutAgentRecord[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.run('put rollout agents', () => this.db.transaction().execute((tx) => putRolloutAgentsIn(tx, rows)));
  }

  deleteRolloutAgents(rolloutId: string, agentIds: string[]): Promise<void> {
    if (agentIds.length === 0) return Promise.resolve();
    return this.run('delete rollout agents', async () => {
      for (let i = 0; i < agentIds.length; i += CHUNK) {
        await this.db.deleteFrom('rollout_agents').where('rollout_id', '=', rolloutId).where('agent_id', 'in', agentIds.slice(i, i + CHUNK)).execute();
      }
    });
  }

  acquireRolloutLease(id: string, owner: string, now: number, until: number): Promise<boolean> {
    return this.run('acquire rollout lease', async () => {
      const res = await this.db
        .updateTable('rollouts')
        .set({ lease_owner: owner, lease_until: until })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('lease_owner', '=', owner), eb('lease_owner', 'is', null), eb('lease_until', '<', now)]))
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    });
  }

  setAgentRevisions(deployment: string, agentIds: string[], revision: number): Promise<void> {
    if (agentIds.length === 0) return Promise.resolve();
    return this.run('set agent revisions', () =>
      this.db.transaction().execute(async (tx) => {
        for (let i = 0; i < agentIds.length; i += CHUNK) {
          await tx
            .insertInto('deployment_agents')
            .values(agentIds.slice(i, i + CHUNK).map((agent_id) => ({ deployment, agent_id, revision })))
            .onConflict((oc) => oc.columns(['deployment', 'agent_id']).doUpdateSet({ revision }))
            .execute();
        }
      }),
    );
  }

  listAgentRevisions(agentIds?: readonly string[]): Promise<AgentRevisionRecord[]> {
    if (agentIds && agentIds.length === 0) return Promise.resolve([]);
    return this.run('list agent revisions', async () =>
      (await (agentIds ? this.db.selectFrom('deployment_agents').selectAll().where('agent_id', 'in', [...agentIds]) : this.db.selectFrom('deployment_agents').selectAll()).execute()).map((r) => ({ deployment: r.deployment, agentId: r.agent_id, revision: num(r.revision) })),
    );
  }

  setStableRevision(deployment: string, revision: number): Promise<void> {
    return this.run('set stable revision', async () => {
      await this.db.updateTable('deployments').set({ stable_revision: revision }).where('name', '=', deployment).execute();
    });
  }
}
