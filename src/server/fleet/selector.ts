/**
 * Label selectors, in the Kubernetes style:
 *
 *   env=prod,role in (web,api),!canary,tier!=db,zone notin (a,b),gpu
 *
 * Requirements are separated by commas and must all hold. An empty selector
 * matches every agent. Keys may contain letters, digits and `._/-`; values
 * also `:`. Parse once with `parseSelector` (throws `SelectorError` naming
 * the position and what was expected) and match many times.
 *
 * A plain key names a trusted label (bound by the agent's enrollment token or
 * set by an operator). A key written `claim.<key>` names something the agent
 * reports about itself (`claim.host.arch=arm64`, `claim.env=prod` for its own
 * `--label env=prod`): the selector says so wherever a claim decides.
 * `corral.io/id` is the agent's id, known to the server, never a claim. The
 * matched map is built by `selectableAttributes` (agent-labels.ts).
 */

import { CLAIM_PREFIX } from '../auth/label-rules.js';

export type Requirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };

export interface Selector {
  readonly source: string;
  readonly requirements: readonly Requirement[];
}

export class SelectorError extends Error {
  readonly code = 'INVALID_SELECTOR';
  constructor(
    readonly selector: string,
    readonly position: number,
    detail: string,
  ) {
    super(`invalid selector "${selector}" at position ${position}: ${detail}`);
    this.name = 'SelectorError';
  }
}

const KEY = /[A-Za-z0-9._/-]/;
const VALUE = /[A-Za-z0-9._/:-]/;

class Scanner {
  pos = 0;
  constructor(readonly src: string) {}

  skipSpace(): void {
    while (this.src[this.pos] === ' ') this.pos++;
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.src.length;
  }

  fail(detail: string): never {
    throw new SelectorError(this.src, this.pos, detail);
  }

  take(pattern: RegExp, what: string): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.src.length && pattern.test(this.src[this.pos]!)) this.pos++;
    if (start === this.pos) this.fail(`expected ${what}`);
    return this.src.slice(start, this.pos);
  }

  /** Consumes `literal` if it is next; the keywords `in`/`notin` must be followed by a non-key character. */
  accept(literal: string, word = false): boolean {
    this.skipSpace();
    if (!this.src.startsWith(literal, this.pos)) return false;
    const next = this.src[this.pos + literal.length];
    if (word && next !== undefined && KEY.test(next)) return false;
    this.pos += literal.length;
    return true;
  }

  expect(literal: string): void {
    if (!this.accept(literal)) this.fail(`expected "${literal}"`);
  }
}

function parseValueList(s: Scanner): string[] {
  s.expect('(');
  const values = [s.take(VALUE, 'a value')];
  while (s.accept(',')) values.push(s.take(VALUE, 'a value'));
  s.expect(')');
  return values;
}

/** A key; `claim.` alone is a claim form without its attribute. */
function takeKey(s: Scanner, what: string): string {
  const key = s.take(KEY, what);
  if (key === CLAIM_PREFIX) s.fail(`expected an attribute key after "${CLAIM_PREFIX}" (e.g. ${CLAIM_PREFIX}host.arch=arm64)`);
  return key;
}

function parseRequirement(s: Scanner): Requirement {
  if (s.accept('!')) return { op: 'notexists', key: takeKey(s, 'a label key after "!"') };
  const key = takeKey(s, 'a label key');
  if (s.accept('!=')) return { op: 'neq', key, value: s.take(VALUE, 'a value after "!="') };
  if (s.accept('==') || s.accept('=')) return { op: 'eq', key, value: s.take(VALUE, 'a value after "="') };
  if (s.accept('notin', true)) return { op: 'notin', key, values: parseValueList(s) };
  if (s.accept('in', true)) return { op: 'in', key, values: parseValueList(s) };
  return { op: 'exists', key };
}

export function parseSelector(source: string): Selector {
  const s = new Scanner(source);
  const requirements: Requirement[] = [];
  if (s.atEnd()) return { source, requirements };
  for (;;) {
    requirements.push(parseRequirement(s));
    if (s.atEnd()) break;
    s.expect(',');
  }
  return { source, requirements };
}

function holds(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.op) {
    case 'eq':
      return value === r.value;
    case 'neq':
      return value !== r.value;
    case 'in':
      return has && r.values.includes(value!);
    case 'notin':
      return !has || !r.values.includes(value!);
    case 'exists':
      return has;
    case 'notexists':
      return !has;
  }
}

export function matchesSelector(selector: Selector, labels: Readonly<Record<string, string>>): boolean {
  return selector.requirements.every((r) => holds(r, labels));
}
