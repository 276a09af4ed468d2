/**
 * The signed-in session: the API token lives in sessionStorage only (gone
 * when the tab closes; never in a URL, a cookie or a log). Who the token
 * belongs to comes from the server (`GET /api/v1/me` once it exists).
 */
const KEY = 'corral.console.token';
const listeners = new Set<() => void>();

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
  listeners.forEach((l) => l());
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l());
}

export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
