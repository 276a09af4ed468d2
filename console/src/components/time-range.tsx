/**
 * "From" and "Until" fields (the browser's date-time picker, in local time)
 * for a time range kept in the URL as ISO instants (`since`, `until`).
 */
import { useQueryState } from '../router';

/** A `datetime-local` value (local time, minutes) for an ISO instant. */
function toLocalInput(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  return new Date(t - new Date(t).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/** The ISO instant for a `datetime-local` value, null for empty. */
function fromLocalInput(v: string): string | null {
  const t = Date.parse(v);
  return v && !Number.isNaN(t) ? new Date(t).toISOString() : null;
}

export function TimeRange({ idPrefix }: { idPrefix: string }) {
  const [params, setParams] = useQueryState();
  return (
    <>
      {(['since', 'until'] as const).map((key) => (
        <div className="field" key={key}>
          <label htmlFor={`${idPrefix}-${key}`}>{key === 'since' ? 'From' : 'Until'}</label>
          <input id={`${idPrefix}-${key}`} type="datetime-local" value={toLocalInput(params.get(key) ?? '')} onChange={(e) => setParams({ [key]: fromLocalInput(e.target.value) })} />
        </div>
      ))}
    </>
  );
}
