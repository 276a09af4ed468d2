/**
 * A small client-side router on the History API: pages are paths, filters
 * and selections live in the query string, so every view is a shareable
 * URL. navigate() and the browser's back/forward notify subscribers.
 */
import { useCallback, useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());
window.addEventListener('popstate', notify);

function subscribe(l: () => void) {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  notify();
}

export function useLocation(): { path: string; search: string } {
  const href = useSyncExternalStore(subscribe, () => location.pathname + location.search);
  const q = href.indexOf('?');
  return { path: q < 0 ? href : href.slice(0, q), search: q < 0 ? '' : href.slice(q) };
}

/** Matches `/agents/:id`-style patterns; params are decoded. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/');
  const s = path.replace(/\/+$/, '').split('/');
  if (p.length !== s.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(':')) {
      try {
        out[p[i]!.slice(1)] = decodeURIComponent(s[i]!);
      } catch {
        return null;
      }
    } else if (p[i] !== s[i]) return null;
  }
  return out;
}

/** The query string as an object, and a setter that merges changes into the URL (null removes a key). */
export function useQueryState(): [URLSearchParams, (changes: Record<string, string | null>, opts?: { push?: boolean }) => void] {
  const { search } = useLocation();
  const params = new URLSearchParams(search);
  const set = useCallback((changes: Record<string, string | null>, opts: { push?: boolean } = {}) => {
    const next = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === '') next.delete(k);
      else next.set(k, v);
    }
    const q = next.toString();
    navigate(location.pathname + (q ? `?${q}` : ''), { replace: !opts.push });
  }, []);
  return [params, set];
}
