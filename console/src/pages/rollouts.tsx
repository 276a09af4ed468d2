/**
 * Rollouts: the list (or the inbox: those waiting for a promote or paused),
 * and one rollout's live timeline per stage (pending / updating / healthy /
 * failed / offline), error budget, the reason in words, and the actions
 * pause, resume, promote, abort and roll back, each confirmed.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, seg } from '../api/client';
import type { RolloutStatus, StateCounts } from '../api/types';
import { Status } from '../components/status';
import { Time } from '../components/time';
import { Empty, Query } from '../components/states';
import { ConfirmButton } from '../components/confirm';
import { Link } from '../components/link';
import { useQueryState } from '../router';
import { needsAttention, useRollouts, waitingForPromote } from '../inbox';
import { can, useMe } from '../me';

const FINISHED = ['succeeded', 'failed', 'aborted', 'rolled-back'];

export function RolloutsPage() {
  const [params, setParams] = useQueryState();
  const inboxView = params.get('view') === 'inbox';
  const rollouts = useRollouts();
  return (
    <section className="page">
      <div className="page-head">
        <h1>{inboxView ? 'Inbox' : 'Rollouts'}</h1>
        <div className="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={!inboxView} onClick={() => setParams({ view: null })}>
            All rollouts
          </button>
          <button type="button" role="tab" aria-selected={inboxView} onClick={() => setParams({ view: 'inbox' })}>
            Waiting for you
          </button>
        </div>
      </div>
      <Query q={rollouts} what="rollouts">
        {(d) => {
          const list = inboxView ? d.rollouts.filter(needsAttention) : d.rollouts;
          if (list.length === 0) return <Empty>{inboxView ? 'Nothing waiting for you: no rollout is paused or waiting for a promote.' : 'No rollouts yet. Changing a deployment starts one.'}</Empty>;
          return (
            <table className="table">
              <thead>
                <tr>
                  <th>Deployment</th>
                  <th>Kind</th>
                  <th>State</th>
                  <th>Revisions</th>
                  <th>Stage</th>
                  <th>Why</th>
                  <th>By</th>
                  <th>Started</th>
                </tr>
              </thead>
              <tbody>
                {list.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <Link href={`/rollouts/${seg(r.id)}`}>{r.deployment}</Link>
                    </td>
                    <td>{r.kind}</td>
                    <td>
                      <Status value={waitingForPromote(r) ? 'waiting' : r.state} label={waitingForPromote(r) ? 'waiting for promote' : r.state} />
                    </td>
                    <td className="mono">
                      {r.fromRevision ?? '—'} → {r.toRevision}
                    </td>
                    <td className="num">{r.stage}</td>
                    <td className="wrap">{r.reason}</td>
                    <td>{r.createdBy}</td>
                    <td>
                      <Time iso={r.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      </Query>
    </section>
  );
}

const STATES: (keyof StateCounts)[] = ['healthy', 'updating', 'pending', 'failed', 'offline'];

function Bar({ counts, total }: { counts: StateCounts; total: number }) {
  return (
    <div className="bar" role="img" aria-label={STATES.map((s) => `${counts[s]} ${s}`).join(', ')}>
      {STATES.map((s) => (counts[s] > 0 ? <span key={s} className={`seg seg-${s}`} style={{ flexGrow: counts[s] / Math.max(1, total) }} title={`${counts[s]} ${s}`} /> : null))}
    </div>
  );
}

export function RolloutPage({ id }: { id: string }) {
  const qc = useQueryClient();
  const me = useMe();
  const q = useQuery({
    queryKey: ['rollouts', 'one', id],
    queryFn: () => api<RolloutStatus>(`/api/v1/rollouts/${seg(id)}?agents=true`),
    refetchInterval: (query) => (query.state.data && FINISHED.includes(query.state.data.state) ? false : 2000),
  });
  const act = (action: string, body?: unknown) => async () => {
    await api(`/api/v1/rollouts/${seg(id)}/${action}`, { method: 'POST', body });
    await qc.invalidateQueries({ queryKey: ['rollouts'] });
  };
  return (
    <section className="page">
      <p className="crumbs">
        <Link href="/rollouts">Rollouts</Link> / rollout
      </p>
      <Query q={q} what="the rollout">
        {(r) => {
          const running = r.state === 'running';
          const finished = FINISHED.includes(r.state);
          const waiting = waitingForPromote(r);
          const writer = can(me.data, 'write');
          return (
            <>
              <div className="page-head">
                <h1>
                  {r.kind === 'rollback' ? 'Rollback' : 'Rollout'} of <Link href={`/deployments/${seg(r.deployment)}`}>{r.deployment}</Link>
                </h1>
                <Status value={waiting ? 'waiting' : r.state} label={waiting ? 'waiting for promote' : r.state} />
              </div>
              {r.reason && (
                <p className={`reason${r.state === 'paused' || r.state === 'failed' ? ' warning' : ''}`} role="status">
                  {r.reason}
                </p>
              )}
              <dl className="facts">
                <dt>Change</dt>
                <dd className="mono">
                  {r.from ? `${r.from.package}@${r.from.version} (rev ${r.from.revision})` : 'nothing'} → {r.to ? `${r.to.package}@${r.to.version} (rev ${r.to.revision})` : '—'}
                </dd>
                <dt>Stage</dt>
                <dd>
                  {r.stage.name} ({r.stage.index + 1} of {r.stages.length}) {r.stage.startedAt && <Time iso={r.stage.startedAt} />}
                </dd>
                <dt>Error budget</dt>
                <dd>
                  {r.errorBudget.budget === 0 ? 'no failure tolerated' : `${r.errorBudget.left} of ${r.errorBudget.budget} failures left`} ({r.errorBudget.failed} failed{r.errorBudget.forgiven ? `, ${r.errorBudget.forgiven} forgiven` : ''})
                  <meter min={0} max={Math.max(1, r.errorBudget.budget)} value={r.errorBudget.left} low={Math.max(1, r.errorBudget.budget) * 0.34} optimum={Math.max(1, r.errorBudget.budget)} aria-label="Error budget left" />
                </dd>
                <dt>Started by</dt>
                <dd>
                  {r.createdBy}, <Time iso={r.createdAt} />
                </dd>
              </dl>
              {writer && (
                <div className="actions" aria-label="Rollout actions">
                  <ConfirmButton label="Pause" title="Pause this rollout?" body="No more agents get the change until you resume. Agents already updated keep it." disabled={!running} onConfirm={act('pause')} />
                  <ConfirmButton label="Resume" title="Resume this rollout?" body="Releases agents again; failures so far are forgiven and no longer count against the error budget." disabled={r.state !== 'paused' || waiting} onConfirm={act('resume')} />
                  <ConfirmButton label="Promote" title="Promote past the canary?" body="The remaining stages go ahead under the rollout policy." disabled={finished || r.promoted} onConfirm={act('promote')} />
                  <ConfirmButton label="Abort" danger title="Abort this rollout?" body="It stops where it is; agents keep what they have. This cannot be resumed." disabled={finished} onConfirm={act('abort')} />
                  <ConfirmButton label="Roll back" danger title="Roll back the deployment?" body={`The deployment goes back to its stable revision, staged under its rollout policy.`} disabled={r.kind === 'rollback' && !finished} onConfirm={act('rollback')} />
                </div>
              )}
              <h2>Stages</h2>
              <ol className="timeline">
                {r.stages.map((s) => (
                  <li key={s.index} className={s.index === r.stage.index && !finished ? 'current' : s.index < r.stage.index || finished ? 'done' : ''}>
                    <div className="stage-head">
                      <strong>{s.name}</strong> <span className="muted">{s.total === 1 ? '1 agent' : `${s.total} agents`}</span>
                      {s.index === r.stage.index && !finished && <span className="chip">current</span>}
                    </div>
                    <Bar counts={s.counts} total={s.total} />
                    <div className="legend small">
                      {STATES.map((st) => (
                        <span key={st}>
                          <Status value={st} /> {s.counts[st]}
                        </span>
                      ))}
                    </div>
                  </li>
                ))}
              </ol>
              <h2>Agents</h2>
              <table className="table compact">
                <thead>
                  <tr>
                    <th>Agent</th>
                    <th>Stage</th>
                    <th>State</th>
                    <th>Why</th>
                  </tr>
                </thead>
                <tbody>
                  {(r.agents ?? []).map((a) => (
                    <tr key={a.id}>
                      <td>
                        <Link href={`/agents/${seg(a.id)}`}>{a.name}</Link>
                      </td>
                      <td>{r.stages[a.stage]?.name ?? a.stage}</td>
                      <td>
                        <Status value={a.state} />
                      </td>
                      <td className="wrap">{a.reason}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          );
        }}
      </Query>
    </section>
  );
}
