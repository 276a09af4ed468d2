/**
 * Converges this host's services to the deployments the server wants:
 * download and verify, unpack side by side (`versions/<version>-<sha>`),
 * render config, switch `current` atomically, and supervise. A failure at
 * any step leaves the running version alone and is reported in the
 * service's health. State lives on disk, so a restarted agent — with or
 * without a server — picks up where it was and re-adopts running processes
 * instead of starting second copies.
 *
 * Layout: <data>/services/<name>/{versions/<v>-<sha12>/, current -> versions/…, logs/, pid.json}
 *
 * A service with `resources` (manifest, or the deployment's override) runs
 * with its hooks in its own cgroup (cgroups/cgroups.ts); limit changes are
 * written live, or applied with a restart where the kernel refuses them.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import {
  artifactFor,
  effectiveResources,
  MANIFEST_FILE,
  parseManifest,
  renderHealthCheck,
  renderTemplate,
  type CompiledResources,
  type DeploymentSpec,
  type PackageManifest,
  type RenderedHealthCheck,
  type ServiceDetail,
} from '../../protocol/index.js';
import { sampleProcess } from './process-sample.js';
import { DownloadAbortedError, fetchArtifact, type DownloadTarget } from '../packages/download.js';
import { unpackArchive } from '../packages/unpack.js';
import { PackagePathError, readPackageFile, writePackageFile } from '../packages/package-files.js';
import { ServiceSupervisor, processStartTicks, type ServiceStatus } from './supervisor.js';
import { HealthChecker } from './health-check.js';
import { crashLoopReason } from './exit-words.js';
import { runHook } from './hooks.js';
import { writeFileAtomic } from '../atomic-write.js';
import { DEFAULT_ROTATION, rotateIfLarge, type RotationPolicy } from './log-rotation.js';
import { serviceUser, type RunAsUser } from './run-as.js';
import { grantServiceAccess } from './service-access.js';
import { DEFAULT_AGENT_POLICY, type AgentPolicy } from '../policy/agent-policy.js';
import { checkPublisher } from '../policy/publisher-policy.js';
import { cleanEnvironment } from '../environment.js';
import type { ServiceCgroups } from '../cgroups/cgroups.js';
import type { ServiceCgroup } from '../cgroups/service-cgroup.js';
import { sampleCgroup } from '../cgroups/cgroup-sample.js';

/** The limits a service declares (manifest + deployment override), or null when it declares none. Throws ResourcesError naming the field. */
function resourcesOf(spec: DeploymentSpec, manifest: PackageManifest): CompiledResources | null {
  if (manifest.resources === undefined && spec.resources === undefined) return null;
  return effectiveResources(manifest.resources, spec.resources);
}

const ROTATE_CHECK_MS = 10_000;

/** A config template's text, read without following links out of the package; a problem names the manifest field. */
async function readTemplate(versionDir: string, template: string, index: number): Promise<string> {
  try {
    return await readPackageFile(versionDir, template);
  } catch (e) {
    if (e instanceof PackagePathError) throw new PackagePathError(`config.files[${index}].template: ${e.message}`, { cause: e });
    throw e;
  }
}

export interface ServicesManagerOptions {
  dataDir: string;
  os: string;
  arch: string;
  /** When service output files rotate. Default DEFAULT_ROTATION (10 MiB, 3 copies). */
  logRotation?: RotationPolicy;
  /** How often output file sizes are checked. Default 10 s. */
  logCheckMs?: number;
  /** The local policy: PATH for children, who services may run as. Default DEFAULT_AGENT_POLICY. */
  policy?: AgentPolicy;
  /** Cgroups for services that declare `resources`; absent: such services fail to install when they declare limits. */
  cgroups?: ServiceCgroups;
}

/** Where a deployment's package stands on this host (reported as OpAMP PackageStatuses). */
export interface PackageState {
  status: 'downloading' | 'installing' | 'installed' | 'failed';
  hasVersion: string;
  hasSha256: string;
  offeredVersion: string;
  offeredSha256: string;
  downloadPercent: number | null;
  error: string;
}

export interface ServiceHealth {
  healthy: boolean;
  status: string;
  lastError: string;
  startTimeMs: number;
  version: string;
  /** Set when the last change could not be installed: which revision and why (reported as the `install` child component). */
  installFailed: { revision: number | undefined; error: string } | null;
}

interface Installed {
  spec: DeploymentSpec;
  versionDir: string;
  manifest: PackageManifest;
  supervisor: ServiceSupervisor;
  checker: HealthChecker;
  valuesKey: string;
  /** The user it runs as; undefined: the agent's own. */
  runAs: RunAsUser | undefined;
  /** Its own cgroup, when it declares `resources` and the host has cgroups. */
  cgroup: ServiceCgroup | null;
  /** The limits in effect (JSON), to tell a change. */
  resourcesKey: string;
}

export class ServicesManager extends EventEmitter {
  private readonly installed = new Map<string, Installed>();
  /** The last change each service could not install, with its revision (the previous version keeps running). */
  private readonly errors = new Map<string, { revision: number | undefined; error: string }>();
  private readonly packages = new Map<string, PackageState>();
  private queue: Promise<void> = Promise.resolve();
  private readonly root: string;
  /** Downloads under way (streaming or queued by the server), by artifact sha256, so a newer desired state or stop() can call them off. */
  private readonly downloads = new Map<string, AbortController>();
  private stopped = false;

  constructor(
    private readonly opts: ServicesManagerOptions,
    private readonly deps: { log: Logger; target: () => DownloadTarget },
  ) {
    super();
    this.root = join(opts.dataDir, 'services');
    this.rotation = setInterval(() => this.rotateLogs(), opts.logCheckMs ?? ROTATE_CHECK_MS);
    this.rotation.unref();
  }

  private readonly rotation: NodeJS.Timeout;

  private rotateLogs(): void {
    for (const name of this.installed.keys()) {
      for (const stream of ['stdout.log', 'stderr.log']) {
        try {
          if (rotateIfLarge(join(this.root, name, 'logs', stream), this.opts.logRotation ?? DEFAULT_ROTATION)) this.deps.log.info({ service: name, stream }, 'rotated service log');
        } catch (err) {
          this.deps.log.warn({ service: name, stream, err: (err as Error).message }, 'log rotation failed');
        }
      }
    }
  }

  /**
   * Converges to `specs` (all deployments for this agent). Calls are queued,
   * never concurrent; a download the new specs no longer want is called off
   * (its partial file stays), so a change never waits behind a download the
   * server keeps queueing.
   */
  reconcile(specs: DeploymentSpec[]): Promise<void> {
    const wanted = new Set(specs.map((s) => artifactFor(s, this.opts.os, this.opts.arch)?.sha256));
    for (const [sha256, download] of this.downloads) if (!wanted.has(sha256)) download.abort();
    this.queue = this.queue.then(() => this.converge(specs)).catch((err: unknown) => this.deps.log.error({ err }, 'reconcile failed'));
    return this.queue;
  }

  /**
   * Calls off downloads under way and stops log rotation. Services keep
   * running (a restarted agent re-adopts them). Further reconciles download
   * nothing. Call once, when the agent stops.
   */
  stop(): void {
    this.stopped = true;
    for (const download of this.downloads.values()) download.abort();
    clearInterval(this.rotation);
  }

  health(): Record<string, ServiceHealth> {
    const out: Record<string, ServiceHealth> = {};
    const names = new Set([...this.installed.keys(), ...this.errors.keys()]);
    for (const name of names) {
      const inst = this.installed.get(name);
      const st: ServiceStatus | undefined = inst?.supervisor.status();
      const check = inst?.checker.state;
      const checked = inst?.manifest.health.type === 'process' || check?.healthy === true;
      const failed = this.errors.get(name) ?? null;
      const error = failed?.error ?? '';
      const wanted = inst?.spec.desiredState ?? 'running';
      const running = st?.state === 'running' && !st.crashLoop;
      let status: string = st ? (st.crashLoop ? 'crash-loop' : st.state) : 'not-installed';
      if (status === 'running' && !checked) status = check?.healthy === false ? 'unhealthy' : 'starting';
      out[name] = {
        healthy: wanted === 'stopped' ? st?.state === 'stopped' && error === '' : running && checked && error === '',
        status,
        lastError:
          error ||
          (st?.crashLoop ? `crash loop: ${crashLoopReason(st)}` : '') ||
          (status === 'unhealthy' ? (check?.lastError ?? '') : st?.lastError || (st?.lastExit?.reason ?? '')),
        startTimeMs: st?.startedAt ?? 0,
        version: inst?.spec.version ?? '',
        installFailed: failed,
      };
    }
    return out;
  }

  /** Where a service runs (its directory and environment), for exec in a service's context. */
  environmentOf(name: string): { cwd: string; env: Record<string, string> } {
    const inst = this.installed.get(name);
    if (!inst) throw new Error(`no service ${name} on this agent`);
    return { cwd: join(inst.versionDir, inst.manifest.run.workingDir), env: this.serviceEnv(inst.spec, inst.manifest, inst.versionDir, inst.runAs) };
  }

  /** Every service in detail, for the query operation. */
  details(): ServiceDetail[] {
    const health = this.health();
    return [...this.installed.entries()].map(([name, inst]) => {
      const st = inst.supervisor.status();
      const sample = inst.cgroup ? sampleCgroup(inst.cgroup) : st.pid !== null ? sampleProcess(st.pid) : { cpuPercent: null, rssBytes: null };
      return {
        name,
        version: inst.spec.version,
        state: health[name]?.status ?? st.state,
        healthy: health[name]?.healthy ?? false,
        pid: st.pid,
        uptimeSeconds: st.state === 'running' && st.startedAt !== null ? Math.round((Date.now() - st.startedAt) / 1000) : null,
        restarts: st.restarts,
        lastExit: st.lastExit,
        configHash: createHash('sha256').update(inst.valuesKey).digest('hex').slice(0, 12),
        ...sample,
      };
    });
  }

  /** Name and pid of every service, for resource sampling; `cgroup` where it has one (its accounting replaces the pid's). */
  pids(): { name: string; pid: number | null; cgroup?: ServiceCgroup }[] {
    return [...this.installed.entries()].map(([name, inst]) => ({ name, pid: inst.supervisor.status().pid, ...(inst.cgroup ? { cgroup: inst.cgroup } : {}) }));
  }

  has(name: string): boolean {
    return this.installed.has(name);
  }

  /** Restarts a service now (imperative; the desired state is unchanged). Throws when there is no such running service. */
  restart(name: string): Promise<void> {
    const run = async () => {
      const inst = this.installed.get(name);
      if (!inst) throw new Error(`no service ${name} on this agent`);
      if (inst.spec.desiredState !== 'running') throw new Error(`service ${name} is stopped by its desired state; start it instead`);
      this.deps.log.info({ service: name }, 'restarting on request');
      await inst.supervisor.stop();
      inst.supervisor.start();
    };
    // Queued with reconciles, so a restart never races an install.
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** The spec each installed service runs as of its last successful change: what is in effect on this host. */
  inEffect(): DeploymentSpec[] {
    return [...this.installed.values()].map((i) => i.spec);
  }

  packageStates(): Record<string, PackageState> {
    return Object.fromEntries(this.packages);
  }

  private setPackage(name: string, state: Partial<PackageState>): void {
    const prev = this.packages.get(name) ?? { status: 'installing', hasVersion: '', hasSha256: '', offeredVersion: '', offeredSha256: '', downloadPercent: null, error: '' };
    this.packages.set(name, { ...prev, ...state });
    this.changed();
  }

  private changed(): void {
    this.emit('health');
  }

  private async converge(specs: DeploymentSpec[]): Promise<void> {
    const wanted = new Set(specs.map((s) => s.name));
    for (const [name] of this.installed) if (!wanted.has(name)) await this.uninstall(name);
    for (const name of [...this.errors.keys()]) if (!wanted.has(name)) this.errors.delete(name);
    for (const name of [...this.packages.keys()]) if (!wanted.has(name)) this.packages.delete(name);
    for (const spec of specs) {
      try {
        await this.apply(spec);
        this.errors.delete(spec.name);
      } catch (e) {
        if (e instanceof DownloadAbortedError) {
          // Superseded by a newer desired state (which converges next) or the agent is stopping: not a failure.
          this.deps.log.info({ service: spec.name, version: spec.version, err: e.message }, 'download called off');
          return;
        }
        const message = (e as Error).message;
        this.deps.log.error({ service: spec.name, version: spec.version, err: message }, 'service change failed; previous version left as it was');
        this.errors.set(spec.name, { revision: spec.revision, error: `${spec.version}: ${message}` });
        this.setPackage(spec.name, { status: 'failed', error: message, downloadPercent: null });
      }
      this.changed();
    }
  }

  private async apply(spec: DeploymentSpec): Promise<void> {
    const artifact = artifactFor(spec, this.opts.os, this.opts.arch);
    if (!artifact) throw new Error(`${spec.package}@${spec.version} has no artifact for ${this.opts.os}/${this.opts.arch}`);
    const dir = join(this.root, spec.name);
    const versionDir = join(dir, 'versions', `${spec.version}-${artifact.sha256.slice(0, 12)}`);
    this.setPackage(spec.name, { offeredVersion: spec.version, offeredSha256: artifact.sha256, error: '' });
    checkPublisher(this.policy, artifact, `${spec.package}@${spec.version}`);
    if (!existsSync(versionDir)) {
      // Private until grantServiceAccess says who else may read it (services/ and the service dir 0700).
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await mkdir(join(dir, 'versions'), { recursive: true, mode: 0o755 });
      this.setPackage(spec.name, { status: 'downloading', downloadPercent: 0 });
      let reported = 0;
      const download = new AbortController();
      if (this.stopped) download.abort();
      this.downloads.set(artifact.sha256, download);
      let archive: string;
      try {
        archive = await fetchArtifact(artifact, join(this.opts.dataDir, 'downloads'), this.deps.target(), {
          signal: download.signal,
          onProgress: (percent) => {
            // Progress in steps of 10 %, not per chunk.
            if (percent - reported >= 10) {
              reported = percent;
              this.setPackage(spec.name, { downloadPercent: percent });
            }
          },
          onQueued: ({ status, delayMs, refusals, percent }) => {
            // Still downloading as far as the server is told; the wait is the server's own doing.
            reported = percent;
            this.setPackage(spec.name, { status: 'downloading', downloadPercent: percent });
            const fields = { service: spec.name, version: spec.version, status, delayMs, refusals, percent };
            if (refusals === 1) this.deps.log.info(fields, 'artifact download queued by the server; waiting to resume');
            else this.deps.log.debug(fields, 'artifact download still queued by the server');
          },
        });
      } finally {
        this.downloads.delete(artifact.sha256);
      }
      this.setPackage(spec.name, { status: 'installing', downloadPercent: null });
      await unpackArchive(archive, versionDir);
      try {
        const fresh = parseManifest(await readFile(join(versionDir, MANIFEST_FILE), 'utf8'), `${spec.package}@${spec.version}/${MANIFEST_FILE}`);
        // Policy first: a refused user runs nothing, not even a hook.
        const user = serviceUser(spec.name, fresh.run.user, this.policy);
        const cgroup = await this.cgroupFor(spec.name, resourcesOf(spec, fresh));
        await grantServiceAccess({ dataDir: this.opts.dataDir, serviceDir: dir, user });
        await runHook(fresh, 'postInstall', { dir: versionDir, env: this.serviceEnv(spec, fresh, versionDir, user), cgroup, ...(user ? { runAs: user } : {}) });
      } catch (e) {
        // Not installed after all: the next attempt starts from a clean unpack.
        await rm(versionDir, { recursive: true, force: true });
        throw e;
      }
    }
    const manifest = parseManifest(await readFile(join(versionDir, MANIFEST_FILE), 'utf8'), `${spec.package}@${spec.version}/${MANIFEST_FILE}`);
    // Render every template before writing any, so a missing value changes nothing.
    const rendered = await Promise.all(
      manifest.config.files.map(async (f, i) => ({ path: f.path, body: renderTemplate(await readTemplate(versionDir, f.template, i), spec.values, f.template) })),
    );
    // Fill the health check's placeholders before switching anything, so a missing value leaves the running version alone.
    const health = renderHealthCheck(manifest.health, spec.values);
    // Resolve the user before switching anything, so a bad one leaves the running version alone.
    const runAs = serviceUser(spec.name, manifest.run.user, this.policy);
    // Likewise limits: bad values, or limits this host cannot enforce, change nothing.
    const resources = resourcesOf(spec, manifest);
    const cgroup = await this.cgroupFor(spec.name, resources);
    const resourcesKey = JSON.stringify(resources);
    await grantServiceAccess({ dataDir: this.opts.dataDir, serviceDir: dir, user: runAs });
    // Rendered config is readable by the service's user (group) and root only.
    for (const r of rendered) await writePackageFile(versionDir, r.path, r.body, { mode: 0o640, ...(runAs ? { owner: { uid: 0, gid: runAs.gid } } : {}) });
    const valuesKey = JSON.stringify(spec.values);
    const current = this.installed.get(spec.name);
    // A service gaining or losing its cgroup needs a new supervisor, as a new version does.
    if (!current || current.versionDir !== versionDir || (current.cgroup === null) !== (cgroup === null)) {
      if (spec.desiredState === 'running') await runHook(manifest, 'preStart', { dir: versionDir, env: this.serviceEnv(spec, manifest, versionDir, runAs), cgroup, ...(runAs ? { runAs } : {}) });
      await this.switchCurrent(dir, versionDir);
      const { supervisor, checker } = this.supervisorFor(spec, manifest, health, versionDir, runAs, cgroup);
      if (current) {
        current.checker.stop();
        await current.supervisor.stop();
        if (current.cgroup && !cgroup) await this.removeCgroup(spec.name, current.cgroup);
      }
      if (cgroup && resources) this.applyLimits(spec.name, cgroup, resources);
      this.installed.set(spec.name, { spec, versionDir, manifest, supervisor, checker, valuesKey, runAs, cgroup, resourcesKey });
      if (!current) this.adoptIfRunning(spec.name, supervisor);
      if (current) this.deps.log.info({ service: spec.name, from: current.spec.version, to: spec.version, cgroup: cgroup?.paths ?? null }, 'service version switched');
    } else {
      const changedValues = current.valuesKey !== valuesKey;
      if (current.resourcesKey !== resourcesKey && cgroup && resources) {
        try {
          this.applyLimits(spec.name, cgroup, resources);
          this.deps.log.info({ service: spec.name, resources: resourcesKey }, 'resource limits changed live');
        } catch (e) {
          // E.g. v1 refuses a memory limit below what the service uses now: apply it with the service stopped.
          this.deps.log.info({ service: spec.name, err: (e as Error).message }, 'resource limits cannot change live; restarting to apply them');
          await current.supervisor.stop();
          this.applyLimits(spec.name, cgroup, resources);
        }
      }
      Object.assign(current, { spec, valuesKey, resourcesKey });
      if (changedValues) current.checker.setSpec(health);
      if (changedValues && current.supervisor.status().state === 'running') {
        if (manifest.config.onChange === 'reload' && current.supervisor.status().pid) {
          process.kill(-current.supervisor.status().pid!, manifest.config.reloadSignal);
          this.deps.log.info({ service: spec.name, signal: manifest.config.reloadSignal }, 'config changed: reload signal sent');
        } else {
          await current.supervisor.stop();
          this.deps.log.info({ service: spec.name }, 'config changed: restarting');
        }
      }
    }
    this.setPackage(spec.name, { status: 'installed', hasVersion: spec.version, hasSha256: artifact.sha256, downloadPercent: null, error: '' });
    const inst = this.installed.get(spec.name)!;
    if (spec.desiredState === 'running') inst.supervisor.start();
    else await inst.supervisor.stop();
  }

  private async switchCurrent(dir: string, versionDir: string): Promise<void> {
    const link = join(dir, 'current');
    const tmp = `${link}.tmp-${process.pid}`;
    await rm(tmp, { force: true });
    await symlink(versionDir, tmp);
    await rename(tmp, link);
  }

  private supervisorFor(
    spec: DeploymentSpec,
    manifest: PackageManifest,
    health: RenderedHealthCheck,
    versionDir: string,
    runAs: RunAsUser | undefined,
    cgroup: ServiceCgroup | null,
  ): { supervisor: ServiceSupervisor; checker: HealthChecker } {
    const dir = join(this.root, spec.name);
    const command = manifest.run.command.includes('/') && !isAbsolute(manifest.run.command) ? join(versionDir, manifest.run.command) : manifest.run.command;
    const env = this.serviceEnv(spec, manifest, versionDir, runAs);
    const cwd = join(versionDir, manifest.run.workingDir);
    const checker = new HealthChecker(health, { cwd, env, ...(runAs ? { runAs } : {}) }, (state) => {
      this.deps.log.info({ service: spec.name, healthy: state.healthy, error: state.lastError }, 'service health changed');
      this.changed();
    });
    const supervisor = new ServiceSupervisor(
      {
        name: spec.name,
        command,
        args: manifest.run.args,
        env,
        cwd,
        stopSignal: manifest.stop.signal,
        stopGraceMs: manifest.stop.gracePeriodSeconds * 1000,
        restart: { ...manifest.restart, resetAfterMs: manifest.restart.resetAfterSeconds * 1000 },
        logDir: join(dir, 'logs'),
        ...(runAs ? { runAs: { uid: runAs.uid, gid: runAs.gid } } : {}),
        ...(cgroup ? { cgroup } : {}),
      },
      { log: this.deps.log },
    );
    supervisor.on('state', (st: ServiceStatus) => {
      if (st.state === 'running' && st.pid !== null) {
        // Atomic: an agent killed mid-write, or a reader, never sees a half-written file (adoption depends on it).
        writeFileAtomic(join(dir, 'pid.json'), JSON.stringify({ pid: st.pid, startTicks: processStartTicks(st.pid), startedAt: st.startedAt, versionDir }));
        checker.start();
      } else {
        checker.stop();
      }
      this.changed();
    });
    return { supervisor, checker };
  }

  private serviceEnv(spec: DeploymentSpec, manifest: PackageManifest, versionDir: string, user: RunAsUser | undefined): Record<string, string> {
    const base = cleanEnvironment({ path: this.policy.path, ...(user ? { home: user.home } : {}) });
    return { ...base, ...manifest.run.env, CORRAL_SERVICE: spec.name, CORRAL_SERVICE_DIR: versionDir };
  }

  /** The service's cgroup (created), or null. Throws when it declares limits this host cannot enforce (and policy does not allow that). */
  private async cgroupFor(service: string, resources: CompiledResources | null): Promise<ServiceCgroup | null> {
    if (resources === null) return null;
    if (!this.opts.cgroups) {
      if (Object.keys(resources).length === 0) return null;
      throw new Error(`service ${service} declares resource limits but this agent has no cgroup support configured`);
    }
    return this.opts.cgroups.forService(service, resources);
  }

  private applyLimits(service: string, cgroup: ServiceCgroup, resources: CompiledResources): void {
    for (const note of cgroup.apply(resources)) this.deps.log.warn({ service, note }, 'resource limit not enforced');
  }

  /** Kills what is left in a service's cgroup and removes it; a failure is logged (the service is gone either way). */
  private async removeCgroup(service: string, cgroup: ServiceCgroup): Promise<void> {
    try {
      await cgroup.remove();
      this.deps.log.info({ service, cgroup: cgroup.paths }, 'service cgroup removed');
    } catch (e) {
      this.deps.log.error({ service, err: (e as Error).message }, 'service cgroup could not be removed');
    }
  }

  private get policy(): AgentPolicy {
    return this.opts.policy ?? DEFAULT_AGENT_POLICY;
  }

  /** After an agent restart: take over the process the previous agent started, if it still runs this version. */
  private adoptIfRunning(name: string, supervisor: ServiceSupervisor): void {
    const inst = this.installed.get(name)!;
    try {
      const saved = JSON.parse(readFileSync(join(this.root, name, 'pid.json'), 'utf8')) as { pid: number; startTicks: string | null; startedAt: number; versionDir: string };
      if (saved.versionDir === inst.versionDir && saved.startTicks !== null && processStartTicks(saved.pid) === saved.startTicks) {
        supervisor.adopt(saved.pid, saved.startedAt);
        this.deps.log.info({ service: name, pid: saved.pid }, 'adopted running service');
      }
    } catch {
      // No pid file (first start) or unreadable: nothing to adopt.
    }
  }

  private async uninstall(name: string): Promise<void> {
    const inst = this.installed.get(name)!;
    inst.checker.stop();
    await inst.supervisor.stop();
    try {
      await runHook(inst.manifest, 'preUninstall', {
        dir: inst.versionDir,
        env: this.serviceEnv(inst.spec, inst.manifest, inst.versionDir, inst.runAs),
        cgroup: inst.cgroup,
        ...(inst.runAs ? { runAs: inst.runAs } : {}),
      });
    } catch (e) {
      this.deps.log.error({ service: name, err: (e as Error).message }, 'preUninstall hook failed; removing anyway');
    }
    if (inst.cgroup) await this.removeCgroup(name, inst.cgroup);
    await rm(join(this.root, name), { recursive: true, force: true });
    this.installed.delete(name);
    this.deps.log.info({ service: name }, 'service uninstalled');
    this.changed();
  }
}
