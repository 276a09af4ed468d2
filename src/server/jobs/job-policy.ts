/**
 * Blast-radius controls for jobs, as AWS SSM has them: how many hosts at
 * once, and how many failures before no new host is started. Both are a
 * count ("3") or a percentage of the targets ("10%"). Pure.
 */
import { ValidationError } from '../errors.js';

const AMOUNT = /^(\d{1,9})(%?)$/;

/** Throws ValidationError naming the field when the value is not N or N%. */
export function parseAmount(field: string, value: string): { n: number; percent: boolean } {
  const m = AMOUNT.exec(value.trim());
  if (!m || (m[2] === '%' && Number(m[1]) > 100)) throw new ValidationError(`${field} must be a count like 5 or a percentage like 10%, got "${value}"`, field);
  return { n: Number(m[1]), percent: m[2] === '%' };
}

/** Hosts allowed to run at once: at least 1. */
export function concurrencyFor(value: string, targets: number): number {
  const { n, percent } = parseAmount('maxConcurrency', value);
  return Math.max(1, percent ? Math.floor((targets * n) / 100) : n);
}

/** Failures tolerated: once failures exceed this, no new host starts. */
export function errorBudgetFor(value: string, targets: number): number {
  const { n, percent } = parseAmount('errorBudget', value);
  return percent ? Math.floor((targets * n) / 100) : n;
}
