/**
 * The audit log for the console: pages of records newest first
 * (`GET /api/v1/audit?until=`), new ones from the follow stream
 * (`GET /api/v1/audit/follow`, SSE, resumed after the last id seen), and the
 * hash-chain check (`GET /api/v1/audit/verify`). The API filters by user,
 * outcome and time (the outcome again here, for a server older than that
 * filter).
 */
import { useEffect, useRef, useState } from 'react';
import { useInfiniteQuery } from '@tanstack/react-query';
import { api, qs } from './api/client';
import { readSse } from './api/sse';
import type { AuditRecord, AuditVerify } from './api/types';

export type { AuditRecord, AuditVerify } from './api/types';

export interface AuditFilter {
  user: string;
  /** 'ok' | 'denied' | 'error', '' for any. */
  outcome: string;
  /** ISO instants, '' for open ends. */
  since: string;
  until: string;
}

export const AUDIT_PAGE = 500;
/** Records the page holds at most (older ones are not loaded beyond this). */
export const MAX_AUDIT_RECORDS = 20_000;
const MAX_LIVE = 5_000;
const MAX_BACKOFF_MS = 10_000;

/**
 * Pages newest first: each asks for records before the oldest one loaded.
 * Records sharing that millisecond are asked for again (until = its time + 1
 * ms) and dropped as duplicates by id, unless a whole page shares one
 * millisecond (then the next page starts before it, so paging always moves).
 */
export function useAuditPages(f: AuditFilter) {
  const sinceMs = f.since ? Date.parse(f.since) : -Infinity;
  return useInfiniteQuery({
    queryKey: ['audit', 'list', f],
    initialPageParam: f.until,
    queryFn: ({ pageParam, signal }) => api<{ records: AuditRecord[] }>(`/api/v1/audit${qs({ user: f.user, outcome: f.outcome, until: pageParam, limit: AUDIT_PAGE })}`, { signal }),
    getNextPageParam: (last, all) => {
      const oldest = last.records[0];
      if (!oldest || last.records.length < AUDIT_PAGE) return undefined;
      const oldestMs = Date.parse(oldest.at);
      if (oldestMs < sinceMs || all.length * AUDIT_PAGE >= MAX_AUDIT_RECORDS) return undefined;
      const newestMs = Date.parse(last.records.at(-1)!.at);
      return new Date(newestMs === oldestMs ? oldestMs : oldestMs + 1).toISOString();
    },
  });
}

/** New records as the server appends them (newest first), while `enabled`; resumes after the last id seen. */
export function useAuditFollow(f: AuditFilter, afterId: number | undefined, enabled: boolean): AuditRecord[] {
  const [records, setRecords] = useState<AuditRecord[]>([]);
  const after = useRef(afterId);
  after.current = Math.max(after.current ?? 0, afterId ?? 0);
  const ready = enabled && afterId !== undefined;
  useEffect(() => {
    setRecords([]);
    if (!ready) return;
    const abort = new AbortController();
    void (async () => {
      let backoff = 500;
      while (!abort.signal.aborted) {
        try {
          await readSse(`/api/v1/audit/follow${qs({ user: f.user, outcome: f.outcome, since: f.since, after: after.current })}`, {
            signal: abort.signal,
            onOpen: () => (backoff = 500),
            onMessage: (m) => {
              if (m.event !== 'record') return;
              const r = JSON.parse(m.data) as AuditRecord;
              if (r.id <= (after.current ?? 0)) return;
              after.current = r.id;
              setRecords((prev) => [r, ...prev].slice(0, MAX_LIVE));
            },
          });
        } catch {
          if (abort.signal.aborted) return;
        }
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    })();
    return () => abort.abort();
  }, [f.user, f.outcome, f.since, ready]);
  return records;
}

export const verifyAudit = () => api<AuditVerify>('/api/v1/audit/verify');
