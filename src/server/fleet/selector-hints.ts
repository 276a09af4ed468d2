/**
 * Why a selector matches no agent, in words an operator can act on: a key
 * that no agent has (a typo like `evn=prod`: "did you mean env?"), or a value
 * that no agent has for a key. Pure: the caller passes the agents.
 */
import type { AgentRecord } from '../store/index.js';
import { effectiveLabels, selectableAttributes } from './agent-labels.js';
import { matchesSelector, type Selector } from './selector.js';

const MAX_LISTED = 10;

/** Edits (insert, delete, substitute, swap of neighbours) to turn `a` into `b`. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

const listed = (items: Iterable<string>) => {
  const all = [...new Set(items)].sort();
  return all.length > MAX_LISTED ? `${all.slice(0, MAX_LISTED).join(', ')}, …` : all.join(', ');
};

/** Known keys close to `key` (a typo away, or the same but for case), closest first. */
function closeKeys(key: string, known: Iterable<string>): string[] {
  const limit = key.length <= 3 ? 1 : 2;
  return [...new Set(known)]
    .map((k) => ({ k, d: k.toLowerCase() === key.toLowerCase() ? 0 : distance(key, k) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d || (x.k < y.k ? -1 : 1))
    .map((x) => x.k);
}

/**
 * One sentence per requirement that by itself can match none of `agents`
 * (only `key=value`, `key in (...)` and `key` can; negations match agents
 * without the key). Empty when every requirement matches some agent: then it
 * is their combination that matches nobody.
 */
export function selectorMismatches(selector: Selector, agents: readonly AgentRecord[]): string[] {
  const attrs = agents.map(selectableAttributes);
  const labelKeys = agents.flatMap((a) => Object.keys(effectiveLabels(a)));
  const out: string[] = [];
  for (const r of selector.requirements) {
    if (r.op !== 'eq' && r.op !== 'in' && r.op !== 'exists') continue;
    const values = attrs.filter((a) => Object.hasOwn(a, r.key)).map((a) => a[r.key]!);
    if (values.length === 0) {
      const close = closeKeys(r.key, attrs.flatMap((a) => Object.keys(a)));
      const hint = close.length > 0 ? `did you mean ${close.slice(0, 3).join(' or ')}?` : labelKeys.length > 0 ? `agents have the labels ${listed(labelKeys)}` : 'no agent has any label';
      out.push(`no agent has the label "${r.key}" (${hint})`);
      continue;
    }
    const wanted = r.op === 'eq' ? [r.value] : r.op === 'in' ? r.values : null;
    if (wanted && !values.some((v) => wanted.includes(v))) {
      out.push(`no agent has ${wanted.length === 1 ? `${r.key}=${wanted[0]}` : `${r.key} in (${wanted.join(',')})`} (its values: ${listed(values)})`);
    }
  }
  return out;
}

/**
 * The warning for a deployment whose selector matches no Corral agent, with
 * the reasons selectorMismatches finds; null when it matches some.
 */
export function noTargetWarning(selector: Selector, targets: number, agents: readonly AgentRecord[]): string | null {
  if (targets > 0) return null;
  const live = agents.filter((a) => a.status !== 'revoked');
  const matched = live.filter((a) => matchesSelector(selector, selectableAttributes(a))).length;
  const why =
    matched > 0 ? [`it matches ${matched} agent${matched === 1 ? '' : 's'} that ${matched === 1 ? 'is' : 'are'} not Corral agents, which alone run deployments`] : selectorMismatches(selector, live);
  return `selector '${selector.source}' matches no Corral agent${why.length > 0 ? `: ${why.join('; ')}` : ''}`;
}
