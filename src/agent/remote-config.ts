/**
 * Applying remote config offered by the server.
 *
 * All files are validated first; only if every one is valid are they
 * written, into a new directory `config-store/<hash>/`, and `config` (a
 * symlink) is switched to it atomically. So a bad offer leaves the previous
 * files in place, and a crash mid-way leaves either the old or the new set.
 * The last status is kept in `remote-config.json` so a restarted agent
 * reports the same hash and status.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { DEPLOYMENT_CONTENT_TYPE, DeploymentSpecSchema, type DeploymentSpec } from '../protocol/index.js';

export type ConfigStatus = 'UNSET' | 'APPLYING' | 'APPLIED' | 'FAILED';

export interface ConfigFileOffer {
  body: Uint8Array;
  contentType: string;
}

export interface RemoteConfigState {
  version: 1;
  /** hex of the last offered config hash; '' before any offer. */
  hash: string;
  status: ConfigStatus;
  errorMessage: string;
  /** The files in effect (the last successfully applied set). */
  applied: Record<string, { contentType: string; body: string }>;
}

/** What validates and uses config files; the services module will plug its own in. */
export interface ConfigHandler {
  /** Returns an error message for an unacceptable file, or null. */
  validate(name: string, file: ConfigFileOffer): string | null;
}

const SAFE_NAME = /^[A-Za-z0-9._-]{1,255}$/;

export const jsonAwareHandler: ConfigHandler = {
  validate(name, file) {
    if (!SAFE_NAME.test(name) || name === '.' || name === '..') return `file name "${name}" is not a plain file name`;
    if (file.contentType === DEPLOYMENT_CONTENT_TYPE) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(file.body).toString('utf8'));
      } catch (e) {
        return `${name}: invalid JSON: ${(e as Error).message}`;
      }
      const result = DeploymentSpecSchema.safeParse(parsed);
      return result.success ? null : `${name}: invalid deployment: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
    }
    if (file.contentType.split(';')[0]!.trim() === 'application/json' || name.endsWith('.json')) {
      try {
        JSON.parse(Buffer.from(file.body).toString('utf8'));
      } catch (e) {
        return `${name}: invalid JSON: ${(e as Error).message}`;
      }
    }
    return null;
  },
};

export class RemoteConfigManager {
  private readonly stateFile: string;
  private readonly storeDir: string;
  private readonly link: string;
  state: RemoteConfigState;

  constructor(
    private readonly dataDir: string,
    private readonly handler: ConfigHandler = jsonAwareHandler,
  ) {
    this.stateFile = join(dataDir, 'remote-config.json');
    this.storeDir = join(dataDir, 'config-store');
    this.link = join(dataDir, 'config');
    this.state = this.load();
  }

  private load(): RemoteConfigState {
    if (!existsSync(this.stateFile)) return { version: 1, hash: '', status: 'UNSET', errorMessage: '', applied: {} };
    try {
      const s = JSON.parse(readFileSync(this.stateFile, 'utf8')) as RemoteConfigState;
      if (s.version !== 1) throw new Error(`unknown version ${String(s.version)}`);
      // An apply interrupted by a crash is reported as failed, not as in progress forever.
      if (s.status === 'APPLYING') return { ...s, status: 'FAILED', errorMessage: 'agent stopped while applying; will apply again when offered' };
      return s;
    } catch (e) {
      throw new Error(`${this.stateFile} is unreadable: ${(e as Error).message}`, { cause: e });
    }
  }

  private save(): void {
    writeFileAtomic(this.stateFile, JSON.stringify(this.state), 0o600);
  }

  /** Marks an offer as being applied. */
  begin(hash: string): void {
    this.state = { ...this.state, hash, status: 'APPLYING', errorMessage: '' };
    this.save();
  }

  /** Validates and applies; returns the new state. Never throws for a bad offer: that is a FAILED state. */
  apply(hash: string, files: Record<string, ConfigFileOffer>): RemoteConfigState {
    const problems = Object.entries(files)
      .map(([name, f]) => this.handler.validate(name, f))
      .filter((p): p is string => p !== null);
    if (problems.length > 0) {
      this.state = { ...this.state, hash, status: 'FAILED', errorMessage: problems.join('; ') };
      this.save();
      return this.state;
    }
    try {
      const dir = join(this.storeDir, hash || 'empty');
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const applied: RemoteConfigState['applied'] = {};
      for (const [name, f] of Object.entries(files)) {
        writeFileSync(join(dir, name), f.body, { mode: 0o640 });
        applied[name] = { contentType: f.contentType, body: Buffer.from(f.body).toString('utf8') };
      }
      const tmpLink = `${this.link}.tmp-${process.pid}`;
      rmSync(tmpLink, { force: true });
      symlinkSync(join('config-store', hash || 'empty'), tmpLink);
      renameSync(tmpLink, this.link);
      for (const old of readdirSync(this.storeDir)) if (old !== (hash || 'empty')) rmSync(join(this.storeDir, old), { recursive: true, force: true });
      this.state = { version: 1, hash, status: 'APPLIED', errorMessage: '', applied };
    } catch (e) {
      this.state = { ...this.state, hash, status: 'FAILED', errorMessage: `could not write config files: ${(e as Error).message}` };
    }
    this.save();
    return this.state;
  }
}

/** The deployments in an applied config (validated when they were applied). */
export function deploymentSpecs(state: RemoteConfigState): DeploymentSpec[] {
  return Object.values(state.applied)
    .filter((f) => f.contentType === DEPLOYMENT_CONTENT_TYPE)
    .map((f) => DeploymentSpecSchema.parse(JSON.parse(f.body)));
}
