/**
 * Who the session is: `GET /api/v1/whoami` (users and roles: viewer,
 * operator, admin). A server without it answers 404 and the token, already
 * checked, is the built-in admin. `can()` is where the console hides actions a role
 * forbids.
 */
import { useQuery } from '@tanstack/react-query';
import { ApiError, api } from './api/client';
import type { Me } from './api/types';

const BUILTIN_ADMIN: Me = { name: 'admin', roles: [{ role: 'admin', selector: '' }] };

/** Checks a token (401 rejects it) and says whose it is. */
export async function whoIs(token?: string): Promise<Me> {
  try {
    return await api<Me>('/api/v1/whoami', { token });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  // No /me on this server: any authenticated read proves the token.
  await api('/api/v1/signing-key', { token });
  return BUILTIN_ADMIN;
}

export function useMe() {
  return useQuery({ queryKey: ['me'], queryFn: () => whoIs(), staleTime: 60_000 });
}

/**
 * Actions the console offers, each shown only to a role the server allows
 * it (src/server/api/access-rules.ts): `write` (deploy, start/stop, rollout
 * controls) and `label` need an operator; `exec` (jobs) an admin; `audit`
 * (reading the audit log) an admin bound to the whole fleet. Scoped bindings
 * count for the actions the server checks against a scope.
 */
export type Action = 'write' | 'label' | 'exec' | 'audit';

export function can(me: Me | undefined, action: Action): boolean {
  if (!me) return false;
  switch (action) {
    case 'write':
    case 'label':
      return me.roles.some((r) => r.role === 'admin' || r.role === 'operator');
    case 'exec':
      return me.roles.some((r) => r.role === 'admin');
    case 'audit':
      return me.roles.some((r) => r.role === 'admin' && r.selector === '');
  }
}
