/**
 * Where a self-upgrade keeps its state in the agent's data dir, and the
 * shapes of those files. Both the agent (old and new version) and the
 * watcher read them, so they are versioned and validated on read.
 *
 *   <data>/agent-versions/<version>/      unpacked agent packages (current + previous kept)
 *   <data>/agent-upgrade/top-level.json   the last top-level offer, its hash and the last failure
 *   <data>/agent-upgrade/handover.json    the watcher's instructions (present while one watches)
 *   <data>/agent-upgrade/supervised.json  under a service manager: the unit and the launch link's two targets
 *   <data>/agent-upgrade/watcher-ready.json  under a service manager: the watcher's go (or no-go) to the old agent
 *   <data>/agent-upgrade/healthy.json     written by the new agent after its first accepted exchange
 *   <data>/agent-upgrade/watcher.log      the watcher's log
 *   <data>/agent-upgrade/agent.log        output of agents the watcher started
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-write.js';

export const upgradeDir = (dataDir: string): string => join(dataDir, 'agent-upgrade');
export const versionsDir = (dataDir: string): string => join(dataDir, 'agent-versions');
export const handoverFile = (dataDir: string): string => join(upgradeDir(dataDir), 'handover.json');
export const healthyFile = (dataDir: string): string => join(upgradeDir(dataDir), 'healthy.json');
export const topLevelFile = (dataDir: string): string => join(upgradeDir(dataDir), 'top-level.json');
export const supervisedFile = (dataDir: string): string => join(upgradeDir(dataDir), 'supervised.json');
export const watcherReadyFile = (dataDir: string): string => join(upgradeDir(dataDir), 'watcher-ready.json');

const Hex = z.string().regex(/^[0-9a-f]*$/);

const Offer = z
  .object({
    version: z.string(),
    /** PackageAvailable.hash (hex). */
    hash: Hex,
    sha256: Hex,
    signature: Hex,
    /** Server-relative download path (/api/v1/artifacts/<sha256>). */
    path: z.string(),
  })
  .strict();

export const TopLevelStateSchema = z
  .object({
    version: z.literal(1),
    /** PackagesAvailable.all_packages_hash (hex) of the last offer, echoed in PackageStatuses. */
    allPackagesHash: Hex,
    offer: Offer.nullable(),
    /** Why the offer with this package hash failed; it is not retried until the offer changes. */
    failure: z.object({ hash: Hex, version: z.string(), error: z.string(), at: z.number() }).strict().nullable(),
  })
  .strict();

export type TopLevelOffer = z.infer<typeof Offer>;
export type TopLevelState = z.infer<typeof TopLevelStateSchema>;

const Executable = z
  .object({
    version: z.string(),
    node: z.string(),
    /** Flags for node before the script (the old agent's process.execArgv, e.g. AGENT_NODE_FLAGS); absent in handovers of older agents. */
    nodeArgs: z.array(z.string()).default([]),
    /** The agent's script for node; '' when `node` is the agent itself (a single executable). */
    script: z.string(),
  })
  .strict();

export type AgentExecutable = z.infer<typeof Executable>;

/** The command and arguments that start `exec` with the agent arguments `argv`. */
export function agentCommand(exec: Pick<AgentExecutable, 'node' | 'nodeArgs' | 'script'>, argv: readonly string[]): [string, string[]] {
  return [exec.node, [...exec.nodeArgs, ...(exec.script ? [exec.script] : []), ...argv]];
}

/** The file inside the agent's version directory that `exec` runs (its script, or the executable). */
export const agentFile = (exec: Pick<AgentExecutable, 'node' | 'script'>): string => exec.script || exec.node;

export const HandoverSchema = z
  .object({
    version: z.literal(1),
    /** The old agent's pid and kernel start time (so a reused pid is never killed). */
    oldPid: z.number().int(),
    oldStartTicks: z.string().nullable(),
    previous: Executable,
    next: Executable,
    /** The agent's arguments after the script, e.g. ['agent', '--server', …]. */
    argv: z.array(z.string()),
    cwd: z.string(),
    /** The offer being installed (package hash), to record a failure against. */
    offerHash: Hex,
    graceMs: z.number().int().positive(),
    createdAt: z.number(),
  })
  .strict();

export type Handover = z.infer<typeof HandoverSchema>;

/**
 * The part of a handover that only a supervised upgrade has. A file of its
 * own rather than a field of handover.json, whose strict schema older
 * versions (which may be the new agent, on a downgrade) read.
 */
export const SupervisedHandoverSchema = z
  .object({
    version: z.literal(1),
    supervisor: z.literal('systemd'),
    /** The full unit name, e.g. corral-agent.service. */
    unit: z.string(),
    /** <data>/agent-current. */
    link: z.string(),
    /** The package roots the link names before and after the upgrade. */
    previousTarget: z.string(),
    nextTarget: z.string(),
  })
  .strict();

export type SupervisedHandover = z.infer<typeof SupervisedHandoverSchema>;

/** Written by a supervised watcher once it can see the unit (ok), or why it cannot (the old agent then keeps running). */
export const WatcherReadySchema = z
  .object({ pid: z.number().int(), ok: z.boolean(), error: z.string(), baselineRestarts: z.number().int() })
  .strict();

export const HealthyMarkerSchema = z.object({ pid: z.number().int(), version: z.string(), at: z.number() }).strict();

/** Reads and validates a JSON file; null when absent or invalid (the caller says which matters). */
export function readJson<T>(file: string, schema: z.ZodType<T>): T | null {
  if (!existsSync(file)) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function writeJson(file: string, value: unknown): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, 0o600);
}

export function removeFile(file: string): void {
  rmSync(file, { force: true });
}

export function loadTopLevelState(dataDir: string): TopLevelState {
  return readJson(topLevelFile(dataDir), TopLevelStateSchema) ?? { version: 1, allPackagesHash: '', offer: null, failure: null };
}

/** Records that the offer with package hash `hash` failed (watcher and agent both call this). */
export function recordUpgradeFailure(dataDir: string, failure: { hash: string; version: string; error: string; at: number }): void {
  writeJson(topLevelFile(dataDir), { ...loadTopLevelState(dataDir), failure });
}
