/**
 * Fleet: every agent in a virtualized table (no row cap; pages load as it
 * scrolls), counts by status, facets, a selector box that shows the API's
 * parse error inline, free-text search, and bulk actions (label, exec) on a
 * selection: agents picked one by one, or all matching the filter. Filters,
 * sort and selection live in the URL (`sel=` ids, or `selall=1`).
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { ApiError, seg } from '../api/client';
import type { Agent } from '../api/types';
import { useFacets, useFleet, type FleetFilter, type SortKey } from '../fleet-data';
import { useQueryState } from '../router';
import { Link } from '../components/link';
import { Status } from '../components/status';
import { Time } from '../components/time';
import { ErrorBox, Loading } from '../components/states';
import { BulkBar, MAX_SELECTED, type Selection } from '../components/bulk-actions';
import { can, useMe } from '../me';

const ROW_HEIGHT = 36;
const SORTS: SortKey[] = ['name', '-name', 'lastSeen', '-lastSeen', 'status', '-status'];
/** Selections beyond this are not kept in the URL (it would not fit); bulk actions use the selector instead. */

/** A text box that commits its value after a pause or on Enter. */
function useDebounced(value: string, commit: (v: string) => void, ms = 350) {
  const [text, setText] = useState(value);
  const latest = useRef(commit);
  latest.current = commit;
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const t = setTimeout(() => latest.current(text), ms);
    return () => clearTimeout(t);
  }, [text, value, ms]);
  return [text, setText, () => latest.current(text)] as const;
}

export function FleetPage() {
  const [params, setParams] = useQueryState();
  const filter: FleetFilter = {
    selector: params.get('selector') ?? '',
    q: params.get('q') ?? '',
    status: params.get('status') ?? '',
    sort: (SORTS as string[]).includes(params.get('sort') ?? '') ? (params.get('sort') as SortKey) : 'name',
  };
  const selected = useMemo(() => new Set((params.get('sel') ?? '').split(',').filter(Boolean).slice(0, MAX_SELECTED)), [params]);
  const selectAll = params.get('selall') === '1';
  const me = useMe();
  const selectable = can(me.data, 'label') || can(me.data, 'exec');
  const fleet = useFleet(filter);
  const first = fleet.data?.pages[0];
  const facets = useFacets(filter, first !== undefined || fleet.error !== null, first && !first.paged ? first.all : undefined);
  const rows = useMemo(() => fleet.data?.pages.flatMap((p) => p.agents) ?? [], [fleet.data]);
  const total = first?.total ?? 0;
  const selection: Selection = selectAll ? { kind: 'all', filter, count: total, online: facets.data?.byStatus.online ?? 0 } : { kind: 'ids', ids: [...selected] };
  const names = useMemo(() => new Map(rows.map((a) => [a.id, a.name || a.id])), [rows]);

  const [selectorText, setSelectorText, commitSelector] = useDebounced(filter.selector, (v) => setParams({ selector: v.trim() || null }));
  const [searchText, setSearchText, commitSearch] = useDebounced(filter.q, (v) => setParams({ q: v.trim() || null }));
  const selectorError = fleet.error instanceof ApiError && fleet.error.status === 400 ? fleet.error.message : null;

  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 12 });
  const items = virtual.getVirtualItems();
  const lastIndex = items.length > 0 ? items[items.length - 1]!.index : -1;
  useEffect(() => {
    if (lastIndex >= rows.length - 50 && fleet.hasNextPage && !fleet.isFetchingNextPage) void fleet.fetchNextPage();
  }, [lastIndex, rows.length, fleet]);

  const setSort = (key: 'name' | 'lastSeen' | 'status') => setParams({ sort: filter.sort === key ? `-${key}` : key === 'name' ? null : key });
  const sortMark = (key: string) => (filter.sort === key ? 'ascending' : filter.sort === `-${key}` ? 'descending' : 'none');
  const toggle = (id: string) => {
    if (selectAll) return;
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else if (next.size < MAX_SELECTED) next.add(id);
    setParams({ sel: [...next].join(',') || null });
  };
  const addTerm = (term: string) => {
    const current = filter.selector.trim();
    const terms = current ? current.split(',').map((t) => t.trim()) : [];
    if (!terms.includes(term)) setParams({ selector: [...terms, term].join(',') });
  };

  return (
    <section className="page fleet">
      <div className="page-head">
        <h1>Fleet</h1>
        <div className="counts" aria-label="Agents by status">
          <button type="button" className={`count-chip${filter.status === '' ? ' active' : ''}`} onClick={() => setParams({ status: null })}>
            All <strong>{facets.data?.total ?? total}</strong>
          </button>
          {(['online', 'offline', 'pending', 'revoked'] as const).map((s) => (
            <button key={s} type="button" className={`count-chip${filter.status === s ? ' active' : ''}`} aria-pressed={filter.status === s} onClick={() => setParams({ status: filter.status === s ? null : s })}>
              <Status value={s} /> <strong>{facets.data?.byStatus[s] ?? 0}</strong>
            </button>
          ))}
        </div>
      </div>
      <div className="filters">
        <div className="field grow">
          <label htmlFor="selector">Selector</label>
          <input
            id="selector"
            className="mono"
            placeholder="env=prod,cluster in (a,b),!canary"
            value={selectorText}
            spellCheck={false}
            onChange={(e) => setSelectorText(e.target.value)}
            onKeyDown={(e) => e.key === 'Enter' && commitSelector()}
            aria-invalid={selectorError ? true : undefined}
            aria-describedby={selectorError ? 'selector-error' : undefined}
          />
          {selectorError && (
            <p id="selector-error" className="field-error" role="alert">
              {selectorError}
            </p>
          )}
        </div>
        <div className="field grow">
          <label htmlFor="search">
            Search <kbd>/</kbd>
          </label>
          <input id="search" data-search type="search" placeholder="name, id, label, os, version" value={searchText} onChange={(e) => setSearchText(e.target.value)} onKeyDown={(e) => e.key === 'Enter' && commitSearch()} />
        </div>
      </div>
      {(first?.warnings.length ?? 0) > 0 && (
        <p className="warning" role="status">
          {first!.warnings.join(' ')}
        </p>
      )}
      <div className="fleet-body">
        <aside className="facets" aria-label="Facets">
          {facets.data && <FacetList facets={facets.data} onLabel={(k, v) => addTerm(`${k}=${v}`)} onText={(v) => setParams({ q: v })} />}
        </aside>
        <div className="table-wrap">
          {selectable && (selectAll || selected.size > 0) && <BulkBar selection={selection} names={names} onClear={() => setParams({ sel: null, selall: null })} />}
          <div className="vtable" role="table" aria-label="Agents" aria-rowcount={total + 1}>
            <div className="vrow head" role="row">
              <span role="columnheader" className="c-sel">
                {selectable ? (
                  <input type="checkbox" checked={selectAll} onChange={() => setParams({ selall: selectAll ? null : '1', sel: null })} aria-label={`Select all ${total} agents matching the filter`} title="Select all matching the filter" />
                ) : (
                  <span className="sr-only">Selected</span>
                )}
              </span>
              <span role="columnheader" aria-sort={sortMark('name')}>
                <button type="button" className="sort" onClick={() => setSort('name')}>
                  Name
                </button>
              </span>
              <span role="columnheader" aria-sort={sortMark('status')}>
                <button type="button" className="sort" onClick={() => setSort('status')}>
                  Status
                </button>
              </span>
              <span role="columnheader">Health</span>
              <span role="columnheader">Labels</span>
              <span role="columnheader">OS / arch</span>
              <span role="columnheader">Version</span>
              <span role="columnheader">Config</span>
              <span role="columnheader" aria-sort={sortMark('lastSeen')}>
                <button type="button" className="sort" onClick={() => setSort('lastSeen')}>
                  Last seen
                </button>
              </span>
            </div>
            {fleet.isLoading && <Loading what="agents" />}
            {fleet.error && !selectorError && <ErrorBox error={fleet.error} retry={() => void fleet.refetch()} />}
            {!fleet.isLoading && !fleet.error && rows.length === 0 && (
              <div className="state empty">{filter.selector || filter.q || filter.status ? 'No agent matches these filters.' : 'No agents yet. Start one with `corral agent --server <url> --token <enrollment token>`.'}</div>
            )}
            <div ref={scroller} className="vbody" data-testid="fleet-scroller">
              <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
                {items.map((item) => {
                  const a = rows[item.index]!;
                  return <AgentRow key={a.id} agent={a} top={item.start} index={item.index} selectable={selectable} locked={selectAll} selected={selectAll || selected.has(a.id)} onToggle={() => toggle(a.id)} />;
                })}
              </div>
            </div>
          </div>
          <p className="muted small table-foot" aria-live="polite">
            {rows.length.toLocaleString()} of {total.toLocaleString()} agents loaded{fleet.isFetchingNextPage ? ', loading more…' : ''}
          </p>
        </div>
      </div>
    </section>
  );
}

function AgentRow(props: { agent: Agent; top: number; index: number; selectable: boolean; locked: boolean; selected: boolean; onToggle: () => void }) {
  const { agent: a, top, index, selected, onToggle } = props;
  const labels = Object.entries(a.labels);
  return (
    <div className={`vrow${selected ? ' selected' : ''}`} role="row" aria-rowindex={index + 2} style={{ transform: `translateY(${top}px)`, height: ROW_HEIGHT }}>
      <span role="cell" className="c-sel">
        {props.selectable && <input type="checkbox" checked={selected} disabled={props.locked} onChange={onToggle} aria-label={`Select ${a.name || a.id}`} />}
      </span>
      <span role="cell" className="ellipsis">
        <Link href={`/agents/${seg(a.id)}`}>{a.name || a.id}</Link>
      </span>
      <span role="cell">
        <Status value={a.approval === 'pending' ? 'pending' : a.status} label={a.approval === 'pending' ? 'pending approval' : a.status} />
      </span>
      <span role="cell">{a.health ? <Status value={a.health.healthy ? 'healthy' : 'unhealthy'} /> : <span className="muted">—</span>}</span>
      <span role="cell" className="labels ellipsis" title={labels.map(([k, v]) => `${k}=${v}`).join(', ')}>
        {labels.map(([k, v]) => (
          <span key={k} className="chip">
            {k}={v}
          </span>
        ))}
      </span>
      <span role="cell" className="ellipsis">
        {a.os || '—'}/{a.arch || '—'}
      </span>
      <span role="cell" className="ellipsis mono">
        {a.agentVersion || '—'}
      </span>
      <span role="cell">
        <Status value={a.config.status === 'FAILED' ? 'failed' : a.config.status === 'APPLIED' ? 'applied' : a.config.status.toLowerCase()} label={a.config.status.toLowerCase()} />
      </span>
      <span role="cell">
        <Time iso={a.lastSeenAt} />
      </span>
    </div>
  );
}

function FacetList({ facets, onLabel, onText }: { facets: NonNullable<ReturnType<typeof useFacets>['data']>; onLabel: (k: string, v: string) => void; onText: (v: string) => void }) {
  const group = (title: string, entries: [string, number][], click: (v: string) => void) => (
    <details key={title} open>
      <summary>{title}</summary>
      <ul>
        {entries
          .sort((x, y) => y[1] - x[1])
          .slice(0, 20)
          .map(([v, n]) => (
            <li key={v}>
              <button type="button" className="facet" onClick={() => click(v)}>
                <span className="ellipsis">{v}</span> <span className="muted">{n}</span>
              </button>
            </li>
          ))}
      </ul>
    </details>
  );
  return (
    <>
      {Object.entries(facets.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .slice(0, 30)
        .map(([k, values]) => group(k, Object.entries(values), (v) => onLabel(k, v)))}
      {group('OS', Object.entries(facets.os), onText)}
      {group('Agent version', Object.entries(facets.version), onText)}
    </>
  );
}
