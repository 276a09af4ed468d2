/**
 * Deployments: the list; one deployment's per-agent status, start / stop /
 * restart, revision history with a diff between any two revisions and
 * "roll back to this revision" (a staged rollout under its policy); and the
 * create / edit form with validation beside each field and a live count of
 * the agents its selector matches.
 */
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, qs, seg } from '../api/client';
import type { AgentList, Deployment, DeploymentStatus, Package, Revision } from '../api/types';
import { Status } from '../components/status';
import { Time } from '../components/time';
import { Empty, Query } from '../components/states';
import { ConfirmButton } from '../components/confirm';
import { Link } from '../components/link';
import { navigate } from '../router';
import { can, useMe } from '../me';
import { diffLines } from '../diff';

export function DeploymentsPage() {
  const q = useQuery({ queryKey: ['deployments', 'list'], queryFn: () => api<{ deployments: Deployment[] }>('/api/v1/deployments') });
  const me = useMe();
  return (
    <section className="page">
      <div className="page-head">
        <h1>Deployments</h1>
        {can(me.data, 'write') && (
          <Link className="button primary" href="/deployments/new">
            New deployment
          </Link>
        )}
      </div>
      <Query q={q} what="deployments">
        {(d) =>
          d.deployments.length === 0 ? (
            <Empty>No deployments yet. A deployment puts a published package version on the agents a selector matches.</Empty>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Package</th>
                  <th>Selector</th>
                  <th>Desired</th>
                  <th className="num">Revision</th>
                  <th className="num">Stable</th>
                  <th>Changed</th>
                </tr>
              </thead>
              <tbody>
                {d.deployments.map((x) => (
                  <tr key={x.name}>
                    <td>
                      <Link href={`/deployments/${seg(x.name)}`}>{x.name}</Link>
                    </td>
                    <td className="mono">
                      {x.package}@{x.version}
                    </td>
                    <td className="mono">{x.selector || '(every agent)'}</td>
                    <td>
                      <Status value={x.desiredState} />
                    </td>
                    <td className="num">{x.revision}</td>
                    <td className="num">{x.stableRevision ?? '—'}</td>
                    <td>
                      <Time iso={x.updatedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Query>
    </section>
  );
}

export function DeploymentPage({ name }: { name: string }) {
  const qc = useQueryClient();
  const me = useMe();
  const q = useQuery({ queryKey: ['deployments', 'status', name], queryFn: () => api<DeploymentStatus>(`/api/v1/deployments/${seg(name)}/status`), refetchInterval: 5000 });
  const act = (path: string, method = 'POST', body?: unknown) => async () => {
    await api(`/api/v1/deployments/${seg(name)}${path}`, { method, body });
    await qc.invalidateQueries({ queryKey: ['deployments'] });
    await qc.invalidateQueries({ queryKey: ['rollouts'] });
  };
  return (
    <section className="page">
      <p className="crumbs">
        <Link href="/deployments">Deployments</Link> / deployment
      </p>
      <Query q={q} what="the deployment">
        {({ deployment: d, rollout, agents }) => (
          <>
            <div className="page-head">
              <h1>{d.name}</h1>
              <Status value={d.desiredState} label={`desired: ${d.desiredState}`} />
            </div>
            <dl className="facts">
              <dt>Package</dt>
              <dd className="mono">
                {d.package}@{d.version}
              </dd>
              <dt>Selector</dt>
              <dd className="mono">{d.selector || '(every agent)'}</dd>
              <dt>Revision</dt>
              <dd>
                {d.revision} (stable: {d.stableRevision ?? 'none yet'})
              </dd>
              <dt>Values</dt>
              <dd className="mono wrap">{Object.entries(d.values).map(([k, v]) => `${k}=${v}`).join(', ') || '—'}</dd>
              <dt>Newest rollout</dt>
              <dd>
                {rollout ? (
                  <>
                    <Link href={`/rollouts/${seg(rollout.id)}`}>
                      {rollout.kind} to revision {rollout.toRevision}
                    </Link>{' '}
                    <Status value={rollout.state} /> <span className="muted">{rollout.reason}</span>
                  </>
                ) : (
                  'none'
                )}
              </dd>
            </dl>
            {can(me.data, 'write') && (
              <div className="actions">
                <Link className="button" href={`/deployments/${seg(d.name)}/edit`}>
                  Edit
                </Link>
                <ConfirmButton label="Start" title={`Start ${d.name}?`} body="Desired state becomes running on every matching agent (kept across restarts)." disabled={d.desiredState === 'running'} onConfirm={act('/start')} />
                <ConfirmButton label="Stop" title={`Stop ${d.name}?`} body="Desired state becomes stopped: its services stop on every matching agent and stay stopped." disabled={d.desiredState === 'stopped'} onConfirm={act('/stop')} />
                <ConfirmButton label="Restart" title={`Restart ${d.name} now?`} body="Its services restart now on every matching online agent." onConfirm={act('/restart')} />
                <ConfirmButton
                  label="Uninstall"
                  danger
                  title={`Uninstall ${d.name}?`}
                  body="Its services stop and their files are removed from every matching agent."
                  onConfirm={async () => {
                    await act('', 'DELETE')();
                    navigate('/deployments');
                  }}
                />
              </div>
            )}
            <h2>Agents ({agents.length})</h2>
            {agents.length === 0 ? (
              <Empty>The selector matches no agent.</Empty>
            ) : (
              <table className="table compact">
                <thead>
                  <tr>
                    <th>Agent</th>
                    <th>Agent status</th>
                    <th className="num">Revision</th>
                    <th>Config</th>
                    <th>Service</th>
                    <th>Error</th>
                  </tr>
                </thead>
                <tbody>
                  {agents.map((a) => (
                    <tr key={a.id}>
                      <td>
                        <Link href={`/agents/${seg(a.id)}`}>{a.name}</Link>
                      </td>
                      <td>
                        <Status value={a.agentStatus} />
                      </td>
                      <td className="num">{a.revision ?? '—'}</td>
                      <td>
                        <Status value={a.config.toLowerCase()} />
                      </td>
                      <td>{a.service ? <Status value={a.service.healthy ? 'healthy' : 'unhealthy'} label={a.service.status || (a.service.healthy ? 'healthy' : 'unhealthy')} /> : <span className="muted">—</span>}</td>
                      <td className="wrap field-error">{a.service?.lastError}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <Revisions deployment={d} writer={can(me.data, 'write')} />
          </>
        )}
      </Query>
    </section>
  );
}

const revisionText = (r: Revision) =>
  [`package: ${r.package}`, `version: ${r.version}`, ...Object.entries(r.values ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `values.${k}: ${v}`)].join('\n');

function Revisions({ deployment: d, writer }: { deployment: Deployment; writer: boolean }) {
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ['deployments', 'revisions', d.name],
    queryFn: async () => {
      try {
        const body = await api<{ revisions: Revision[] } | Revision[]>(`/api/v1/deployments/${seg(d.name)}/revisions`);
        return { revisions: Array.isArray(body) ? body : body.revisions };
      } catch (err) {
        if (err instanceof ApiError && err.status === 404 && err.code === 'NOT_FOUND' && err.message.startsWith('no route')) return null;
        throw err;
      }
    },
  });
  const [a, setA] = useState<number | null>(null);
  const [b, setB] = useState<number | null>(null);
  return (
    <section className="panel" aria-labelledby="revisions-title">
      <h2 id="revisions-title">Revision history</h2>
      <Query q={q} what="revisions">
        {(data) => {
          if (data === null) return <p className="muted">This server does not keep revision history yet.</p>;
          const list = [...data.revisions].sort((x, y) => y.revision - x.revision);
          const left = list.find((r) => r.revision === (a ?? list[1]?.revision));
          const right = list.find((r) => r.revision === (b ?? list[0]?.revision));
          return (
            <>
              <table className="table compact">
                <thead>
                  <tr>
                    <th>Revision</th>
                    <th>Package</th>
                    <th>Created</th>
                    <th>Compare</th>
                    <th>
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((r) => (
                    <tr key={r.revision}>
                      <td className="num">
                        {r.revision}
                        {r.revision === d.revision && <span className="chip">current</span>}
                        {r.revision === d.stableRevision && <span className="chip">stable</span>}
                      </td>
                      <td className="mono">
                        {r.package}@{r.version}
                      </td>
                      <td>{r.createdAt ? <Time iso={r.createdAt} /> : '—'}</td>
                      <td>
                        <label className="small">
                          <input type="radio" name="rev-a" checked={left?.revision === r.revision} onChange={() => setA(r.revision)} /> from
                        </label>{' '}
                        <label className="small">
                          <input type="radio" name="rev-b" checked={right?.revision === r.revision} onChange={() => setB(r.revision)} /> to
                        </label>
                      </td>
                      <td>
                        {writer && r.revision !== d.revision && (
                          <ConfirmButton
                            label={`Roll back to ${r.revision}`}
                            title={`Roll back ${d.name} to revision ${r.revision}?`}
                            body={`${r.package}@${r.version} goes out again as a staged rollout under the deployment's rollout policy.`}
                            onConfirm={async () => {
                              const res = await api<{ id?: string; rollout?: string | { id: string } }>(`/api/v1/deployments/${seg(d.name)}/rollback`, { method: 'POST', body: { toRevision: r.revision } });
                              await qc.invalidateQueries({ queryKey: ['deployments'] });
                              await qc.invalidateQueries({ queryKey: ['rollouts'] });
                              const rolloutId = typeof res.rollout === 'string' ? res.rollout : (res.rollout?.id ?? res.id);
                              if (rolloutId) navigate(`/rollouts/${seg(rolloutId)}`);
                            }}
                          />
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {left && right && left !== right && (
                <div>
                  <h3 className="small">
                    Revision {left.revision} → {right.revision}
                  </h3>
                  <pre className="diff" aria-label="Differences between the revisions">
                    {diffLines(revisionText(left), revisionText(right)).map((l, i) => (
                      <span key={i} className={`diff-${l.kind}`}>
                        {l.kind === 'add' ? '+ ' : l.kind === 'del' ? '- ' : '  '}
                        {l.text}
                        {'\n'}
                      </span>
                    ))}
                  </pre>
                </div>
              )}
            </>
          );
        }}
      </Query>
    </section>
  );
}

interface FormState {
  name: string;
  package: string;
  version: string;
  selector: string;
  values: string;
  desiredState: 'running' | 'stopped';
  promote: '' | 'manual' | 'auto';
  canary: string;
  batches: string;
  maxInFlight: string;
  errorBudget: string;
  onFailure: '' | 'pause' | 'rollback';
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function validate(f: FormState): Record<string, string> {
  const e: Record<string, string> = {};
  if (!NAME.test(f.name)) e.name = 'Lowercase letters, digits and ._- (at most 63), starting with a letter or digit.';
  if (!f.package) e.package = 'Choose a published package.';
  if (!f.version) e.version = 'Choose a version.';
  for (const line of f.values.split('\n')) if (line.trim() && !line.includes('=')) e.values = `"${line.trim()}" is not key=value.`;
  if (f.batches && !(Number.isInteger(Number(f.batches)) && Number(f.batches) >= 1 && Number(f.batches) <= 100)) e.batches = 'A whole number from 1 to 100.';
  for (const k of ['canary', 'maxInFlight', 'errorBudget'] as const) if (f[k] && !/^\d+%?$/.test(f[k])) e[k] = 'A count (3) or a percentage (10%).';
  return e;
}

const FORM_FIELDS: readonly (keyof FormState)[] = ['name', 'package', 'version', 'selector', 'values', 'desiredState', 'promote', 'canary', 'batches', 'maxInFlight', 'errorBudget', 'onFailure'];

/** The form field for the request field the server named (`policy.canary` → canary, `secretValues.x` → values); null: shown under the form. */
function formFieldOf(field: string | null): keyof FormState | null {
  const [top = '', sub = ''] = (field ?? '').split('.');
  const key = top === 'policy' || top === 'rollout' ? sub : top === 'secretValues' ? 'values' : top;
  return FORM_FIELDS.find((k) => k === key) ?? null;
}

export function DeploymentEditPage({ name }: { name?: string }) {
  const qc = useQueryClient();
  const existing = useQuery({ queryKey: ['deployments', 'one', name], queryFn: () => api<Deployment>(`/api/v1/deployments/${seg(name!)}`), enabled: !!name });
  const packages = useQuery({ queryKey: ['packages'], queryFn: () => api<{ packages: Package[] }>('/api/v1/packages') });
  const [f, setF] = useState<FormState>({ name: '', package: '', version: '', selector: '', values: '', desiredState: 'running', promote: '', canary: '', batches: '', maxInFlight: '', errorBudget: '', onFailure: '' });
  const [serverError, setServerError] = useState<{ field: string | null; message: string } | null>(null);
  const [touched, setTouched] = useState(false);
  useEffect(() => {
    const d = existing.data;
    if (!d) return;
    const p = d.policy as Record<string, unknown>;
    const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));
    setF({ name: d.name, package: d.package, version: d.version, selector: d.selector, values: Object.entries(d.values).map(([k, v]) => `${k}=${v}`).join('\n'), desiredState: d.desiredState, promote: str(p.promote) as FormState['promote'], canary: str(p.canary), batches: str(p.batches), maxInFlight: str(p.maxInFlight), errorBudget: str(p.errorBudget), onFailure: str(p.onFailure) as FormState['onFailure'] });
  }, [existing.data]);
  const matching = useQuery({
    queryKey: ['agents', 'count', f.selector],
    queryFn: () => api<AgentList>(`/api/v1/agents${qs({ selector: f.selector, limit: 1 })}`),
    retry: false,
  });
  const errors = { ...(touched ? validate(f) : {}) };
  if (serverError?.field) errors[serverError.field] = serverError.message;
  if (matching.error instanceof ApiError && matching.error.status === 400) errors.selector = matching.error.message;
  const set = (k: keyof FormState) => (e: { target: { value: string } }) => setF((old) => ({ ...old, [k]: e.target.value }));
  const names = [...new Set((packages.data?.packages ?? []).map((p) => p.name))].sort();
  const versions = [...new Set((packages.data?.packages ?? []).filter((p) => p.name === f.package).map((p) => p.version))];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setServerError(null);
    if (Object.keys(validate(f)).length > 0) return;
    const values = Object.fromEntries(
      f.values
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1)]),
    );
    const policy: Record<string, unknown> = {};
    if (f.promote) policy.promote = f.promote;
    if (f.canary) policy.canary = f.canary;
    if (f.batches) policy.batches = Number(f.batches);
    if (f.maxInFlight) policy.maxInFlight = f.maxInFlight;
    if (f.errorBudget) policy.errorBudget = f.errorBudget;
    if (f.onFailure) policy.onFailure = f.onFailure;
    try {
      await api('/api/v1/deployments', { method: 'POST', body: { name: f.name, package: f.package, version: f.version, selector: f.selector, values, desiredState: f.desiredState, ...(Object.keys(policy).length ? { policy } : {}) } });
      await qc.invalidateQueries({ queryKey: ['deployments'] });
      await qc.invalidateQueries({ queryKey: ['rollouts'] });
      navigate(`/deployments/${seg(f.name)}`);
    } catch (err) {
      setServerError({ field: err instanceof ApiError ? formFieldOf(err.field) : null, message: (err as Error).message });
    }
  };
  const field = (k: keyof FormState, label: string, input: ReactNode, hint?: ReactNode) => (
    <div className="field">
      <label htmlFor={`f-${k}`}>{label}</label>
      {input}
      {hint && !errors[k] && <p className="muted small">{hint}</p>}
      {errors[k] && (
        <p id={`f-${k}-error`} className="field-error" role="alert">
          {errors[k]}
        </p>
      )}
    </div>
  );
  const aria = (k: string) => ({ 'aria-invalid': errors[k] ? true : undefined, 'aria-describedby': errors[k] ? `f-${k}-error` : undefined });
  return (
    <section className="page">
      <p className="crumbs">
        <Link href="/deployments">Deployments</Link> / {name ? 'edit' : 'new'}
      </p>
      <h1>{name ? `Change ${name}` : 'New deployment'}</h1>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        {field('name', 'Name', <input id="f-name" className="mono" value={f.name} onChange={set('name')} disabled={!!name} {...aria('name')} />)}
        {field(
          'package',
          'Package',
          <select id="f-package" value={f.package} onChange={(e) => setF((o) => ({ ...o, package: e.target.value, version: '' }))} {...aria('package')}>
            <option value="">Choose…</option>
            {names.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>,
        )}
        {field(
          'version',
          'Version',
          <select id="f-version" value={f.version} onChange={set('version')} {...aria('version')}>
            <option value="">Choose…</option>
            {versions.map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>,
        )}
        {field(
          'selector',
          'Selector',
          <input id="f-selector" className="mono" value={f.selector} onChange={set('selector')} placeholder="env=prod" {...aria('selector')} />,
          matching.data ? `${(matching.data.total ?? matching.data.agents.length).toLocaleString()} agents match now` : 'every agent when empty',
        )}
        {field('values', 'Values (key=value, one per line)', <textarea id="f-values" className="mono" rows={4} value={f.values} onChange={set('values')} {...aria('values')} />)}
        {field(
          'desiredState',
          'Run state',
          <select id="f-desiredState" value={f.desiredState} onChange={set('desiredState')}>
            <option value="running">running</option>
            <option value="stopped">stopped</option>
          </select>,
        )}
        <fieldset>
          <legend>Rollout policy (empty: the server's defaults)</legend>
          {field(
            'promote',
            'Promote after canary',
            <select id="f-promote" value={f.promote} onChange={set('promote')}>
              <option value="">default</option>
              <option value="manual">manual</option>
              <option value="auto">auto</option>
            </select>,
          )}
          {field('canary', 'Canary', <input id="f-canary" value={f.canary} onChange={set('canary')} placeholder="1 or 10%" {...aria('canary')} />)}
          {field('batches', 'Batches', <input id="f-batches" inputMode="numeric" value={f.batches} onChange={set('batches')} {...aria('batches')} />)}
          {field('maxInFlight', 'Max in flight', <input id="f-maxInFlight" value={f.maxInFlight} onChange={set('maxInFlight')} placeholder="25%" {...aria('maxInFlight')} />)}
          {field('errorBudget', 'Error budget', <input id="f-errorBudget" value={f.errorBudget} onChange={set('errorBudget')} placeholder="0" {...aria('errorBudget')} />)}
          {field(
            'onFailure',
            'On failure',
            <select id="f-onFailure" value={f.onFailure} onChange={set('onFailure')}>
              <option value="">default</option>
              <option value="pause">pause</option>
              <option value="rollback">roll back</option>
            </select>,
          )}
        </fieldset>
        {serverError && !serverError.field && (
          <p className="field-error" role="alert">
            {serverError.message}
          </p>
        )}
        <div className="actions">
          <button type="submit" className="primary">
            {name ? 'Save and roll out' : 'Create'}
          </button>
          <Link className="button" href={name ? `/deployments/${seg(name)}` : '/deployments'}>
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}
