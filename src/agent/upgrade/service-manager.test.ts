import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceManagerError, parseSystemctlShow, systemdManager, type Run } from './service-manager.js';

describe('systemd as the upgrade watcher sees it', () => {
  it('reads systemctl show in any order, with how the last main process ended', () => {
    assert.deepEqual(parseSystemctlShow('NRestarts=3\nMainPID=0\nActiveState=activating\nSubState=auto-restart\nExecMainCode=1\nExecMainStatus=3\n'), {
      mainPid: 0,
      restarts: 3,
      activeState: 'activating',
      subState: 'auto-restart',
      lastExit: { code: 3, signal: null },
    });
    assert.deepEqual(parseSystemctlShow('MainPID=42\nNRestarts=0\nExecMainCode=2\nExecMainStatus=9\n').lastExit, { code: null, signal: 'SIGKILL' });
    assert.equal(parseSystemctlShow('MainPID=42\nNRestarts=0\nExecMainCode=0\nExecMainStatus=0\n').lastExit, null);
  });

  it('refuses output without NRestarts (systemd older than 235)', () => {
    assert.throws(() => parseSystemctlShow('MainPID=42\n'), (e: ServiceManagerError) => /NRestarts.*235/.test(e.message));
  });

  it('asks systemctl about its unit only, and clears a failed state before restarting', async () => {
    const calls: string[] = [];
    const run: Run = async (cmd, args) => {
      calls.push([cmd, ...args].join(' '));
      return args[0] === 'restart' ? { code: 1, stdout: '', stderr: 'Access denied' } : { code: 0, stdout: 'MainPID=7\nNRestarts=1\n', stderr: '' };
    };
    const m = systemdManager('corral-agent.service', run);
    assert.equal((await m.status()).mainPid, 7);
    await assert.rejects(m.restart(), /systemctl restart corral-agent\.service exited with 1: Access denied/);
    assert.deepEqual(calls, [
      'systemctl show -p MainPID,NRestarts,ActiveState,SubState,ExecMainCode,ExecMainStatus corral-agent.service',
      'systemctl reset-failed corral-agent.service',
      'systemctl restart corral-agent.service',
    ]);
  });
});
