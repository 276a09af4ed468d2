/**
 * Roles and scopes as pure functions: which of an actor's bindings grant a
 * role, whether a selector stays inside a scope, whether an agent is in one.
 *
 * The implication rule: a selector S is within a scope B when S provably
 * implies B: for EVERY requirement of B, some single requirement of S
 * implies it on its own (so any agent S matches, B matches too, whatever
 * labels agents get later). A requirement implies another on the same key:
 *
 *   B requires        S contains one of
 *   k=v               k=v, k in (v)
 *   k in (V)          k=v with v in V, k in (W) with W ⊆ V
 *   k                 k=v, k in (W), k
 *   k!=v              k=w (w≠v), k in (W) (v∉W), !k, k!=v, k notin (W) (v∈W)
 *   k notin (V)       k=w (w∉V), k in (W) (W∩V=∅), !k, k notin (W) (V ⊆ W)
 *   !k                !k
 *
 * So `env=staging,role=web` is within `env=staging`; `role=web` is not,
 * even when every agent with role=web is in staging today. The empty scope
 * ('') is the whole fleet: every selector is within it. A scope is checked
 * one binding at a time (a selector within the union of two scopes but not
 * within either is refused).
 */
import type { Actor, Role, RoleBinding } from '../auth/actor.js';
import { ROLES } from '../auth/actor.js';
import { matchesSelector, parseSelector, type Requirement, type Selector } from '../fleet/selector.js';

export const rank = (role: Role): number => ROLES.indexOf(role);

/** The actor's bindings that grant at least `min`. */
export function bindingsGranting(actor: Pick<Actor, 'roles'>, min: Role): RoleBinding[] {
  return actor.roles.filter((b) => rank(b.role) >= rank(min));
}

/** Whether one of `bindings` covers the whole fleet. */
export const unscoped = (bindings: RoleBinding[]): boolean => bindings.some((b) => b.selector.trim() === '');

/** `operator on env=staging, viewer` — for messages. */
export function describeRoles(roles: RoleBinding[]): string {
  if (roles.length === 0) return 'no roles';
  return roles.map((b) => (b.selector.trim() === '' ? b.role : `${b.role} on ${b.selector}`)).join(', ');
}

/** Who holds the roles, for refusals: `user alice`, or `user alice's token (narrowed to its own roles)`. */
export function holderText(actor: Pick<Actor, 'name' | 'tokenRoles'>): string {
  return actor.tokenRoles ? `user ${actor.name}'s token (narrowed to its own roles)` : `user ${actor.name}`;
}

function requirementImplies(s: Requirement, b: Requirement): boolean {
  if (s.key !== b.key) return false;
  // The values S allows, when it pins the key to a finite set.
  const allowed = s.op === 'eq' ? [s.value] : s.op === 'in' ? s.values : null;
  switch (b.op) {
    case 'eq':
      return allowed !== null && allowed.every((v) => v === b.value);
    case 'in':
      return allowed !== null && allowed.every((v) => b.values.includes(v));
    case 'exists':
      return allowed !== null || s.op === 'exists';
    case 'neq':
      if (allowed !== null) return !allowed.includes(b.value);
      return s.op === 'notexists' || (s.op === 'neq' && s.value === b.value) || (s.op === 'notin' && s.values.includes(b.value));
    case 'notin':
      if (allowed !== null) return allowed.every((v) => !b.values.includes(v));
      return s.op === 'notexists' || (s.op === 'notin' && b.values.every((v) => s.values.includes(v)));
    case 'notexists':
      return s.op === 'notexists';
  }
}

/** Whether every agent `s` matches is matched by `scope`, provably (see the rule above). */
export function selectorWithin(s: Selector, scope: Selector): boolean {
  return scope.requirements.every((b) => s.requirements.some((r) => requirementImplies(r, b)));
}

/** The bindings (of those given) whose scope contains selector `s`. Throws SelectorError for a bad selector. */
export function scopesContaining(selector: string, bindings: RoleBinding[]): RoleBinding[] {
  const s = parseSelector(selector);
  return bindings.filter((b) => selectorWithin(s, parseSelector(b.selector)));
}

/** The bindings whose scope matches an agent with these selectable attributes. */
export function scopesMatching(attributes: Readonly<Record<string, string>>, bindings: RoleBinding[]): RoleBinding[] {
  return bindings.filter((b) => matchesSelector(parseSelector(b.selector), attributes));
}

/** The label keys a scope's selector looks at (a scoped user may not change them on an agent). */
export function scopeKeys(binding: RoleBinding): Set<string> {
  return new Set(parseSelector(binding.selector).requirements.map((r) => r.key));
}
