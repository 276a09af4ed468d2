/**
 * Schema migrations, written once with Kysely's schema builder so the same
 * steps run on SQLite and PostgreSQL. Never edit a released migration; add
 * the next one. Kysely's Migrator takes a lock (pg advisory lock, SQLite
 * transaction), so replicas starting together migrate once.
 */
import { sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import { BUILTIN_ADMIN } from '../auth/actor.js';
import { agentDerivedUp } from './agent-derived-migration.js';
import { jobFailedHostsUp } from './job-failed-migration.js';

type Dialect = 'sqlite' | 'postgres';

function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          .addColumn('prefix', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('revoked_at', 'bigint')
          .execute();

        await db.schema
          .createTable('agents')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('identifying_attributes', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('non_identifying_attributes', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('capabilities', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('health', 'text')
          .addColumn('effective_config', 'text')
          .addColumn('remote_config_status', 'text')
          .addColumn('package_statuses', 'text')
          .addColumn('credential_hash', 'text')
          .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
          .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
          .addColumn('last_sequence_num', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('revoked_at', 'bigint')
          .execute();
        await db.schema.createIndex('agents_credential_hash').on('agents').column('credential_hash').execute();
        await db.schema.createIndex('agents_status_last_seen').on('agents').columns(['status', 'last_seen_at']).execute();

        await db.schema
          .createTable('configs')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('selector', 'text', (c) => c.notNull())
          .addColumn('files', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('events')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('agent_id', 'text')
          .addColumn('data', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('events_agent').on('events').columns(['agent_id', 'id']).execute();
        await db.schema.createIndex('events_type').on('events').columns(['type', 'id']).execute();

        await db.schema
          .createTable('meta')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0002_packages': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('packages')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('os', 'text', (c) => c.notNull())
          .addColumn('arch', 'text', (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('signature', 'text', (c) => c.notNull())
          .addColumn('manifest', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('packages_pk', ['name', 'version', 'os', 'arch'])
          .execute();
        await db.schema.createIndex('packages_sha256').on('packages').column('sha256').execute();
      },
    },
    '0003_deployments': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('deployments')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('package', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('selector', 'text', (c) => c.notNull())
          .addColumn('values', 'text', (c) => c.notNull())
          .addColumn('desired_state', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '0004_jobs': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('jobs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('spec', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('finished_at', 'bigint')
          .execute();
        await db.schema
          .createTable('job_hosts')
          .addColumn('job_id', 'text', (c) => c.notNull())
          .addColumn('agent_id', 'text', (c) => c.notNull())
          .addColumn('agent_name', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('exit_code', 'integer')
          .addColumn('signal', 'text')
          .addColumn('output', 'text', (c) => c.notNull())
          .addColumn('truncated', 'integer', (c) => c.notNull())
          .addColumn('error', 'text', (c) => c.notNull())
          .addColumn('started_at', 'bigint')
          .addColumn('finished_at', 'bigint')
          .addPrimaryKeyConstraint('job_hosts_pk', ['job_id', 'agent_id'])
          .execute();
      },
    },
    '0005_rollouts': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('deployments').addColumn('revision', 'integer', (c) => c.notNull().defaultTo(1)).execute();
        await db.schema.alterTable('deployments').addColumn('stable_revision', 'integer').execute();
        await db.schema.alterTable('deployments').addColumn('policy', 'text', (c) => c.notNull().defaultTo('{}')).execute();
        await db.schema
          .createTable('deployment_revisions')
          .addColumn('deployment', 'text', (c) => c.notNull())
          .addColumn('revision', 'integer', (c) => c.notNull())
          .addColumn('package', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('values', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('deployment_revisions_pk', ['deployment', 'revision'])
          .execute();
        // Deployments made before rollouts existed become revision 1, stable (they were applied at once).
        await sql`insert into deployment_revisions (deployment, revision, package, version, ${sql.ref('values')}, created_at)
                  select name, 1, package, version, ${sql.ref('values')}, updated_at from deployments`.execute(db);
        await sql`update deployments set stable_revision = 1`.execute(db);
        await db.schema
          .createTable('rollouts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('deployment', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('from_revision', 'integer')
          .addColumn('to_revision', 'integer', (c) => c.notNull())
          .addColumn('policy', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('stage', 'integer', (c) => c.notNull())
          .addColumn('stage_started_at', 'bigint', (c) => c.notNull())
          .addColumn('promoted', 'integer', (c) => c.notNull())
          .addColumn('forgiven', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('finished_at', 'bigint')
          .addColumn('lease_owner', 'text')
          .addColumn('lease_until', 'bigint')
          .execute();
        await db.schema.createIndex('rollouts_deployment').on('rollouts').columns(['deployment', 'created_at']).execute();
        await db.schema.createIndex('rollouts_state').on('rollouts').column('state').execute();
        await db.schema
          .createTable('rollout_agents')
          .addColumn('rollout_id', 'text', (c) => c.notNull())
          .addColumn('agent_id', 'text', (c) => c.notNull())
          .addColumn('agent_name', 'text', (c) => c.notNull())
          .addColumn('stage', 'integer', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('started_at', 'bigint')
          .addColumn('healthy_since', 'bigint')
          .addColumn('finished_at', 'bigint')
          .addColumn('reason', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('rollout_agents_pk', ['rollout_id', 'agent_id'])
          .execute();
        await db.schema
          .createTable('deployment_agents')
          .addColumn('deployment', 'text', (c) => c.notNull())
          .addColumn('agent_id', 'text', (c) => c.notNull())
          .addColumn('revision', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('deployment_agents_pk', ['deployment', 'agent_id'])
          .execute();
      },
    },
    '0006_artifact_chunks': {
      async up(db: Kysely<unknown>) {
        // Artifacts live in the store, so every replica can serve every package.
        await db.schema
          .createTable('artifact_chunks')
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('data', dialect === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
          .addPrimaryKeyConstraint('artifact_chunks_pk', ['sha256', 'seq'])
          .execute();
      },
    },
    '0008_credential_rotation': {
      async up(db: Kysely<unknown>) {
        // Rotation state lives in the store, so any replica offers, accepts and confirms.
        await db.schema
          .createTable('agent_credential_rotations')
          .addColumn('agent_id', 'text', (c) => c.primaryKey())
          .addColumn('requested_at', 'bigint')
          .addColumn('previous_hash', 'text')
          .addColumn('previous_expires_at', 'bigint')
          .execute();
        await db.schema.createIndex('agent_credential_rotations_previous').on('agent_credential_rotations').column('previous_hash').execute();
      },
    },
    '0009_publisher_signatures': {
      async up(db: Kysely<unknown>) {
        // A publisher's own ed25519 signature of the artifact digest (corral package sign), kept beside the server's.
        await db.schema.alterTable('packages').addColumn('publisher_signature', 'text').execute();
      },
    },
    '0010_enrollment_scope': {
      async up(db: Kysely<unknown>) {
        // Enrollment tokens bind labels, expire, cap their agents and may ask for approval.
        await db.schema.alterTable('tokens').addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}')).execute();
        await db.schema.alterTable('tokens').addColumn('expires_at', 'bigint').execute();
        await db.schema.alterTable('tokens').addColumn('max_agents', 'integer').execute();
        await db.schema.alterTable('tokens').addColumn('enrolled_agents', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await db.schema.alterTable('tokens').addColumn('require_approval', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await db.schema.alterTable('agents').addColumn('bound_labels', 'text', (c) => c.notNull().defaultTo('{}')).execute();
        await db.schema.alterTable('agents').addColumn('enrollment_token_id', 'text').execute();
        await db.schema.alterTable('agents').addColumn('approval', 'text', (c) => c.notNull().defaultTo('approved')).execute();
        await db.schema.createIndex('agents_enrollment_token').on('agents').column('enrollment_token_id').execute();
        // Before this, an agent's own --labels decided what it got. Keep what agents enrolled so far
        // receive: their reported labels become bound labels once (from now on, reports are only claims).
        const rows = await sql<{ id: string; attrs: string }>`select id, non_identifying_attributes as attrs from agents`.execute(db);
        for (const r of rows.rows) {
          const bound = grandfatheredLabels(r.attrs);
          if (Object.keys(bound).length > 0) await sql`update agents set bound_labels = ${JSON.stringify(bound)} where id = ${r.id}`.execute(db);
        }
      },
    },
    '0011_users': {
      async up(db: Kysely<unknown>) {
        // Users with role bindings; API tokens name the user they act as.
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('disabled_at', 'bigint')
          .execute();
        await db.schema
          .createTable('user_roles')
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('selector', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('user_roles_pk', ['user_id', 'role', 'selector'])
          .execute();
        await db.schema.alterTable('tokens').addColumn('user_id', 'text').execute();
        await db.schema.createIndex('tokens_user').on('tokens').column('user_id').execute();
        // The first-start admin token (and every admin token since) belongs to the built-in user admin,
        // admin on the whole fleet: existing admin tokens keep working.
        const now = Date.now();
        await sql`insert into users (id, name, created_at, disabled_at) values (${BUILTIN_ADMIN}, ${BUILTIN_ADMIN}, ${now}, null)`.execute(db);
        await sql`insert into user_roles (user_id, role, selector) values (${BUILTIN_ADMIN}, 'admin', '')`.execute(db);
        await sql`update tokens set user_id = ${BUILTIN_ADMIN} where kind = 'admin'`.execute(db);
      },
    },
    '0012_audit_log': {
      async up(db: Kysely<unknown>) {
        // Append-only: ids are assigned by the appender (head + 1) under the chain's lock; the primary key
        // refuses a second record after the same predecessor, so the chain cannot fork.
        await db.schema
          .createTable('audit_log')
          .addColumn('id', 'bigint', (c) => c.primaryKey())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('actor_user_id', 'text', (c) => c.notNull())
          .addColumn('actor_token_id', 'text', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('summary', 'text', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('status', 'integer', (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('prev_hash', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('audit_log_actor').on('audit_log').columns(['actor', 'id']).execute();
        await db.schema.createIndex('audit_log_at').on('audit_log').columns(['at', 'id']).execute();
      },
    },
    '0013_secret_values': {
      async up(db: Kysely<unknown>) {
        // Secret deployment values, sealed (AES-256-GCM, key outside the database; see server/secrets).
        await db.schema.alterTable('deployments').addColumn('secret_values', 'text', (c) => c.notNull().defaultTo('{}')).execute();
        await db.schema.alterTable('deployment_revisions').addColumn('secret_values', 'text', (c) => c.notNull().defaultTo('{}')).execute();
      },
    },
    '0014_job_list': {
      async up(db: Kysely<unknown>) {
        // The job list (job-query.ts): who started a job and its selector as columns (filters, scopes),
        // timed-out hosts told apart from failed ones, and indexes for newest-first keyset pages.
        await db.schema.alterTable('jobs').addColumn('created_by', 'text', (c) => c.notNull().defaultTo('')).execute();
        await db.schema.alterTable('jobs').addColumn('selector', 'text', (c) => c.notNull().defaultTo('')).execute();
        await db.schema.alterTable('job_hosts').addColumn('timed_out', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        const jobs = (await sql<{ id: string; spec: string }>`select id, spec from jobs`.execute(db)).rows;
        for (const j of jobs) {
          const selector = (JSON.parse(j.spec) as { selector?: unknown }).selector;
          if (typeof selector === 'string') await sql`update jobs set selector = ${selector} where id = ${j.id}`.execute(db);
        }
        // Who started the older jobs is in their job.started event, while it is kept.
        const started = (await sql<{ data: string }>`select data from events where type = 'job.started'`.execute(db)).rows;
        for (const e of started) {
          const data = JSON.parse(e.data) as { id?: unknown; actor?: unknown };
          if (typeof data.id === 'string' && typeof data.actor === 'string') await sql`update jobs set created_by = ${data.actor} where id = ${data.id}`.execute(db);
        }
        await sql`update job_hosts set timed_out = 1 where status = 'failed' and error like 'timed out%'`.execute(db);
        if (dialect === 'postgres') {
          await sql`create index jobs_created_id on jobs (created_at, id collate "C")`.execute(db);
          await sql`create index jobs_created_by on jobs (created_by, created_at, id collate "C")`.execute(db);
        } else {
          await db.schema.createIndex('jobs_created_id').on('jobs').columns(['created_at', 'id']).execute();
          await db.schema.createIndex('jobs_created_by').on('jobs').columns(['created_by', 'created_at', 'id']).execute();
        }
        await db.schema.createIndex('job_hosts_job_status').on('job_hosts').columns(['job_id', 'status']).execute();
        // A scoped reader's list: the distinct selectors, then the jobs on those.
        await db.schema.createIndex('jobs_selector').on('jobs').column('selector').execute();
      },
    },
    '0015_agent_list_indexes': {
      async up(db: Kysely<unknown>) {
        // Keyset pages of the fleet (agent-query.ts) by name and by last seen, each with the id as tie-break.
        // On PostgreSQL the list compares bytewise (COLLATE "C"): the index must too, or it cannot serve the order.
        if (dialect === 'postgres') {
          await sql`create index agents_name_id on agents (name collate "C", id collate "C")`.execute(db);
          await sql`create index agents_last_seen_id on agents (last_seen_at, id collate "C")`.execute(db);
        } else {
          await db.schema.createIndex('agents_name_id').on('agents').columns(['name', 'id']).execute();
          await db.schema.createIndex('agents_last_seen_id').on('agents').columns(['last_seen_at', 'id']).execute();
        }
      },
    },
    '0016_agent_labels_facts': {
      // Trusted labels, search text and counted attributes beside the agents, kept by triggers (agent-derived-migration.ts).
      up: (db: Kysely<unknown>) => agentDerivedUp(dialect, db),
    },
    '0017_list_indexes': {
      async up(db: Kysely<unknown>) {
        // The job list's failed and running filters by index: a failed-host count kept by triggers (job-failed-migration.ts).
        await jobFailedHostsUp(dialect, db);
        // Events by time (listEvents with since/until: newest first by at, then id), alone and with the
        // type or agent filter; events_type and events_agent (0001) keep serving pages by id.
        await db.schema.createIndex('events_at').on('events').columns(['at', 'id']).execute();
        await db.schema.createIndex('events_type_at').on('events').columns(['type', 'at', 'id']).execute();
        await db.schema.createIndex('events_agent_at').on('events').columns(['agent_id', 'at', 'id']).execute();
      },
    },
    '0019_token_parent': {
      async up(db: Kysely<unknown>) {
        // Self-service API tokens name the token that created them: revoking a token revokes what it created.
        await db.schema.alterTable('tokens').addColumn('parent_id', 'text').execute();
        await db.schema.createIndex('tokens_parent').on('tokens').column('parent_id').execute();
      },
    },
    '0021_agent_facts_sort': {
      async up(db: Kysely<unknown>) {
        // Keyset pages of the fleet by agent version and by OS read agent_facts in order (agent-query.ts),
        // with the agent id as tie-break; bytewise on PostgreSQL, as the list compares.
        for (const c of ['version', 'os']) {
          if (dialect === 'postgres') await sql.raw(`create index agent_facts_${c}_id on agent_facts (${c} collate "C", agent_id collate "C")`).execute(db);
          else await db.schema.createIndex(`agent_facts_${c}_id`).on('agent_facts').columns([c, 'agent_id']).execute();
        }
      },
    },
    '0022_token_roles': {
      async up(db: Kysely<unknown>) {
        // API tokens narrowed to their own role bindings (JSON); null acts with all of its user's roles.
        await db.schema.alterTable('tokens').addColumn('roles', 'text').execute();
      },
    },
    '0023_token_lists': {
      async up(db: Kysely<unknown>) {
        // Token lists a page at a time, newest first (token-store.ts): a user's API tokens and the tokens of a kind,
        // with the id as tie-break (bytewise on PostgreSQL, as the list compares); a user's active-token count
        // and 24-hour count (user-store.ts createToken) read those index ranges, not every token ever made.
        if (dialect === 'postgres') {
          await sql`create index tokens_user_created on tokens (user_id, created_at, id collate "C")`.execute(db);
          await sql`create index tokens_kind_created on tokens (kind, created_at, id collate "C")`.execute(db);
        } else {
          await db.schema.createIndex('tokens_user_created').on('tokens').columns(['user_id', 'created_at', 'id']).execute();
          await db.schema.createIndex('tokens_kind_created').on('tokens').columns(['kind', 'created_at', 'id']).execute();
        }
        // No index on revoked_at or expires_at alone: the planner would take it for a user's active-token count
        // (the user's own rows being most of the table when one user makes most tokens), and the retention sweep,
        // once per interval, reads a table the sweep itself keeps small.
        await db.schema.createIndex('tokens_user_live').on('tokens').columns(['user_id', 'revoked_at', 'expires_at']).execute();
      },
    },
  };
}

const LABEL_PREFIX = 'corral.label.';

function grandfatheredLabels(attrsJson: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(JSON.parse(attrsJson) as Record<string, unknown>)) {
    const key = k.slice(LABEL_PREFIX.length);
    // Only what a label may be (the same rules as for operator labels); anything else stays a claim.
    if (!k.startsWith(LABEL_PREFIX) || typeof v !== 'string' || key.startsWith('claim.')) continue;
    if (/^[A-Za-z0-9._/-]{1,128}$/.test(key) && /^[A-Za-z0-9._/:-]{0,256}$/.test(v)) labels[key] = v;
  }
  return labels;
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}

/** Runs before giving up when other schemas keep vanishing (see migrateRetrying). */
const MIGRATE_ATTEMPTS = 5;

/**
 * Runs a Migrator call (`() => migrator.migrateToLatest()`), again when it
 * failed only because another schema of the same PostgreSQL database was
 * dropped meanwhile: Kysely looks for its migration table by listing every
 * schema's tables, and a schema dropped during that listing fails it with
 * 3F000 (invalid_schema_name) naming that schema. Nothing was migrated by
 * then, so running again is safe. Any other outcome is returned as it is.
 */
export async function migrateRetrying(run: () => Promise<MigrationResultSet>, ownSchema?: string): Promise<MigrationResultSet> {
  for (let attempt = 1; ; attempt++) {
    const result = await run();
    const err = result.error as { code?: unknown; message?: unknown } | undefined;
    const otherSchemaGone = err?.code === '3F000' && !(ownSchema !== undefined && String(err.message).includes(`"${ownSchema}"`));
    if (!otherSchemaGone || attempt >= MIGRATE_ATTEMPTS) return result;
  }
}
