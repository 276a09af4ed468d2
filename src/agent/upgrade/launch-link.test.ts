import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LaunchLinkError, pathThroughLink, pointLaunchLink, readLaunchLink } from './launch-link.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'corral-link-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('the launch link', () => {
  it('is created, re-pointed in place and read back, leaving no temp link', () => {
    const link = join(root, 'agent-current');
    assert.equal(readLaunchLink(link), null);
    pointLaunchLink(link, '/opt/corral');
    assert.equal(readLaunchLink(link), '/opt/corral');
    pointLaunchLink(link, join(root, 'agent-versions', '0.2.0'));
    assert.equal(readlinkSync(link), join(root, 'agent-versions', '0.2.0'));
    assert.deepEqual(readdirSync(root), ['agent-current']);
  });

  it('refuses to replace something that is not a symlink, and a relative target', () => {
    const link = join(root, 'agent-current');
    assert.throws(() => pointLaunchLink(link, 'relative/dir'), LaunchLinkError);
    mkdirSync(link);
    assert.throws(() => pointLaunchLink(link, '/opt/corral'), /is not a symlink/);
  });

  it('tells whether a script path runs through the link', () => {
    assert.equal(pathThroughLink('/d/agent-current', '/d/agent-current/dist/bin/corral.js'), join('dist', 'bin', 'corral.js'));
    assert.equal(pathThroughLink('/d/agent-current', '/opt/corral/dist/bin/corral.js'), null);
    assert.equal(pathThroughLink('/d/agent-current', '/d/agent-current-old/dist/bin/corral.js'), null);
  });
});
