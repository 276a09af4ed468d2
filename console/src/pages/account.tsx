/**
 * Your account: who the session acts as (user, role bindings, the token in
 * use and, when it is narrowed, its own roles) and your own API tokens
 * (GET/POST/DELETE /api/v1/whoami/tokens): list with their roles, create
 * (optionally narrowed to roles), revoke. A new token's secret is shown
 * once, in a dialog, and lives only in that dialog's state: never in the
 * URL, storage or the query cache, and gone when the dialog closes. Revoking the token in use (or one
 * it was created with) signs out.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, seg } from '../api/client';
import type { ApiToken, CreatedApiToken, Me, RevokedApiToken, RoleBinding } from '../api/types';
import { useMe } from '../me';
import { signOut } from '../session';
import { ConfirmButton } from '../components/confirm';
import { Empty, Query } from '../components/states';
import { Status } from '../components/status';
import { Time } from '../components/time';
import { Binding, RoleList, RolesEditor, rowOf, type BindingRow } from '../components/role-bindings';

const TOKENS_KEY = ['whoami', 'tokens'];
const DAY_MS = 86_400_000;
/** The server's bounds for a token you create (src/server/users/limits.ts); it checks them again. */
const MAX_DAYS = 365;
const EXPIRIES = [
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
  { value: '90d', label: '90 days' },
  { value: '365d', label: '365 days' },
  { value: 'date', label: 'Until a date…' },
];

type TokenState = 'active' | 'expired' | 'revoked';

function tokenState(t: ApiToken, now: number): TokenState {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && Date.parse(t.expiresAt) <= now) return 'expired';
  return 'active';
}

/** The active tokens created with `id`, and with those (what revoking `id` revokes too). */
function activeDescendants(tokens: ApiToken[], id: string, now: number): ApiToken[] {
  const out: ApiToken[] = [];
  const seen = new Set([id]);
  // Bounded: each token is visited once.
  for (let frontier = [id]; frontier.length > 0; ) {
    const next: string[] = [];
    for (const t of tokens) {
      if (t.parentId && frontier.includes(t.parentId) && !seen.has(t.id)) {
        seen.add(t.id);
        next.push(t.id);
        if (tokenState(t, now) === 'active') out.push(t);
      }
    }
    frontier = next;
  }
  return out;
}

/**
 * Every active token (at most MAX_ACTIVE_TOKENS_PER_USER, so one page: the one in use and what a revocation
 * reaches are always among them) and the newest page of all, revoked and expired ones too (the list is paged).
 */
async function readOwnTokens(): Promise<{ tokens: ApiToken[] }> {
  const [active, newest] = await Promise.all([api<{ tokens: ApiToken[] }>('/api/v1/whoami/tokens?state=active&limit=1000'), api<{ tokens: ApiToken[] }>('/api/v1/whoami/tokens?sort=-createdAt&limit=100')]);
  return { tokens: [...new Map([...newest.tokens, ...active.tokens].map((t) => [t.id, t])).values()] };
}

export function AccountPage() {
  const me = useMe();
  const tokens = useQuery({ queryKey: TOKENS_KEY, queryFn: readOwnTokens });
  return (
    <section className="page">
      <h1>Your account</h1>
      <div className="panel">
        <h2>Who you are</h2>
        <Query q={me} what="your account">
          {(m) => <WhoYouAre me={m} tokens={tokens.data?.tokens} />}
        </Query>
      </div>
      <div className="panel">
        <h2 id="tokens-title">Your API tokens</h2>
        <p className="muted small">
          Tokens act as you, with your roles as they are when used. Only you (and an admin) see them here; their secrets are never shown again after they are created.
        </p>
        <Query q={tokens} what="your tokens">
          {(d) => <TokenTable tokens={d.tokens} currentId={me.data?.tokenId} />}
        </Query>
      </div>
      <div className="panel">
        <h2 id="create-title">Create a token</h2>
        <CreateToken current={tokens.data?.tokens.find((t) => t.id === me.data?.tokenId)} me={me.data} />
      </div>
    </section>
  );
}

function WhoYouAre({ me, tokens }: { me: Me; tokens: ApiToken[] | undefined }) {
  const current = tokens?.find((t) => t.id === me.tokenId);
  return (
    <dl className="facts">
      <dt>User</dt>
      <dd className="mono" data-testid="account-user">
        {me.name}
      </dd>
      <dt>{me.tokenRoles ? 'This token may' : 'Roles'}</dt>
      <dd data-testid="account-roles">
        {me.tokenRoles ? (
          <>
            <RoleList roles={me.roles} />
            <span className="muted small">its own roles within your user's roles, as they are now</span>
          </>
        ) : me.roles.length === 0 ? (
          <span className="muted">none: you can sign in and manage your tokens, but see nothing of the fleet</span>
        ) : (
          <RoleList roles={me.roles} />
        )}
      </dd>
      <dt>Signed in with</dt>
      <dd data-testid="account-token">
        {current ? (
          <>
            <span className="mono">{current.name}</span> <span className="chip">{current.prefix}…</span> <span className="chip">this one</span>
            {current.expiresAt ? (
              <span className="muted small">
                {' '}
                expires <Time iso={current.expiresAt} />
              </span>
            ) : (
              <span className="muted small"> never expires</span>
            )}
          </>
        ) : me.tokenId ? (
          <span className="mono">{me.tokenId}</span>
        ) : (
          <span className="muted">the server does not say</span>
        )}
      </dd>
      {me.tokenRoles && (
        <>
          <dt>Token narrowed to</dt>
          <dd data-testid="account-token-roles">
            <RoleList roles={me.tokenRoles} />
            <span className="muted small">this token acts only with these roles, and never beyond your user's; tokens you create with it are narrowed as it is, or further</span>
          </dd>
        </>
      )}
    </dl>
  );
}

function TokenTable({ tokens, currentId }: { tokens: ApiToken[]; currentId: string | undefined }) {
  const qc = useQueryClient();
  const now = Date.now();
  const byId = new Map(tokens.map((t) => [t.id, t]));
  // Active first, newest first within each state.
  const order = { active: 0, expired: 1, revoked: 2 };
  const rows = [...tokens].sort((a, b) => order[tokenState(a, now)] - order[tokenState(b, now)] || b.createdAt.localeCompare(a.createdAt));
  if (tokens.length === 0) return <Empty>You have no API tokens yet. Create one below.</Empty>;

  const revoke = async (t: ApiToken) => {
    const r = await api<RevokedApiToken>(`/api/v1/whoami/tokens/${seg(t.id)}`, { method: 'DELETE' });
    // The token in use, or one it was created with: this session is over.
    if (currentId && (r.id === currentId || r.alsoRevoked.includes(currentId))) return signOut();
    await qc.invalidateQueries({ queryKey: TOKENS_KEY });
  };

  return (
    <table className="table" aria-labelledby="tokens-title">
      <thead>
        <tr>
          <th>Name</th>
          <th>Prefix</th>
          <th>Created</th>
          <th>Expires</th>
          <th>Roles</th>
          <th>Created with</th>
          <th>Status</th>
          <th>
            <span className="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((t) => {
          const state = tokenState(t, now);
          const isCurrent = t.id === currentId;
          const children = activeDescendants(tokens, t.id, now);
          const signsOut = isCurrent || (currentId !== undefined && children.some((c) => c.id === currentId));
          const parent = t.parentId ? byId.get(t.parentId) : undefined;
          return (
            <tr key={t.id} data-token-id={t.id}>
              <td>
                <span className="mono">{t.name}</span>
                {isCurrent && <span className="chip chip-current">this one</span>}
              </td>
              <td className="mono">{t.prefix}…</td>
              <td>
                <Time iso={t.createdAt} />
              </td>
              <td>{t.expiresAt ? <Time iso={t.expiresAt} /> : <span className="muted">never</span>}</td>
              <td>{t.roles ? <RoleList roles={t.roles} /> : <span className="muted">as its user</span>}</td>
              <td>{t.parentId ? <span className="mono">{parent?.name ?? t.parentId}</span> : <span className="muted">by an admin</span>}</td>
              <td>
                <Status value={state === 'active' ? 'ok' : state} label={state} />
                {t.revokedAt && (
                  <span className="muted small">
                    {' '}
                    <Time iso={t.revokedAt} />
                  </span>
                )}
              </td>
              <td>
                {state === 'active' && (
                  <ConfirmButton
                    label="Revoke"
                    ariaLabel={`Revoke ${t.name}`}
                    title={`Revoke token ${t.name}?`}
                    body={revokeText(t, children, isCurrent, signsOut)}
                    confirmLabel={signsOut ? 'Revoke and sign out' : 'Revoke'}
                    danger
                    onConfirm={() => revoke(t)}
                  />
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function revokeText(t: ApiToken, children: ApiToken[], isCurrent: boolean, signsOut: boolean): string {
  const parts = [`Requests with ${t.name} (${t.prefix}…) are refused from now on.`];
  parts.push(
    children.length === 0
      ? 'Tokens created with it are revoked too; it has none active now.'
      : `Tokens created with it are revoked too: ${children.length} active (${children
          .slice(0, 5)
          .map((c) => c.name)
          .join(', ')}${children.length > 5 ? ', …' : ''}).`,
  );
  if (isCurrent) parts.push('This is the token you are signed in with: revoking it signs you out.');
  else if (signsOut) parts.push('The token you are signed in with was created with it: revoking it signs you out.');
  return parts.join(' ');
}

type Field = 'name' | 'expiry' | 'roles';

/** Which form field a 400 from the API is about, from the request field it names. */
function fieldOf(err: ApiError): Field | null {
  const top = err.status === 400 ? err.field?.split('.')[0] : undefined;
  if (top === 'name') return 'name';
  if (top === 'expiresIn' || top === 'expiresAt') return 'expiry';
  if (top === 'roles') return 'roles';
  return null;
}

/** The local calendar day of `ms` as YYYY-MM-DD (what <input type=date> takes). */
function localDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function CreateToken({ current, me }: { current: ApiToken | undefined; me: Me | undefined }) {
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [rows, setRows] = useState<BindingRow[]>([]);
  const [expiry, setExpiry] = useState('90d');
  const [date, setDate] = useState('');
  const [errors, setErrors] = useState<Partial<Record<Field | 'form', string>>>({});
  /** The roles row the server's 400 is about (null: the whole section). */
  const [errorRow, setErrorRow] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<CreatedApiToken | null>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  const ids = { name: useId(), expiry: useId(), date: useId() };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const next: typeof errors = {};
    if (!name.trim()) next.name = 'Give the token a name, such as the machine or job that will use it.';
    if (expiry === 'date' && !date) next.expiry = 'Pick the date the token expires.';
    setErrors(next);
    if (Object.keys(next).length > 0) return;
    // A date means the end of that day, in this browser's time zone.
    const expires = expiry === 'date' ? { expiresAt: new Date(`${date}T23:59:59`).toISOString() } : { expiresIn: expiry };
    // No rows: not narrowed here (the server narrows it as the token in use, if that one is).
    const roles: RoleBinding[] | undefined = rows.length === 0 ? undefined : rows.map((r) => ({ role: r.role, selector: r.selector.trim() }));
    const body = { name: name.trim(), ...expires, ...(roles ? { roles } : {}) };
    setBusy(true);
    try {
      const token = await api<CreatedApiToken>('/api/v1/whoami/tokens', { method: 'POST', body, retryRateLimited: false });
      setCreated(token);
      setName('');
      setRows([]);
      await qc.invalidateQueries({ queryKey: TOKENS_KEY });
    } catch (err) {
      const field = err instanceof ApiError ? fieldOf(err) : null;
      setErrors({ [field ?? 'form']: (err as Error).message });
      setErrorRow(err instanceof ApiError ? rowOf(err.field) : null);
    } finally {
      setBusy(false);
    }
  };

  const rowError = errors.roles !== undefined && errorRow !== null ? { index: errorRow, message: errors.roles } : undefined;
  const describe = (field: Exclude<Field, 'roles'>, hint?: string) => [errors[field] ? `${ids[field]}-error` : '', hint ?? ''].filter(Boolean).join(' ') || undefined;
  const now = Date.now();
  return (
    <>
      <form className="form" onSubmit={(e) => void submit(e)} aria-labelledby="create-title" noValidate>
        <div className="row">
          <div className="field">
            <label htmlFor={ids.name}>Name</label>
            <input
              id={ids.name}
              ref={nameRef}
              value={name}
              maxLength={64}
              autoComplete="off"
              spellCheck={false}
              onChange={(e) => setName(e.target.value)}
              aria-invalid={errors.name ? true : undefined}
              aria-describedby={describe('name', `${ids.name}-hint`)}
            />
            <span id={`${ids.name}-hint`} className="muted small">
              Letters, digits, spaces and . _ -
            </span>
            {errors.name && (
              <p id={`${ids.name}-error`} className="field-error" role="alert">
                {errors.name}
              </p>
            )}
          </div>
          <div className="field">
            <label htmlFor={ids.expiry}>Expires in</label>
            <select id={ids.expiry} value={expiry} onChange={(e) => setExpiry(e.target.value)} aria-invalid={errors.expiry && expiry !== 'date' ? true : undefined} aria-describedby={describe('expiry', `${ids.expiry}-hint`)}>
              {EXPIRIES.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
            <span id={`${ids.expiry}-hint`} className="muted small">
              At most {MAX_DAYS} days
              {current?.expiresAt ? (
                <>
                  , and no later than the token you are signed in with (<Time iso={current.expiresAt} />)
                </>
              ) : null}
              .
            </span>
            {errors.expiry && (
              <p id={`${ids.expiry}-error`} className="field-error" role="alert">
                {errors.expiry}
              </p>
            )}
          </div>
          {expiry === 'date' && (
            <div className="field">
              <label htmlFor={ids.date}>Expiry date</label>
              <input
                id={ids.date}
                type="date"
                value={date}
                min={localDay(now + DAY_MS)}
                max={localDay(now + (MAX_DAYS - 1) * DAY_MS)}
                onChange={(e) => setDate(e.target.value)}
                aria-invalid={errors.expiry ? true : undefined}
                aria-describedby={errors.expiry ? `${ids.expiry}-error` : undefined}
              />
            </div>
          )}
        </div>
        <RolesEditor
          rows={rows}
          onChange={(next) => {
            // A row added or removed: an error about a row (by index) no longer points at the right one.
            if (next.length !== rows.length) setErrors(({ roles: _, ...rest }) => rest);
            setRows(next);
          }}
          held={me?.roles ?? []}
          error={rowError ? undefined : errors.roles}
          rowError={rowError}
          emptyMeans={
            me?.tokenRoles
              ? 'Without roles here, the new token is narrowed as the one you are signed in with.'
              : 'Without roles here, the new token acts with all of your roles, as they are when it is used. With them, it does only what both they and your roles allow.'
          }
        />
        {errors.form && (
          <p className="field-error" role="alert">
            {errors.form}
          </p>
        )}
        <div>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create token'}
          </button>
        </div>
      </form>
      {created && <SecretDialog token={created} onClose={() => (setCreated(null), nameRef.current?.focus())} />}
    </>
  );
}

/** The new token's secret, once: a modal with a read-only field and a copy button. Closing it forgets the secret. */
function SecretDialog({ token, onClose }: { token: CreatedApiToken; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const field = useRef<HTMLInputElement>(null);
  const titleId = useId();
  const fieldId = useId();
  const [copied, setCopied] = useState<string | null>(null);
  useEffect(() => {
    if (!dialog.current?.open) dialog.current?.showModal();
    field.current?.select();
  }, []);
  const copy = async () => {
    field.current?.select();
    try {
      await navigator.clipboard.writeText(token.token);
      setCopied('Copied to the clipboard.');
    } catch {
      // No clipboard API (plain http, or refused): the field is selected for Ctrl+C.
      setCopied('Could not copy by itself: the secret is selected, press Ctrl+C (⌘C).');
    }
  };
  return (
    <dialog ref={dialog} aria-labelledby={titleId} onClose={onClose} className="secret-dialog">
      <h2 id={titleId}>Token {token.name} created</h2>
      <p className="warning">
        <strong>Copy the secret now: you won't see it again.</strong> Corral keeps only its hash.
      </p>
      <label htmlFor={fieldId}>Secret</label>
      <div className="copy-row">
        <input id={fieldId} ref={field} className="mono" readOnly value={token.token} autoComplete="off" spellCheck={false} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
      </div>
      <p className="muted small" role="status">
        {copied ?? ''}
      </p>
      <p className="muted small" data-testid="secret-roles">
        {token.roles ? (
          <>
            Narrowed to{' '}
            {token.roles.map((b, i) => (
              <span key={i}>
                {i > 0 && ', '}
                <Binding b={b} />
              </span>
            ))}
            {token.roles.length === 0 && 'no roles'}.
          </>
        ) : (
          'Acts with all of your roles.'
        )}
      </p>
      <p className="muted small">{token.expiresAt ? <>Expires {new Date(token.expiresAt).toLocaleString()}.</> : 'Never expires.'} Use it as a bearer token: Authorization: Bearer …</p>
      <div className="actions">
        <button type="button" className="primary" onClick={() => dialog.current?.close()}>
          Done, I have copied it
        </button>
      </div>
    </dialog>
  );
}
