/**
 * Caps how many artifact downloads this server process streams at once, so
 * a fleet upgrading together queues instead of stampeding the disk and the
 * network. A refused client gets 503 with a short, jittered `Retry-After`
 * and resumes with `Range` when it comes back.
 */

export interface DownloadLimiterOptions {
  /** Downloads streaming at once before refusing; 0 means unlimited. */
  maxDownloads: number;
}

export class DownloadLimiter {
  private active = 0;

  constructor(readonly opts: DownloadLimiterOptions) {}

  /** Downloads holding a slot now (also counted when unlimited, for the metric). */
  get inFlight(): number {
    return this.active;
  }

  /**
   * Takes a slot, or returns null when every slot is taken. The caller must
   * call the returned release once the response is over (finished, failed or
   * cut by the client); calling it again does nothing.
   */
  tryAcquire(): (() => void) | null {
    if (this.opts.maxDownloads > 0 && this.active >= this.opts.maxDownloads) return null;
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
    };
  }
}

/** Shortest `Retry-After` given to a refused download, seconds. */
export const DOWNLOAD_RETRY_AFTER_MIN_SECONDS = 1;
/** Spread added on top, so refused clients come back at different times. */
export const DOWNLOAD_RETRY_AFTER_SPREAD_SECONDS = 4;

/** The `Retry-After` seconds for a refused download: uniform in [1, 5]. Pure; tests give it the random source. */
export function downloadRetryAfterSeconds(random: () => number): number {
  return DOWNLOAD_RETRY_AFTER_MIN_SECONDS + Math.min(DOWNLOAD_RETRY_AFTER_SPREAD_SECONDS, Math.floor(random() * (DOWNLOAD_RETRY_AFTER_SPREAD_SECONDS + 1)));
}
