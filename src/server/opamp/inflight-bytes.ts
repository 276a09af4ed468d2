/**
 * One budget for the OpAMP body bytes this process holds at once, over all
 * connections and both transports: bytes of HTTP bodies being read or
 * handled, and bytes a WebSocket has received towards messages not yet
 * handled. Past it, HTTP requests get 503 + Retry-After and WebSockets are
 * closed with 1013 (try again later), so a dozen parallel 60 MiB bodies
 * cannot take the server's memory.
 */
export class InflightBytes {
  private usedBytes = 0;

  constructor(readonly maxBytes: number) {}

  get used(): number {
    return this.usedBytes;
  }

  /** Takes `n` bytes if they fit; false (nothing taken) if they do not. */
  tryTake(n: number): boolean {
    if (this.usedBytes + n > this.maxBytes) return false;
    this.usedBytes += n;
    return true;
  }

  /** Gives back bytes taken before. */
  release(n: number): void {
    this.usedBytes = Math.max(0, this.usedBytes - n);
  }
}
