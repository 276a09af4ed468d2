/**
 * How a service's exits read to people: "exited with code 3", "killed by
 * SIGKILL", "could not start: spawn bin/x ENOENT", and for a crash loop
 * "exited with code 3, 4 times in 12 s"; an OOM kill reads "killed: out of
 * memory (limit 256 MiB)". Pure.
 */
import type { ServiceStatus } from './supervisor.js';

/** One exit in words; '' when there was none. */
export function describeExit(exit: ServiceStatus['lastExit'], error: string | null): string {
  if (error) return `could not start: ${error}`;
  if (!exit) return '';
  if (exit.reason) return exit.reason;
  if (exit.signal) return `killed by ${exit.signal}`;
  if (exit.code !== null) return `exited with code ${exit.code}`;
  return 'exited';
}

/** A crash loop in words: the last exit, how many failures in a row, over how long (from the first of them to the last). */
export function crashLoopReason(st: Pick<ServiceStatus, 'lastExit' | 'lastError' | 'failures' | 'failingSince'>): string {
  const last = describeExit(st.lastExit, st.lastError) || 'exited';
  const spanMs = st.lastExit && st.failingSince !== null ? st.lastExit.at - st.failingSince : 0;
  const span = spanMs < 1000 ? 'under 1 s' : `${Math.round(spanMs / 1000)} s`;
  return `${last}, ${st.failures} times in ${span}`;
}
