import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileServerOptions } from '../options.js';
import { DownloadLimiter, downloadRetryAfterSeconds } from './download-limiter.js';

describe('download limiter', () => {
  it('refuses past the cap and frees a slot once, however often it is released', () => {
    const limiter = new DownloadLimiter({ maxDownloads: 2 });
    const a = limiter.tryAcquire();
    const b = limiter.tryAcquire();
    assert.ok(a && b);
    assert.equal(limiter.tryAcquire(), null);
    a();
    a();
    assert.equal(limiter.inFlight, 1, 'a double release frees one slot, not two');
    const c = limiter.tryAcquire();
    assert.ok(c);
    assert.equal(limiter.tryAcquire(), null);
    b();
    c();
    assert.equal(limiter.inFlight, 0);
  });

  it('never refuses with a cap of 0, and still counts what is in flight', () => {
    const limiter = new DownloadLimiter({ maxDownloads: 0 });
    const releases = Array.from({ length: 100 }, () => limiter.tryAcquire());
    assert.ok(releases.every((r) => r !== null));
    assert.equal(limiter.inFlight, 100);
  });

  it('spreads Retry-After over 1 to 5 seconds', () => {
    assert.equal(downloadRetryAfterSeconds(() => 0), 1);
    assert.equal(downloadRetryAfterSeconds(() => 0.5), 3);
    assert.equal(downloadRetryAfterSeconds(() => 0.999999), 5);
  });

  it('defaults the cap to 32, takes 0 as unlimited and names a bad value', () => {
    assert.equal(compileServerOptions({}).maxDownloads, 32);
    assert.equal(compileServerOptions({ maxDownloads: 0 }).maxDownloads, 0);
    assert.throws(() => compileServerOptions({ maxDownloads: -1 }), /maxDownloads must be a non-negative integer/);
    assert.throws(() => compileServerOptions({ maxDownloads: 1.5 }), /maxDownloads/);
  });
});
