import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../errors.js';
import { concurrencyFor, errorBudgetFor } from './job-policy.js';

it('reads counts and percentages of the targets', () => {
  assert.equal(concurrencyFor('3', 10), 3);
  assert.equal(concurrencyFor('25%', 10), 2);
  assert.equal(concurrencyFor('5%', 10), 1, 'always at least one host at a time');
  assert.equal(errorBudgetFor('0', 10), 0);
  assert.equal(errorBudgetFor('20%', 10), 2);
  assert.equal(errorBudgetFor('100%', 7), 7);
});

it('names the field for anything else', () => {
  for (const bad of ['', 'x', '-1', '10 %', '101%', '1.5']) {
    assert.throws(() => errorBudgetFor(bad, 10), (e: unknown) => e instanceof ValidationError && e.message.includes('errorBudget'));
  }
});
