import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ago, formatTable } from './table.js';

it('pads columns to the widest cell and trims trailing space', () => {
  const out = formatTable(['ID', 'NAME', 'STATUS'], [['1', 'web-1', 'online'], ['22', 'a', '']]);
  assert.equal(out, 'ID  NAME   STATUS\n1   web-1  online\n22  a\n');
});

it('says how long ago in the largest unit', () => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  assert.equal(ago('2026-01-01T23:59:57Z', now), '3s ago');
  assert.equal(ago('2026-01-01T23:55:00Z', now), '5m ago');
  assert.equal(ago('2026-01-01T21:00:00Z', now), '3h ago');
  assert.equal(ago('2025-12-29T00:00:00Z', now), '4d ago');
  assert.equal(ago('2026-01-03T00:00:00Z', now), '0s ago', 'clock skew never goes negative');
});

it('prints only the header when there are no rows, and treats missing cells as empty', () => {
  assert.equal(formatTable(['ID', 'NAME'], []), 'ID  NAME\n');
  assert.equal(formatTable(['A', 'B', 'C'], [['x'], ['longer', 'y', 'z']]), 'A       B  C\nx\nlonger  y  z\n');
});
