/**
 * OpAMP's duplicate-uid handling, agent side: a server that sees our
 * instance uid already in use answers with
 * `agent_identification.new_instance_uid`, and the agent MUST use that uid
 * from then on. The server is hostile like any peer: an offered uid is
 * checked (`judgeNewInstanceUid`), and adoptions are bounded in rate
 * (`ReassignmentBudget`) so a server cannot keep an agent re-identifying
 * itself in a loop.
 */
import { uuidBytesToString } from '../protocol/index.js';

export type UidJudgement = { accept: true; uid: string } | { accept: false; reason: string };

/** Checks an offered `new_instance_uid` against the uid in use (lower-case UUID text). */
export function judgeNewInstanceUid(current: string, offered: Uint8Array): UidJudgement {
  if (offered.length !== 16) return { accept: false, reason: `new_instance_uid must be 16 bytes, got ${offered.length}` };
  if (offered.every((b) => b === 0)) return { accept: false, reason: 'new_instance_uid is all zero' };
  const uid = uuidBytesToString(offered);
  if (uid === current) return { accept: false, reason: `new_instance_uid ${uid} is the uid already in use` };
  return { accept: true, uid };
}

/** Defaults: at most 3 new uids per minute (a legitimate server sends one). */
export const REASSIGNMENT_LIMIT = { max: 3, windowMs: 60_000 };

/** At most `max` adoptions in any `windowMs` (sliding window). */
export class ReassignmentBudget {
  private readonly taken: number[] = [];

  constructor(private readonly limit = REASSIGNMENT_LIMIT) {}

  /** True (and counted) when one more adoption at `now` stays within the bound. */
  take(now: number): boolean {
    while (this.taken.length > 0 && now - this.taken[0]! >= this.limit.windowMs) this.taken.shift();
    if (this.taken.length >= this.limit.max) return false;
    this.taken.push(now);
    return true;
  }

  /** Milliseconds until `take` can succeed again (0 when it can now). */
  retryInMs(now: number): number {
    if (this.taken.length < this.limit.max) return 0;
    return Math.max(0, this.taken[0]! + this.limit.windowMs - now);
  }
}

/**
 * Rate-limits a log line that a hostile or broken server could trigger on
 * every message (a refused `new_instance_uid` arrives with each heartbeat):
 * the first occurrence is logged, then at most one line per `windowMs`,
 * which carries how many occurrences were left unlogged since the last one
 * (`suppressed`). Refusals themselves are not affected, only their logging.
 */
export class LogThrottle {
  private lastLoggedAt: number | null = null;
  private suppressed = 0;

  constructor(private readonly windowMs: number) {}

  /** One occurrence at `now`: `log` says whether to write a line, `suppressed` how many went unlogged before it. */
  note(now: number): { log: true; suppressed: number } | { log: false } {
    if (this.lastLoggedAt !== null && now - this.lastLoggedAt < this.windowMs) {
      this.suppressed++;
      return { log: false };
    }
    const suppressed = this.suppressed;
    this.lastLoggedAt = now;
    this.suppressed = 0;
    return { log: true, suppressed };
  }
}
