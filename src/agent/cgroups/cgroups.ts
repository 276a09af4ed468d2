/**
 * The agent's view of cgroups for services: what detect.ts found at
 * start-up, the parent name, and the decision per service:
 *
 * - a service without `resources` (in its manifest or deployment) runs as
 *   before, in its own process group, with no cgroup;
 * - a service with `resources` gets its own cgroup (an empty block `{}`
 *   asks for the cgroup alone: accounting and kill-everything on stop);
 * - when cgroups are unavailable, a service declaring limits fails to
 *   install with the reason, unless the local policy's
 *   services.allowUnenforcedLimits lets it run without them (logged).
 *
 * The cgroup code (service-cgroup.ts) is imported on the first service that
 * needs it, so an agent without such services stays as small as before.
 */
import type { Logger } from 'pino';
import { describeResources, hasLimits, type CompiledResources } from '../../protocol/index.js';
import type { CgroupSupport } from './detect.js';
import type { CgroupParent, ServiceCgroup } from './service-cgroup.js';

export class LimitsUnenforceableError extends Error {
  readonly code = 'LIMITS_UNENFORCEABLE';
}

export const DEFAULT_CGROUP_PARENT = 'corral';

export class ServiceCgroups {
  private parent: Promise<CgroupParent> | null = null;

  constructor(
    readonly support: CgroupSupport,
    private readonly opts: { parentName: string; allowUnenforced: boolean; policySource: string | null },
    private readonly deps: { log: Logger },
  ) {}

  private openParent(): Promise<CgroupParent> {
    this.parent ??= import('./service-cgroup.js').then(({ CgroupParent }) => {
      const parent = CgroupParent.open(this.support, this.opts.parentName);
      this.deps.log.info({ cgroup: this.support.version, parent: parent.paths }, 'service cgroup parent ready');
      return parent;
    });
    // A failure is retried on the next service (the host may have changed).
    this.parent.catch(() => {
      this.parent = null;
    });
    return this.parent;
  }

  /**
   * The service's cgroup, created, or null when it runs without one.
   * `resources` null: the service declares none. Throws
   * LimitsUnenforceableError (limits declared, no cgroups, policy does not
   * allow running unlimited) or CgroupError (creating it failed).
   */
  async forService(service: string, resources: CompiledResources | null): Promise<ServiceCgroup | null> {
    if (resources === null) return null;
    if (this.support.version === null) {
      if (!hasLimits(resources)) return null;
      const where = this.opts.policySource ? `this agent's policy (${this.opts.policySource})` : "this agent's policy";
      if (!this.opts.allowUnenforced) {
        throw new LimitsUnenforceableError(
          `service ${service} declares resource limits (${describeResources(resources)}) but this agent cannot enforce them: ${this.support.reason}; ${where} does not allow running without enforcement (services.allowUnenforcedLimits)`,
        );
      }
      this.deps.log.warn({ service, resources: describeResources(resources), reason: this.support.reason }, 'running service WITHOUT its resource limits (allowed by services.allowUnenforcedLimits)');
      return null;
    }
    let parent: CgroupParent;
    try {
      parent = await this.openParent();
    } catch (e) {
      if (!hasLimits(resources)) return null;
      throw e;
    }
    const cg = parent.service(service);
    cg.create();
    return cg;
  }
}
