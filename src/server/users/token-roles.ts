/**
 * Narrowed API tokens as pure functions: whether a token's own role bindings
 * stay within what its user (or the token creating it) may do, and what a
 * narrowed token may do now.
 *
 * A binding is covered by another when the other grants the same or a
 * higher role on a scope containing the binding's selector (the implication
 * rule of api/scope.ts: '' is the whole fleet, `env=staging,role=web` is
 * within `env=staging`). Each binding is checked against one binding at a
 * time, as scopes are.
 *
 * A token's power is the intersection of its bindings and its user's roles
 * *at the time of the request*: each token binding keeps its selector, with
 * its role capped at the highest role of the user bindings covering that
 * selector, and is dropped when none does. So demoting a user reduces its
 * narrowed tokens at once, and a token never does more than its user can.
 */
import type { RoleBinding } from '../auth/actor.js';
import { rank, selectorWithin } from '../api/scope.js';
import { parseSelector, type Selector } from '../fleet/selector.js';

interface Scope {
  binding: RoleBinding;
  selector: Selector;
}

const scopes = (bindings: RoleBinding[]): Scope[] => bindings.map((binding) => ({ binding, selector: parseSelector(binding.selector) }));

/** The highest role of `held` on a scope containing `selector`, or null when none contains it. */
function highestCovering(selector: Selector, held: Scope[]): RoleBinding['role'] | null {
  let best: RoleBinding['role'] | null = null;
  for (const h of held) {
    if (!selectorWithin(selector, h.selector)) continue;
    if (best === null || rank(h.binding.role) > rank(best)) best = h.binding.role;
  }
  return best;
}

/** The bindings of `requested` that `held` does not cover (empty: all within). Selectors must be valid. */
export function uncoveredRoles(requested: RoleBinding[], held: RoleBinding[]): RoleBinding[] {
  const h = scopes(held);
  return requested.filter((b) => {
    const best = highestCovering(parseSelector(b.selector), h);
    return best === null || rank(best) < rank(b.role);
  });
}

/**
 * What a request with a token may do: its user's roles when the token is
 * not narrowed (`tokenRoles` null), else the intersection described above.
 */
export function effectiveRoles(userRoles: RoleBinding[], tokenRoles: RoleBinding[] | null): RoleBinding[] {
  if (tokenRoles === null) return userRoles;
  const held = scopes(userRoles);
  const out: RoleBinding[] = [];
  for (const t of tokenRoles) {
    const best = highestCovering(parseSelector(t.selector), held);
    if (best === null) continue;
    out.push({ role: rank(best) < rank(t.role) ? best : t.role, selector: t.selector });
  }
  return out;
}
