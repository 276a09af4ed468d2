/** Loading, empty and error states, the same on every page. */
import type { ReactNode } from 'react';
import { ApiError } from '../api/client';

export function Loading({ what }: { what: string }) {
  return (
    <div className="state" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state empty">{children}</div>;
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  const message = error instanceof ApiError ? `${error.message} (${error.code})` : error instanceof Error ? error.message : String(error);
  return (
    <div className="state error" role="alert">
      <strong>Could not load this.</strong> <span>{message}</span>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Renders a query's three states, or its data. */
export function Query<T>({ q, what, children }: { q: { data: T | undefined; error: unknown; isLoading: boolean; refetch: () => unknown }; what: string; children: (data: T) => ReactNode }) {
  if (q.isLoading) return <Loading what={what} />;
  if (q.error) return <ErrorBox error={q.error} retry={() => void q.refetch()} />;
  if (q.data === undefined) return <Loading what={what} />;
  return <>{children(q.data)}</>;
}
