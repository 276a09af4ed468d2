/**
 * The agent's side of upgrading itself: takes the OpAMP top-level package
 * offer, and when its version differs from ours downloads it (resuming, sha256
 * and the pinned ed25519 key checked exactly as for deployments), unpacks it
 * side by side into `<data>/agent-versions/<version>/`, writes the watcher's
 * handover file, starts the watcher (detached, from this version's code) and
 * asks the process to exit without stopping services.
 *
 * Under a service manager (options.supervisor: systemd runs us through the
 * launch link `<data>/agent-current`, Restart=always) the handover differs:
 * the watcher must first confirm it sees the unit with us as its main
 * process; then we point the link at the new version and exit 0, and the
 * service manager starts the new version (see watcher.ts).
 *
 * Status, reported as the top-level PackageStatus (key ''):
 *   (no offer) → downloading → installing → (handover; the process exits)
 *   any → failed   (download, verification or unpack failed, or the watcher reverted)
 *   installed      (the offered version is the one running)
 * A failed offer is not retried until the offer (its package hash) changes.
 * Offers are handled one at a time; an offer superseded meanwhile is dropped.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Logger } from 'pino';
import {
  MANIFEST_FILE,
  PackageType,
  TOP_LEVEL_PACKAGE_NAME,
  parseAnyManifest,
  type PackagesAvailable,
} from '../../protocol/index.js';
import { AGENT_VERSION } from '../description.js';
import { AGENT_NODE_FLAGS } from '../node-flags.js';
import { isNodeScript, isSingleExecutable } from '../single-executable.js';
import { artifactSize, fetchArtifact, type DownloadTarget } from '../packages/download.js';
import { unpackArchive } from '../packages/unpack.js';
import { processStartTicks } from '../services/supervisor.js';
import type { AgentSupervisor } from '../options.js';
import { DEFAULT_AGENT_POLICY, type AgentPolicy } from '../policy/agent-policy.js';
import { checkPublisher } from '../policy/publisher-policy.js';
import { launchLinkPath, pathThroughLink, pointLaunchLink, readLaunchLink } from './launch-link.js';
import {
  HealthyMarkerSchema,
  SupervisedHandoverSchema,
  WatcherReadySchema,
  handoverFile,
  healthyFile,
  loadTopLevelState,
  agentCommand,
  agentFile,
  readJson,
  recordUpgradeFailure,
  supervisedFile,
  topLevelFile,
  upgradeDir,
  versionsDir,
  watcherReadyFile,
  writeJson,
  HandoverSchema,
  type AgentExecutable,
  type Handover,
  type SupervisedHandover,
  type TopLevelOffer,
  type TopLevelState,
} from './upgrade-files.js';

export type TopLevelStatus = 'downloading' | 'installing' | 'installed' | 'failed';

/** What the agent reports for its own package. */
export interface TopLevelPackageState {
  name: typeof TOP_LEVEL_PACKAGE_NAME;
  status: TopLevelStatus;
  hasVersion: string;
  /** PackageAvailable.hash (hex) of what runs, when it is the offered one. */
  hasHash: string;
  offeredVersion: string;
  offeredHash: string;
  downloadPercent: number | null;
  error: string;
}

const ARTIFACT_PATH = /^\/api\/v1\/artifacts\/([0-9a-f]{64})$/;

export interface SelfUpgraderOptions {
  dataDir: string;
  /** The new agent must report healthy within this long, or the watcher reverts. */
  graceMs: number;
  /** This agent's command line: node, script, then its arguments (default: this process's). */
  argv?: string[];
  /** The service manager that restarts this agent, if any (from CORRAL_AGENT_SUPERVISOR / CORRAL_AGENT_UNIT). */
  supervisor?: AgentSupervisor | null;
  /** How long a supervised handover waits for the watcher's go. Default 15 s. */
  watcherReadyMs?: number;
  /** The local policy: pinned publisher keys also hold for agent packages. Default DEFAULT_AGENT_POLICY. */
  policy?: AgentPolicy;
  /** Whether this agent is a single executable (default: node:sea's isSea()). */
  singleExecutable?: boolean;
}

/** The watcher the old agent started: enough to wait for it and to stop it if the handover fails. */
export interface WatcherProcess {
  pid: number;
  /** Whether it has exited. */
  exited(): boolean;
}

export class SelfUpgrader extends EventEmitter {
  private state: TopLevelState;
  private progress: { status: 'downloading' | 'installing'; percent: number | null } | null = null;
  private queue: Promise<void> = Promise.resolve();
  private latest: TopLevelOffer | null = null;
  private markedHealthy = false;

  constructor(
    private readonly opts: SelfUpgraderOptions,
    private readonly deps: { log: Logger; target: () => DownloadTarget; exitForUpgrade: () => void; spawnWatcher?: (handover: string) => Promise<WatcherProcess> },
  ) {
    super();
    this.state = loadTopLevelState(opts.dataDir);
  }

  /** PackagesAvailable.all_packages_hash (hex) of the last offer, for PackageStatuses. */
  get allPackagesHash(): string {
    return this.state.allPackagesHash;
  }

  /** The top-level package status; null before any offer. */
  status(): TopLevelPackageState | null {
    const offer = this.state.offer;
    if (!offer) return null;
    const running = offer.version === AGENT_VERSION;
    const failed = !running && this.state.failure?.hash === offer.hash;
    const status: TopLevelStatus = running ? 'installed' : failed ? 'failed' : (this.progress?.status ?? 'installing');
    return {
      name: TOP_LEVEL_PACKAGE_NAME,
      status,
      hasVersion: AGENT_VERSION,
      hasHash: running ? offer.hash : '',
      offeredVersion: offer.version,
      offeredHash: offer.hash,
      downloadPercent: status === 'downloading' ? (this.progress?.percent ?? 0) : null,
      error: failed ? this.state.failure!.error : '',
    };
  }

  /** Handles ServerToAgent.packages_available. */
  offer(available: PackagesAvailable): void {
    const allPackagesHash = Buffer.from(available.allPackagesHash).toString('hex');
    const p = available.packages[TOP_LEVEL_PACKAGE_NAME];
    if (!p || p.type !== PackageType.PackageType_TopLevel || !p.file) {
      // Nothing for us (a Corral agent has only its top-level package): keep what runs.
      this.save({ ...this.state, allPackagesHash });
      this.changed();
      return;
    }
    const offer: TopLevelOffer = {
      version: p.version,
      hash: Buffer.from(p.hash).toString('hex'),
      sha256: Buffer.from(p.file.contentHash).toString('hex'),
      signature: Buffer.from(p.file.signature).toString('hex'),
      path: this.artifactPath(p.file.downloadUrl),
    };
    this.save({ ...this.state, allPackagesHash, offer });
    this.changed();
    this.schedule(offer);
  }

  /**
   * The server accepted a message from us. Once per process: if a watcher
   * waits for this version, tell it we are healthy; and an offer taken
   * before a restart (neither installed nor failed) is installed now.
   */
  connected(): void {
    if (this.markedHealthy) return;
    this.markedHealthy = true;
    if (this.state.offer) this.schedule(this.state.offer);
    const handover = readJson(handoverFile(this.opts.dataDir), HandoverSchema);
    if (!handover || handover.next.version !== AGENT_VERSION) return;
    writeJson(healthyFile(this.opts.dataDir), HealthyMarkerSchema.parse({ pid: process.pid, version: AGENT_VERSION, at: Date.now() }));
    this.deps.log.info({ version: AGENT_VERSION }, 'upgrade: reported healthy to the watcher');
  }

  private schedule(offer: TopLevelOffer): void {
    this.latest = offer;
    this.queue = this.queue
      .then(() => this.install(offer))
      .catch((err: unknown) => this.deps.log.error({ err }, 'upgrade failed unexpectedly'));
  }

  /** The offered URL must be this server's artifact path for the offered sha256 (we download with our own credential). */
  private artifactPath(url: string): string {
    try {
      const path = new URL(url, this.deps.target().baseUrl).pathname;
      return ARTIFACT_PATH.test(path) ? path : '';
    } catch {
      return '';
    }
  }

  private async install(offer: TopLevelOffer): Promise<void> {
    if (offer !== this.latest) return;
    if (offer.version === AGENT_VERSION) return;
    if (this.state.failure?.hash === offer.hash) {
      this.deps.log.info({ version: offer.version, error: this.state.failure.error }, 'upgrade: this offer failed before; waiting for a different one');
      return;
    }
    const log = this.deps.log.child({ upgradeTo: offer.version });
    try {
      if (ARTIFACT_PATH.exec(offer.path)?.[1] !== offer.sha256) {
        throw new Error(`the offered download URL is not this server's /api/v1/artifacts/${offer.sha256}`);
      }
      // The server's ed25519 signature, then the publisher's when the package has one.
      if (!/^[0-9a-f]{128}([0-9a-f]{128})?$/.test(offer.signature)) throw new Error('the offer carries no ed25519 signature: refusing an unsigned artifact');
      const serverSignature = offer.signature.slice(0, 128);
      checkPublisher(this.opts.policy ?? DEFAULT_AGENT_POLICY, { sha256: offer.sha256, publisherSignature: offer.signature.slice(128) || undefined }, `corral-agent@${offer.version}`);
      this.setProgress('downloading', 0);
      const target = this.deps.target();
      const size = await artifactSize(offer.path, target);
      let reported = 0;
      const archive = await fetchArtifact(
        { os: process.platform, arch: process.arch, sha256: offer.sha256, signature: serverSignature, size, path: offer.path },
        join(this.opts.dataDir, 'downloads'),
        target,
        {
          onProgress: (percent) => {
            if (percent - reported >= 10) {
              reported = percent;
              this.setProgress('downloading', percent);
            }
          },
        },
      );
      this.setProgress('installing', null);
      const dest = join(versionsDir(this.opts.dataDir), offer.version);
      const own = relative(resolve(dest), realpathSync(this.script()));
      if (!own.startsWith('..') && !isAbsolute(own)) throw new Error(`${dest} is the running agent's own directory`);
      mkdirSync(versionsDir(this.opts.dataDir), { recursive: true });
      rmSync(dest, { recursive: true, force: true });
      await unpackArchive(archive, dest);
      const manifest = parseAnyManifest(readFileSync(join(dest, MANIFEST_FILE), 'utf8'), `${offer.version}/${MANIFEST_FILE}`);
      if (manifest.kind !== 'agent') throw new Error(`the package is kind: ${manifest.kind}, not an agent package`);
      const entry = join(dest, manifest.agent.entry);
      if (relative(dest, entry).startsWith('..') || !existsSync(entry)) throw new Error(`agent.entry ${manifest.agent.entry} is not in the package`);
      const next = this.nextExecutable(offer.version, dest, entry);
      if (offer !== this.latest) return;
      await this.handOver(offer, dest, next);
      log.info({ entry }, 'upgrade: unpacked; handing over to the watcher and exiting (services keep running)');
      this.deps.exitForUpgrade();
    } catch (e) {
      const error = `upgrade to ${offer.version} failed: ${(e as Error).message}`;
      log.error({ err: (e as Error).message }, 'upgrade failed; this version keeps running');
      this.progress = null;
      recordUpgradeFailure(this.opts.dataDir, { hash: offer.hash, version: offer.version, error, at: Date.now() });
      this.state = loadTopLevelState(this.opts.dataDir);
      this.changed();
    }
  }

  /** The running agent's file: its script, or (a single executable) the executable as it was started. */
  private script(): string {
    return (this.opts.argv ?? process.argv)[1]!;
  }

  /** Whether this agent is a single executable (argv[1] is then the executable itself, not a script). */
  private sea(): boolean {
    return this.opts.singleExecutable ?? isSingleExecutable();
  }

  /** How the watcher runs this agent (to restart it on a revert, and for itself). */
  private previousExecutable(): AgentExecutable {
    // The new version and the watcher run with the node flags this agent was started with (the systemd unit's, say).
    if (this.sea()) return { version: AGENT_VERSION, node: process.execPath, nodeArgs: [], script: '' };
    return { version: AGENT_VERSION, node: process.execPath, nodeArgs: process.execArgv, script: realpathSync(this.script()) };
  }

  /**
   * How the watcher runs the new version: a script with node (this node and
   * its flags; a single executable has no node of its own to lend, so the
   * package's node/bin/node), an executable (a single executable package) as is.
   */
  private nextExecutable(version: string, dest: string, entry: string): AgentExecutable {
    if (!isNodeScript(entry)) {
      try {
        accessSync(entry, constants.X_OK);
      } catch {
        throw new Error(`agent.entry ${relative(dest, entry)} is neither a .js script nor an executable file`);
      }
      return { version, node: entry, nodeArgs: [], script: '' };
    }
    if (!this.sea()) return { version, node: process.execPath, nodeArgs: process.execArgv, script: entry };
    const node = join(dest, 'node', 'bin', 'node');
    if (!existsSync(node)) {
      throw new Error(`this agent is a single executable and has no node to run ${relative(dest, entry)} with: deploy a single executable package (corral-agent-sea) or one that carries node/bin/node`);
    }
    return { version, node, nodeArgs: [...AGENT_NODE_FLAGS], script: entry };
  }

  private async handOver(offer: TopLevelOffer, dest: string, next: AgentExecutable): Promise<void> {
    const argv = this.opts.argv ?? process.argv;
    const entry = agentFile(next);
    const handover: Handover = {
      version: 1,
      oldPid: process.pid,
      oldStartTicks: processStartTicks(process.pid),
      previous: this.previousExecutable(),
      next,
      argv: argv.slice(2),
      cwd: process.cwd(),
      offerHash: offer.hash,
      graceMs: this.opts.graceMs,
      createdAt: Date.now(),
    };
    const supervised = this.opts.supervisor ? this.supervisedHandover(argv[1]!, dest, entry) : null;
    const dataDir = this.opts.dataDir;
    const file = handoverFile(dataDir);
    for (const f of [healthyFile(dataDir), watcherReadyFile(dataDir), supervisedFile(dataDir)]) rmSync(f, { force: true });
    if (supervised) writeJson(supervisedFile(dataDir), supervised);
    writeJson(file, handover);
    let watcher = null as WatcherProcess | null;
    try {
      try {
        watcher = await (this.deps.spawnWatcher ?? ((f: string) => spawnWatcher(f, handover.previous, upgradeDir(dataDir))))(file);
      } catch (e) {
        throw new Error(`could not start the upgrade watcher: ${(e as Error).message}`, { cause: e });
      }
      if (supervised) {
        await this.awaitWatcherReady(watcher);
        // From here the service manager's next start runs the new version.
        pointLaunchLink(supervised.link, supervised.nextTarget);
      }
    } catch (e) {
      if (watcher && !watcher.exited()) killWatcher(watcher.pid, this.deps.log);
      for (const f of [file, supervisedFile(dataDir), watcherReadyFile(dataDir)]) rmSync(f, { force: true });
      throw e;
    }
  }

  /**
   * The launch link's targets for a supervised upgrade. Throws when this
   * agent was not started through `<data>/agent-current` (a unit not written
   * by this version of `corral agent install`), or the new package's entry is
   * not where the unit's ExecStart will look for it.
   */
  private supervisedHandover(script: string, nextTarget: string, entry: string): SupervisedHandover {
    const sup = this.opts.supervisor!;
    const link = launchLinkPath(this.opts.dataDir);
    const inLink = pathThroughLink(link, script);
    const previousTarget = readLaunchLink(link);
    if (!inLink || !previousTarget) {
      throw new Error(`${sup.kind} runs this agent as ${script}, not through ${link}: run \`corral agent install\` again so the unit starts the agent through the launch link`);
    }
    if (resolve(nextTarget, inLink) !== resolve(entry)) {
      throw new Error(`the package's agent.entry is ${relative(nextTarget, entry)}, but ${sup.kind} starts ${join(link, inLink)}`);
    }
    return SupervisedHandoverSchema.parse({ version: 1, supervisor: sup.kind, unit: sup.unit, link, previousTarget, nextTarget });
  }

  /** Waits for the watcher's go (it sees the unit, we are its main process); throws its no-go or a timeout. */
  private async awaitWatcherReady(watcher: WatcherProcess): Promise<void> {
    const deadline = Date.now() + (this.opts.watcherReadyMs ?? 15_000);
    for (;;) {
      const ready = readJson(watcherReadyFile(this.opts.dataDir), WatcherReadySchema);
      if (ready && ready.pid === watcher.pid) {
        if (!ready.ok) throw new Error(ready.error);
        return;
      }
      if (watcher.exited()) throw new Error(`the upgrade watcher exited before it could watch (see ${join(upgradeDir(this.opts.dataDir), 'watcher.log')})`);
      if (Date.now() >= deadline) throw new Error('the upgrade watcher did not confirm it can watch the service within 15 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private setProgress(status: 'downloading' | 'installing', percent: number | null): void {
    this.progress = { status, percent };
    this.changed();
  }

  private save(state: TopLevelState): void {
    this.state = state;
    writeJson(topLevelFile(this.opts.dataDir), state);
  }

  private changed(): void {
    this.emit('status');
  }
}

/**
 * Starts `corral agent watch --handover FILE` from the running (old)
 * version's code, detached (its own session, output to watcher.log), so it
 * outlives this process. Resolves once it runs; rejects when it cannot start.
 */
export async function spawnWatcher(handover: string, self: Pick<AgentExecutable, 'node' | 'nodeArgs' | 'script'>, logDir: string): Promise<WatcherProcess> {
  mkdirSync(logDir, { recursive: true });
  const out = openSync(join(logDir, 'watcher.log'), 'a', 0o640);
  try {
    const [command, args] = agentCommand(self, ['agent', 'watch', '--handover', handover]);
    const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    let gone = false;
    child.once('exit', () => (gone = true));
    child.unref();
    return { pid: child.pid!, exited: () => gone };
  } finally {
    closeSync(out);
  }
}

function killWatcher(pid: number, log: Logger): void {
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    log.debug({ pid, err: (err as Error).message }, 'the watcher was already gone');
  }
}
