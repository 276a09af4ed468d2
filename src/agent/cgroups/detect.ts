/**
 * Which cgroup hierarchy this agent can put services into, found once at
 * start-up from /proc/self/cgroup and /proc/self/mountinfo (cheap: two small
 * reads; the code that creates and drives cgroups is loaded only when a
 * service asks for one, see service-cgroup.ts).
 *
 * - v2 (the unified hierarchy) when a cgroup2 mount offers the cpu, memory
 *   and pids controllers;
 * - else v1 when cpu, cpuacct, memory and pids each have a cgroup v1 mount
 *   (separately, as on this project's CI host, or co-mounted as cpu,cpuacct);
 * - else none, with the reason. Creating cgroups also needs root: a non-root
 *   agent reports none ("not root").
 *
 * A hybrid host (v1 controllers plus an empty cgroup2 mount at
 * /sys/fs/cgroup/unified) is v1: its cgroup2 mount has no controllers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];
export const V2_CONTROLLERS = ['cpu', 'memory', 'pids'] as const;

/** A hierarchy's mount and the agent's own cgroup in it (a path under the mount, "/" for its root). */
export interface CgroupPlace {
  mount: string;
  own: string;
}

export type CgroupSupport =
  | { version: 'v2'; v2: CgroupPlace }
  | { version: 'v1'; v1: Record<V1Controller, CgroupPlace> }
  | { version: null; reason: string };

/** The inputs, as files; tests hand in text laid out like /proc. */
export interface CgroupProbe {
  /** /proc/self/cgroup */
  selfCgroup: string;
  /** /proc/self/mountinfo */
  mountinfo: string;
  uid: number | undefined;
  /** Reads a file (cgroup.controllers of a cgroup2 mount); null when it cannot. */
  read(path: string): string | null;
}

interface Mount {
  point: string;
  root: string;
  fstype: string;
  superOptions: string[];
}

function unescape(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 5 || right.length < 3) continue;
    out.push({ root: unescape(left[3]!), point: unescape(left[4]!), fstype: right[0]!, superOptions: right[2]!.split(',') });
  }
  return out;
}

/** The agent's path in a hierarchy, as seen through a mount whose root may itself be a sub-cgroup (a container). */
function ownUnder(mount: Mount, path: string): string {
  if (mount.root === '/' || mount.root === '') return path;
  if (path === mount.root) return '/';
  if (path.startsWith(`${mount.root}/`)) return path.slice(mount.root.length);
  return '/';
}

export function detectCgroups(probe: CgroupProbe): CgroupSupport {
  if (probe.uid !== 0) return { version: null, reason: `the agent runs as uid ${String(probe.uid)}, not root, so it cannot create cgroups` };
  const mounts = parseMountinfo(probe.mountinfo);
  const lines = probe.selfCgroup
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [, , controllers = '', path = '/'] = /^(\d+):([^:]*):(.*)$/.exec(l) ?? [];
      return { controllers: controllers.split(',').filter(Boolean), path };
    });
  const v2 = mounts.find((m) => m.fstype === 'cgroup2');
  const v2Line = lines.find((l) => l.controllers.length === 0);
  if (v2 && v2Line) {
    const available = (probe.read(join(v2.point, 'cgroup.controllers')) ?? '').trim().split(/\s+/);
    if (V2_CONTROLLERS.every((c) => available.includes(c))) return { version: 'v2', v2: { mount: v2.point, own: ownUnder(v2, v2Line.path) } };
  }
  const v1: Partial<Record<V1Controller, CgroupPlace>> = {};
  for (const c of V1_CONTROLLERS) {
    const mount = mounts.find((m) => m.fstype === 'cgroup' && m.superOptions.includes(c));
    const line = lines.find((l) => l.controllers.includes(c));
    if (mount && line) v1[c] = { mount: mount.point, own: ownUnder(mount, line.path) };
  }
  const missing = V1_CONTROLLERS.filter((c) => !v1[c]);
  if (missing.length === 0) return { version: 'v1', v1: v1 as Record<V1Controller, CgroupPlace> };
  if (v2) return { version: null, reason: `the cgroup2 mount at ${v2.point} lacks the cpu, memory and pids controllers, and cgroup v1 has no mount for ${missing.join(', ')}` };
  return { version: null, reason: `no cgroup filesystem is mounted with the cpu, memory and pids controllers (cgroup v1 lacks ${missing.join(', ')})` };
}

/** This host, read from /proc. */
export function detectHostCgroups(): CgroupSupport {
  const read = (p: string): string | null => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return null;
    }
  };
  const selfCgroup = read('/proc/self/cgroup');
  const mountinfo = read('/proc/self/mountinfo');
  if (selfCgroup === null || mountinfo === null) return { version: null, reason: 'no /proc/self/cgroup or /proc/self/mountinfo (not Linux, or /proc not mounted)' };
  return detectCgroups({ selfCgroup, mountinfo, uid: process.getuid?.(), read });
}

/** One line for the start-up log. */
export function describeSupport(s: CgroupSupport): string {
  if (s.version === 'v2') return `cgroup v2 at ${s.v2.mount} (agent in ${s.v2.own})`;
  if (s.version === 'v1') return `cgroup v1 (${V1_CONTROLLERS.map((c) => `${c} at ${s.v1[c].mount}${s.v1[c].own === '/' ? '' : `, agent in ${s.v1[c].own}`}`).join('; ')})`;
  return `none: ${s.reason}`;
}
