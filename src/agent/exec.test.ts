import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { runCommand } from './exec.js';

describe('runCommand', () => {
  it('kills the command when cancelled (the server enforced the job timeout)', async () => {
    const cancel = new AbortController();
    const started = runCommand(['sh', '-c', 'echo started; sleep 30'], { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeoutMs: 60_000, cancel: cancel.signal }, (chunk) => {
      if (chunk.data.includes('started')) cancel.abort();
    });
    const result = await started;
    assert.equal(result.signal, 'SIGKILL');
    assert.equal(result.timedOut, false);
  });
});
