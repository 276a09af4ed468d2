/** Sign-in with an API token: checked against the server, then kept in sessionStorage only. */
import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { whoIs } from '../me';
import { setToken } from '../session';

export function SignIn() {
  const [token, setTokenText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) return setError('Paste an API token.');
    setBusy(true);
    setError(null);
    try {
      await whoIs(t);
      setToken(t);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'The server does not accept this token (wrong, revoked or expired).' : err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="sign-in">
      <form onSubmit={(e) => void submit(e)} className="card" aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Corral console</h1>
        <p className="muted">Sign in with an API token. It stays in this browser tab only and is forgotten when the tab closes.</p>
        <label htmlFor="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" spellCheck={false} autoFocus value={token} onChange={(e) => setTokenText(e.target.value)} aria-invalid={error ? true : undefined} aria-describedby={error ? 'token-error' : undefined} />
        {error && (
          <p id="token-error" className="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="muted small">The demo prints its admin token; a server prints one on first start.</p>
      </form>
    </main>
  );
}
