/**
 * Bulk actions on the fleet page's selection: either agents picked one by
 * one (their ids in the URL) or every agent matching the current filter.
 *
 * - Label: sets, changes or removes (empty value) one operator label on each
 *   agent through `PATCH /api/v1/agents/{id}`, a few at a time, and lists
 *   the agents where it failed, with the server's reason.
 * - Exec: starts one job (`POST /api/v1/jobs`, which takes a selector) and
 *   opens its page. Picked agents are named exactly by the id the server
 *   holds for them (`corral.io/id in (...)`, never a claim another agent
 *   could make); "all matching" runs on the filter's selector, which is
 *   only possible when the filter is a selector alone (free-text search has
 *   no selector form). The confirmation says how many hosts.
 */
import { useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, qs, seg } from '../api/client';
import type { AgentList } from '../api/types';
import type { FleetFilter } from '../fleet-data';
import { navigate } from '../router';
import { can, useMe } from '../me';
import { ConfirmButton } from './confirm';
import { splitCommand } from './job-output';

export type Selection = { kind: 'ids'; ids: string[] } | { kind: 'all'; filter: FleetFilter; count: number; online: number };

/** Ids named in one exec selector at most: the API takes selectors up to 4096 characters. */
export const MAX_EXEC_IDS = 100;
/** Agents one "all matching" label action reaches at most. */
const MAX_BULK_LABEL = 10_000;
const PARALLEL = 8;

/** Every agent id the selection covers (for "all matching": paged from the API, at most MAX_BULK_LABEL). */
async function resolveIds(sel: Selection): Promise<string[]> {
  if (sel.kind === 'ids') return sel.ids;
  const f = sel.filter;
  const ids: string[] = [];
  let cursor = '';
  for (let page = 0; page < MAX_BULK_LABEL / 500; page++) {
    const list = await api<AgentList>(`/api/v1/agents${qs({ limit: 500, cursor, selector: f.selector, q: f.q, status: f.status, sort: 'name' })}`);
    ids.push(...list.agents.map((a) => a.id));
    if (!list.nextCursor || list.total === undefined) break;
    cursor = list.nextCursor;
  }
  return ids.slice(0, MAX_BULK_LABEL);
}

/** The job's selector and how many hosts it reaches, or why the selection cannot be one. */
export function execTarget(sel: Selection): { selector: string; hosts: string } | { error: string } {
  if (sel.kind === 'ids') {
    if (sel.ids.length > MAX_EXEC_IDS) return { error: `Exec names at most ${MAX_EXEC_IDS} picked agents; select all matching a selector instead.` };
    return { selector: `corral.io/id in (${sel.ids.join(',')})`, hosts: `the ${sel.ids.length} selected agent${sel.ids.length === 1 ? '' : 's'} (those online)` };
  }
  const f = sel.filter;
  if (f.q) return { error: 'Free-text search has no selector form: narrow the fleet with the selector box to run a command on all matching agents.' };
  if (f.status && f.status !== 'online') return { error: `Commands run on online agents only; the status filter is ${f.status}.` };
  return { selector: f.selector, hosts: `${sel.online} online agent${sel.online === 1 ? '' : 's'} matching ${f.selector ? `"${f.selector}"` : 'the whole fleet'}` };
}

/** Agents that can be ticked one by one (they travel in the URL); more are selected as "all matching". */
export const MAX_SELECTED = 200;

export function BulkBar({ selection, names, onClear }: { selection: Selection; names: Map<string, string>; onClear: () => void }) {
  const me = useMe();
  const count = selection.kind === 'ids' ? selection.ids.length : selection.count;
  return (
    <div className="bulk" role="region" aria-label="Bulk actions">
      <strong>{selection.kind === 'all' ? `All ${count.toLocaleString()} matching selected` : `${count} selected`}</strong>
      {selection.kind === 'ids' && count >= MAX_SELECTED && (
        <span role="status" className="muted">
          At most {MAX_SELECTED} can be ticked: narrow the filter and select all matching for more.
        </span>
      )}
      {can(me.data, 'label') && <BulkLabel selection={selection} names={names} />}
      {can(me.data, 'exec') && <BulkExec selection={selection} />}
      <button type="button" className="ghost" onClick={onClear}>
        Clear selection
      </button>
    </div>
  );
}

function BulkLabel({ selection, names }: { selection: Selection; names: Map<string, string> }) {
  const qc = useQueryClient();
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ done: number; failures: { id: string; message: string }[] } | null>(null);
  const apply = async () => {
    setBusy(true);
    setResult(null);
    const failures: { id: string; message: string }[] = [];
    let done = 0;
    try {
      const ids = await resolveIds(selection);
      for (let i = 0; i < ids.length; i += PARALLEL) {
        await Promise.all(
          ids.slice(i, i + PARALLEL).map((id) =>
            api(`/api/v1/agents/${seg(id)}`, { method: 'PATCH', body: { labels: { [key.trim()]: value === '' ? null : value } } }).then(
              () => done++,
              (err: unknown) => failures.push({ id, message: (err as Error).message }),
            ),
          ),
        );
      }
    } catch (err) {
      failures.push({ id: '', message: `listing the agents: ${(err as Error).message}` });
    }
    setBusy(false);
    setResult({ done, failures });
    await qc.invalidateQueries({ queryKey: ['agents'] });
  };
  return (
    <form
      className="bulk-form"
      onSubmit={(e) => {
        e.preventDefault();
        void apply();
      }}
    >
      <label>
        Label <input value={key} onChange={(e) => setKey(e.target.value)} placeholder="key" aria-label="Label key" required className="mono small-input" />
      </label>
      <label>
        = <input value={value} onChange={(e) => setValue(e.target.value)} placeholder="value" aria-label="Label value (empty removes the label)" className="mono small-input" />
      </label>
      <button type="submit" disabled={busy}>
        {busy ? 'Labelling…' : value === '' ? 'Remove label' : 'Set label'}
      </button>
      {result && (
        <div role="status" className="bulk-result">
          {result.failures.length === 0 ? (
            `Labelled ${result.done} agent${result.done === 1 ? '' : 's'}.`
          ) : (
            <details open>
              <summary className="field-error">
                {result.done} labelled, {result.failures.length} failed
              </summary>
              <ul className="small">
                {result.failures.slice(0, 50).map((f) => (
                  <li key={f.id || f.message}>
                    <span className="mono">{f.id ? (names.get(f.id) ?? f.id) : 'all'}</span>: {f.message}
                  </li>
                ))}
              </ul>
            </details>
          )}
        </div>
      )}
    </form>
  );
}

function BulkExec({ selection }: { selection: Selection }) {
  const [command, setCommand] = useState('');
  const target = execTarget(selection);
  const argv = splitCommand(command);
  if ('error' in target) return <span className="muted small">{target.error}</span>;
  return (
    <div className="bulk-form">
      <label>
        Command <input value={command} onChange={(e) => setCommand(e.target.value)} placeholder="uptime" className="mono small-input" />
      </label>
      <ConfirmButton
        label="Run on selection"
        title="Run a command on the selection"
        body={`Run "${argv.join(' ')}" on ${target.hosts}, 10 at a time, 60 s timeout each.`}
        confirmLabel="Run"
        disabled={argv.length === 0}
        onConfirm={async () => {
          const job = await api<{ id: string }>('/api/v1/jobs', { method: 'POST', body: { selector: target.selector, command: argv, maxConcurrency: '10', timeoutSeconds: 60 } });
          navigate(`/jobs/${seg(job.id)}`);
        }}
      />
    </div>
  );
}
