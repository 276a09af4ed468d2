/**
 * Audit log: every write through the API (who, from where, what, on what,
 * and whether it was allowed), newest first in a virtualized list that loads
 * older pages as it scrolls; filters (user, outcome, time range) in the URL;
 * new records arrive live; "Verify chain" walks the hash chain on the server.
 * Only for admins bound to the whole fleet (the nav hides it from others).
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useAuditFollow, useAuditPages, verifyAudit, MAX_AUDIT_RECORDS, type AuditFilter, type AuditRecord, type AuditVerify } from '../audit-data';
import { useQueryState } from '../router';
import { Status } from '../components/status';
import { Time } from '../components/time';
import { ErrorBox, Loading } from '../components/states';
import { TimeRange } from '../components/time-range';

const ROW_HEIGHT = 40;
const OUTCOMES = ['ok', 'denied', 'error'] as const;

/** `key=value` pairs of a record's target or summary, as one line of text. */
function pairs(o: Record<string, unknown>): string {
  return Object.entries(o)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

export function AuditPage() {
  const [params, setParams] = useQueryState();
  const outcome = params.get('outcome') ?? '';
  const filter: AuditFilter = { user: params.get('user') ?? '', outcome, since: params.get('since') ?? '', until: params.get('until') ?? '' };
  const pages = useAuditPages(filter);
  const loaded = useMemo(() => {
    const seen = new Set<number>();
    const out: AuditRecord[] = [];
    for (const p of pages.data?.pages ?? []) {
      for (const r of [...p.records].reverse()) {
        if (seen.has(r.id)) continue;
        seen.add(r.id);
        out.push(r);
      }
    }
    return out;
  }, [pages.data]);
  // Live only for an open-ended range: a fixed `until` is history.
  const live = useAuditFollow(filter, pages.data ? (loaded[0]?.id ?? 0) : undefined, !filter.until);
  const sinceMs = filter.since ? Date.parse(filter.since) : -Infinity;
  const rows = useMemo(() => {
    const newest = loaded[0]?.id ?? 0;
    return [...live.filter((r) => r.id > newest), ...loaded].filter((r) => Date.parse(r.at) >= sinceMs && (!outcome || r.outcome.result === outcome));
  }, [live, loaded, sinceMs, outcome]);

  const [user, setUser] = useState(filter.user);
  useEffect(() => setUser(filter.user), [filter.user]);

  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 12 });
  const items = virtual.getVirtualItems();
  const lastIndex = items.length > 0 ? items[items.length - 1]!.index : -1;
  useEffect(() => {
    if (lastIndex >= rows.length - 50 && pages.hasNextPage && !pages.isFetchingNextPage) void pages.fetchNextPage();
  }, [lastIndex, rows.length, pages]);

  return (
    <section className="page audit">
      <div className="page-head">
        <h1>Audit log</h1>
        <VerifyChain />
      </div>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setParams({ user: user.trim() || null });
        }}
      >
        <div className="field">
          <label htmlFor="au-user">User</label>
          <input id="au-user" data-search className="mono" value={user} placeholder="alice" onChange={(e) => setUser(e.target.value)} onBlur={() => setParams({ user: user.trim() || null })} />
        </div>
        <div className="field">
          <label htmlFor="au-outcome">Outcome</label>
          <select id="au-outcome" value={outcome} onChange={(e) => setParams({ outcome: e.target.value || null })}>
            <option value="">any</option>
            {OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </div>
        <TimeRange idPrefix="au" />
        <button type="submit" className="sr-only">
          Apply filters
        </button>
      </form>
      <div className="vtable" role="table" aria-label="Audit records" aria-rowcount={rows.length + 1}>
        <div className="vrow audit-row head" role="row">
          <span role="columnheader">Time</span>
          <span role="columnheader">User</span>
          <span role="columnheader">Source</span>
          <span role="columnheader">Action</span>
          <span role="columnheader">Target</span>
          <span role="columnheader">Outcome</span>
          <span role="columnheader">Summary</span>
        </div>
        {pages.isLoading && <Loading what="audit records" />}
        {pages.error && <ErrorBox error={pages.error} retry={() => void pages.refetch()} />}
        {!pages.isLoading && !pages.error && rows.length === 0 && <div className="state empty">{filter.user || outcome || filter.since || filter.until ? 'No audit record matches these filters.' : 'No audit records yet: every write through the API is recorded here.'}</div>}
        {/* Focusable, so a keyboard can scroll it: the rows hold no link or control to tab to. */}
        <div ref={scroller} className="vbody" data-testid="audit-scroller" role="rowgroup" tabIndex={0}>
          <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
            {items.map((item) => (
              <AuditRow key={rows[item.index]!.id} r={rows[item.index]!} top={item.start} index={item.index} />
            ))}
          </div>
        </div>
      </div>
      <p className="muted small table-foot" aria-live="polite">
        {rows.length.toLocaleString()} record{rows.length === 1 ? '' : 's'} shown of {loaded.length.toLocaleString()} loaded{live.length > 0 ? ` (+${live.length} live)` : ''}
        {pages.isPending ? ', loading…' : pages.isFetchingNextPage ? ', loading older…' : pages.hasNextPage ? '' : loaded.length >= MAX_AUDIT_RECORDS ? `; narrow the filters to see older records` : '; no older records'}
        {pages.hasNextPage && !pages.isFetchingNextPage && (
          <>
            {' '}
            <button type="button" className="link" onClick={() => void pages.fetchNextPage()}>
              Load older
            </button>
          </>
        )}
      </p>
    </section>
  );
}

function AuditRow({ r, top, index }: { r: AuditRecord; top: number; index: number }) {
  const target = pairs(r.target);
  const summary = [pairs(r.summary), r.outcome.message].filter(Boolean).join(' — ');
  return (
    <div className="vrow audit-row" role="row" aria-rowindex={index + 2} style={{ transform: `translateY(${top}px)`, height: ROW_HEIGHT }}>
      <span role="cell">
        <Time iso={r.at} />
      </span>
      <span role="cell" className="ellipsis" title={r.actor.name}>
        {r.actor.name || '—'}
      </span>
      <span role="cell" className="ellipsis mono small" title={r.source}>
        {r.source || 'server'}
      </span>
      <span role="cell" className="ellipsis mono small" title={r.action}>
        {r.action}
      </span>
      <span role="cell" className="ellipsis mono small" title={target}>
        {target || '—'}
      </span>
      <span role="cell">
        <Status value={r.outcome.result} label={`${r.outcome.result} ${r.outcome.status}`} />
      </span>
      <span role="cell" className="ellipsis mono small" title={summary}>
        {summary || '—'}
      </span>
    </div>
  );
}

function VerifyChain() {
  const [state, setState] = useState<{ busy: boolean; result?: AuditVerify; error?: string }>({ busy: false });
  const run = async () => {
    setState({ busy: true });
    try {
      setState({ busy: false, result: await verifyAudit() });
    } catch (err) {
      setState({ busy: false, error: (err as Error).message });
    }
  };
  const r = state.result;
  return (
    <div className="verify">
      <button type="button" onClick={() => void run()} disabled={state.busy}>
        {state.busy ? 'Verifying…' : 'Verify chain'}
      </button>
      <span role="status" data-testid="verify-result">
        {state.error && <span className="field-error">Could not verify: {state.error}</span>}
        {r?.ok && (
          <>
            <Status value="ok" label="chain intact" /> {r.records.toLocaleString()} records{r.firstId !== null && r.head ? ` (#${r.firstId}–#${r.head.id}, head ${r.head.hash.slice(0, 12)}…)` : ''}
          </>
        )}
        {r && !r.ok && <Status value="error" label={`chain broken at record #${r.failure?.id ?? '?'}: ${r.failure?.reason ?? 'unknown'}`} />}
      </span>
    </div>
  );
}
