import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemdUnitError, parseExecStart, quoteSystemdArg, renderAgentUnit, renderEnvFile, unitSetting, type AgentUnitSpec } from './systemd-unit.js';
import { requirement } from '../../testkit/requirement.js';

const spec = (over: Partial<AgentUnitSpec> = {}): AgentUnitSpec => ({
  nodePath: '/usr/bin/node',
  nodeArgs: ['--max-semi-space-size=1'],
  script: '/opt/corral/dist/bin/corral.js',
  agentArgs: ['--server', 'http://corral:4320', '--data-dir', '/var/lib/corral-agent', '--label', 'env=prod'],
  envFile: '/etc/corral/agent.env',
  restartSec: 5,
  unitName: 'corral-agent.service',
  ...over,
});

const tricky = [
  'web 1',
  'say "hi"',
  "it's",
  '100%',
  '%n%%',
  '$HOME',
  '${HOME}',
  '$$',
  'back\\slash',
  'trailing\\',
  ';',
  'a;b',
  '',
  'tab\there',
  'new\nline',
  'bell\x07',
  'ünïcode ✓',
  '-dash',
  '@at',
];

describe('quoteSystemdArg', () => {
  it('leaves plain words bare', () => {
    for (const w of ['agent', '--server', 'http://corral:4320/x', 'env=prod', '/var/lib/a-b_c.d', '--max-semi-space-size=1']) {
      assert.equal(quoteSystemdArg(w), w);
    }
  });

  it('escapes spaces, quotes, backslashes, % and $ for the three passes systemd makes', () => {
    assert.equal(quoteSystemdArg('web 1'), '"web 1"');
    assert.equal(quoteSystemdArg('say "hi"'), '"say \\"hi\\""');
    assert.equal(quoteSystemdArg('100%'), '"100%%"');
    assert.equal(quoteSystemdArg('$HOME'), '"$$HOME"');
    assert.equal(quoteSystemdArg('a\\b'), '"a\\\\b"');
    assert.equal(quoteSystemdArg(';'), '";"');
    assert.equal(quoteSystemdArg(''), '""');
    assert.equal(quoteSystemdArg('new\nline'), '"new\\nline"');
  });

  it('round-trips every tricky argument through the systemd command-line parser', () => {
    const argv = ['/opt/my node/bin/node', ...tricky];
    const line = argv.map(quoteSystemdArg).join(' ');
    assert.deepEqual(parseExecStart(line), argv);
  });

  it('refuses a NUL byte', () => {
    assert.throws(() => quoteSystemdArg('a\0b'), SystemdUnitError);
  });
});

describe('parseExecStart', () => {
  it('refuses what it does not model rather than guessing', () => {
    assert.throws(() => parseExecStart('/bin/x %n'), /specifier/);
    assert.throws(() => parseExecStart('/bin/x $HOME'), /environment substitution/);
    assert.throws(() => parseExecStart('/bin/x ; /bin/y'), /separator/);
    assert.throws(() => parseExecStart('/bin/x "open'), /unterminated/);
    assert.throws(() => parseExecStart('-/bin/x'), /absolute/);
  });
});

describe('renderAgentUnit', () => {
  it('runs node with a small young generation, this corral.js and the agent flags, restarting always', () => {
    const unit = renderAgentUnit(spec());
    assert.equal(unitSetting(unit, 'Type'), 'simple');
    assert.deepEqual(parseExecStart(unitSetting(unit, 'ExecStart')!), [
      '/usr/bin/node',
      '--max-semi-space-size=1',
      '/opt/corral/dist/bin/corral.js',
      'agent',
      '--server',
      'http://corral:4320',
      '--data-dir',
      '/var/lib/corral-agent',
      '--label',
      'env=prod',
    ]);
    assert.equal(unitSetting(unit, 'Restart'), 'always');
    assert.equal(unitSetting(unit, 'RestartSec'), '5');
    assert.equal(unitSetting(unit, 'After'), 'network-online.target');
    assert.equal(unitSetting(unit, 'Wants'), 'network-online.target');
    assert.equal(unitSetting(unit, 'WantedBy'), 'multi-user.target');
    assert.equal(unitSetting(unit, 'EnvironmentFile'), '-/etc/corral/agent.env');
    assert.equal(unitSetting(unit, 'User'), undefined);
    assert.match(unit, /^\[Unit\]$[\s\S]*^\[Service\]$[\s\S]*^\[Install\]$/m);
  });

  it('signals only the agent on stop, so services in their own process groups survive, and says why', () => {
    const unit = renderAgentUnit(spec());
    assert.equal(unitSetting(unit, 'KillMode'), 'process');
    assert.match(unit, /# .*own process group[\s\S]*KillMode=process/);
  });

  it('keeps an argument with spaces, quotes, % and $ intact on ExecStart', () => {
    const name = 'web 1 "blue" 100% $HOME';
    const unit = renderAgentUnit(spec({ agentArgs: ['--server', 'http://c:1', '--name', name], nodePath: '/opt/node 20/bin/node' }));
    const argv = parseExecStart(unitSetting(unit, 'ExecStart')!);
    assert.equal(argv[0], '/opt/node 20/bin/node');
    assert.equal(argv.at(-1), name);
  });

  it('refuses a token on the command line', () => {
    assert.throws(() => renderAgentUnit(spec({ agentArgs: ['--token', 'corral_enroll_x'] })), /EnvironmentFile/);
    assert.throws(() => renderAgentUnit(spec({ agentArgs: ['--token=corral_enroll_x'] })), /EnvironmentFile/);
  });

  it('sets User= when asked and refuses values systemd would reinterpret', () => {
    assert.equal(unitSetting(renderAgentUnit(spec({ user: 'corral' })), 'User'), 'corral');
    assert.throws(() => renderAgentUnit(spec({ user: 'a b' })), /--user/);
    assert.throws(() => renderAgentUnit(spec({ envFile: '/etc/%n.env' })), /--environment-file/);
  });

  it('passes systemd-analyze verify where systemd is installed', (t) => {
    if (!requirement(t, spawnSync('systemd-analyze', ['--version']).status === 0, 'systemd-analyze is not installed')) return;
    const dir = mkdtempSync(join(tmpdir(), 'corral-unit-'));
    try {
      const file = join(dir, 'corral-agent.service');
      writeFileSync(file, renderAgentUnit(spec({ nodePath: process.execPath, agentArgs: ['--server', 'http://c:1', '--name', 'a "b" 100% $x \\ ;'] })));
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /corral-agent\.service/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('renderEnvFile', () => {
  it('holds the token as CORRAL_TOKEN, the env var the agent reads', () => {
    const text = renderEnvFile('corral_enroll_AbC-123', 'corral-agent.service');
    assert.equal(unitSetting(text, 'CORRAL_TOKEN'), 'corral_enroll_AbC-123');
  });

  it('refuses a token systemd would expand or split', () => {
    for (const bad of ['a b', 'a$b', 'a"b', 'a\nb', '']) assert.throws(() => renderEnvFile(bad, 'x.service'), SystemdUnitError);
  });
});
