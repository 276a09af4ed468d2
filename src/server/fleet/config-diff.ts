/**
 * Desired against effective config for one agent: what the server offers it
 * (named configs and deployments merged, remote-config.ts / desired-state.ts)
 * file by file against what the agent reports running (its OpAMP
 * EffectiveConfig). Pure.
 */
import type { ConfigFile, EffectiveConfigRecord } from '../store/index.js';
import type { DesiredConfig } from './remote-config.js';

/** same: equal content; changed: both have it, different; missing: offered, not running; extra: running, not offered. */
export type FileDiffState = 'same' | 'changed' | 'missing' | 'extra';

export interface FileDiff {
  name: string;
  state: FileDiffState;
  desired: ConfigFile | null;
  effective: ConfigFile | null;
}

export function diffConfigFiles(desired: DesiredConfig | null, effective: EffectiveConfigRecord | null): FileDiff[] {
  const want = desired?.files ?? {};
  const have = effective?.files ?? {};
  const names = [...new Set([...Object.keys(want), ...Object.keys(have)])].sort();
  return names.map((name) => {
    const d = Object.hasOwn(want, name) ? want[name]! : null;
    const e = Object.hasOwn(have, name) ? have[name]! : null;
    const state: FileDiffState = d && e ? (d.body === e.body && d.contentType === e.contentType ? 'same' : 'changed') : d ? 'missing' : 'extra';
    return { name, state, desired: d, effective: e };
  });
}
