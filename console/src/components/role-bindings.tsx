/**
 * Role bindings (a role on the agents a selector matches, '' = the whole
 * fleet): shown as text, and edited as rows for a token narrowed to its own
 * roles (POST /api/v1/whoami/tokens `roles`). The server checks every row
 * (a known role, a selector that parses, within what the token in use may
 * do) and names what it refuses; the editor shows that beside the row or
 * the section it is about.
 */
import { useEffect, useId, useRef } from 'react';
import type { RoleBinding } from '../api/types';

/** The roles the API knows, lowest first (each includes the ones before it). */
export const ROLE_NAMES = ['viewer', 'operator', 'admin'] as const;
/** The server's bound on a token's (and a user's) bindings (src/server/users/limits.ts MAX_ROLES_PER_USER). */
export const MAX_BINDINGS = 32;
/** Quick picks offered at most; the rest are a row away. */
const MAX_QUICK = 8;

export function Binding({ b }: { b: RoleBinding }) {
  return (
    <>
      <strong>{b.role}</strong> on {b.selector === '' ? 'the whole fleet' : <code>{b.selector}</code>}
    </>
  );
}

export function RoleList({ roles }: { roles: RoleBinding[] }) {
  if (roles.length === 0) return <span className="muted">no roles</span>;
  return (
    <ul className="plain">
      {roles.map((r, i) => (
        <li key={i}>
          <Binding b={r} />
        </li>
      ))}
    </ul>
  );
}

/** One row being edited; `key` keeps React's identity (and focus) across removals. */
export interface BindingRow {
  key: number;
  role: string;
  selector: string;
}

/** Which row a 400 about `roles` is about, from the field the server names (`roles.1.selector`), else null: the whole section. */
export function rowOf(field: string | null): number | null {
  const m = /^roles\.(\d+)(\.|$)/.exec(field ?? '');
  return m ? Number(m[1]) : null;
}

/**
 * One-click bindings within `held` (what the token in use may do now): each
 * role up to the one held, on each held scope; lowest role first, the whole
 * fleet before a selector (so "viewer on the whole fleet" leads when held).
 */
export function quickPicks(held: RoleBinding[]): RoleBinding[] {
  const rank = (role: string) => ROLE_NAMES.indexOf(role as (typeof ROLE_NAMES)[number]);
  const scopes = [...held].sort((a, b) => Number(a.selector !== '') - Number(b.selector !== ''));
  const seen = new Set<string>();
  const out: RoleBinding[] = [];
  for (const role of ROLE_NAMES) {
    for (const h of scopes) {
      const k = `${role}\n${h.selector}`;
      if (rank(h.role) < rank(role) || seen.has(k)) continue;
      seen.add(k);
      out.push({ role, selector: h.selector });
    }
  }
  return out.slice(0, MAX_QUICK);
}

interface EditorProps {
  rows: BindingRow[];
  onChange: (rows: BindingRow[]) => void;
  /** What the token in use may do now: the quick picks. */
  held: RoleBinding[];
  /** The server's refusal about the roles as a whole, shown beside the section. */
  error?: string;
  /** The server's refusal about one row (by index), shown beside its selector. */
  rowError?: { index: number; message: string };
  /** What a token without rows does (the hint under the legend). */
  emptyMeans: string;
}

export function RolesEditor({ rows, onChange, held, error, rowError, emptyMeans }: EditorProps) {
  const base = useId();
  const nextKey = useRef(rows.reduce((m, r) => Math.max(m, r.key), 0) + 1);
  const addRef = useRef<HTMLButtonElement>(null);
  // Focus follows the keyboard: a new row's role, or Add once a row goes.
  const focusTo = useRef<number | 'add' | null>(null);
  const rowRefs = useRef(new Map<number, HTMLSelectElement>());
  useEffect(() => {
    const to = focusTo.current;
    focusTo.current = null;
    if (to === 'add') addRef.current?.focus();
    else if (to !== null) rowRefs.current.get(to)?.focus();
  });

  const full = rows.length >= MAX_BINDINGS;
  const add = (b: RoleBinding) => {
    if (full) return;
    const key = nextKey.current++;
    focusTo.current = key;
    onChange([...rows, { key, ...b }]);
  };
  const update = (key: number, change: Partial<BindingRow>) => onChange(rows.map((r) => (r.key === key ? { ...r, ...change } : r)));
  const remove = (key: number) => {
    focusTo.current = 'add';
    onChange(rows.filter((r) => r.key !== key));
  };
  const picks = quickPicks(held).filter((p) => !rows.some((r) => r.role === p.role && r.selector.trim() === p.selector));
  const hintId = `${base}-hint`;
  const errorId = `${base}-error`;

  return (
    <fieldset className="roles-editor" aria-describedby={[error ? errorId : '', hintId].filter(Boolean).join(' ')}>
      <legend>Narrow to roles (optional)</legend>
      <p id={hintId} className="muted small">
        {rows.length === 0 ? emptyMeans : 'The token acts only with these, each within what the token you are signed in with may do.'}
      </p>
      {rows.map((r, i) => {
        const ids = { role: `${base}-role-${r.key}`, selector: `${base}-sel-${r.key}` };
        const selError = rowError?.index === i ? rowError.message : undefined;
        return (
          <div key={r.key} className="binding-row" role="group" aria-label={`Role binding ${i + 1}`}>
            <div className="field">
              <label htmlFor={ids.role}>Role</label>
              <select
                id={ids.role}
                value={r.role}
                ref={(el) => {
                  if (el) rowRefs.current.set(r.key, el);
                  else rowRefs.current.delete(r.key);
                }}
                onChange={(e) => update(r.key, { role: e.target.value })}
              >
                {ROLE_NAMES.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </div>
            <div className="field grow">
              <label htmlFor={ids.selector}>Selector</label>
              <input
                id={ids.selector}
                className="mono"
                value={r.selector}
                maxLength={4096}
                placeholder="empty: the whole fleet"
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => update(r.key, { selector: e.target.value })}
                aria-invalid={selError ? true : undefined}
                aria-describedby={selError ? `${ids.selector}-error` : undefined}
              />
              {selError && (
                <p id={`${ids.selector}-error`} className="field-error" role="alert">
                  {selError}
                </p>
              )}
            </div>
            <button type="button" className="small" aria-label={`Remove role binding ${i + 1}`} onClick={() => remove(r.key)}>
              Remove
            </button>
          </div>
        );
      })}
      <div className="actions">
        <button type="button" ref={addRef} className="small" disabled={full} onClick={() => add({ role: 'viewer', selector: '' })}>
          Add a role
        </button>
        {picks.map((p) => (
          <button key={`${p.role}\n${p.selector}`} type="button" className="small" disabled={full} aria-label={`Add ${p.role} on ${p.selector === '' ? 'the whole fleet' : p.selector}`} onClick={() => add(p)}>
            + {p.role} on {p.selector === '' ? 'the whole fleet' : p.selector}
          </button>
        ))}
      </div>
      {error && (
        <p id={errorId} className="field-error" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}
