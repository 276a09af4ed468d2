/**
 * A test fleet: one real `corral server` process and real `corral agent`
 * processes, each with its own data dir, plus the real CLI and a small REST
 * client. Everything is torn down by `close()`.
 *
 *   const fleet = await Fleet.start({ database });
 *   const a = await fleet.startAgent({ labels: { env: 'prod' } });   // trusted: bound by its enrollment token
 *   const b = await fleet.startAgent({ claims: { env: 'prod' } });   // claimed: its own --label flags
 *   await fleet.awaitAgent(a, (x) => x.status === 'online');
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_FLAGS } from '../agent/index.js';
import { eventually } from './eventually.js';
import { CorralProcess, killAll, runCorral, type Launch } from './processes.js';

export interface FleetOptions {
  /** A postgres:// URL; SQLite in the server's data dir when absent. */
  database?: string;
  /** Heartbeat seconds (fractions allowed) offered to agents. */
  heartbeatSeconds?: number;
  offlineAfterMissed?: number;
  extraServerArgs?: string[];
  /**
   * The server's --rollout-defaults. Tests that are not about rollouts get
   * changes everywhere at once and keep a failed change in place (pause),
   * as they did before rollouts existed.
   */
  rolloutDefaults?: Record<string, unknown>;
  /**
   * How agents are started: default node with AGENT_NODE_FLAGS and this
   * checkout's dist/bin/corral.js; `agentLaunch()` from agent-build.ts gives
   * the self-contained bundle or the single executable.
   */
  agentLaunch?: Launch;
}

export const IMMEDIATE_ROLLOUTS = { maxInFlight: '100%', minHealthySeconds: 0, onFailure: 'pause' };

export interface AgentSummaryJson {
  id: string;
  name: string;
  kind: string;
  status: string;
  /** Trusted labels: bound by the enrollment token, overridden by operator labels. */
  labels: Record<string, string>;
  operatorLabels: Record<string, string>;
  boundLabels: Record<string, string>;
  /** The agent's own --label flags (claims). */
  claimedLabels: Record<string, string>;
  approval: 'approved' | 'pending';
  enrollmentTokenId: string | null;
  nonIdentifyingAttributes: Record<string, string>;
  identifyingAttributes: Record<string, string>;
  os: string;
  arch: string;
  agentVersion: string;
  lastSeenAt: string;
  health: { healthy: boolean; status: string } | null;
  config: { status: string; desiredHash: string | null; reportedHash: string | null; errorMessage: string };
  agentPackage: { version: string; offeredVersion: string; status: string; error: string; downloadPercent: number | null } | null;
}

export class TestAgent {
  process: CorralProcess;
  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly args: string[],
    readonly env: Record<string, string> = {},
    readonly launch?: Launch,
  ) {
    this.process = new CorralProcess(args, env, AGENT_NODE_FLAGS, { launch });
  }

  /** The instance uid the agent persisted (waits for the file). */
  async instanceUid(): Promise<string> {
    return eventually(
      async () => {
        const identity = JSON.parse(await readFile(join(this.dataDir, 'identity.json'), 'utf8')) as { instanceUid: string };
        return identity.instanceUid;
      },
      // The agent process starts slowly on a loaded machine.
      { timeoutMs: 30_000, what: `${this.name} identity.json` },
    );
  }

  async restart(): Promise<void> {
    await this.process.stop();
    this.process = new CorralProcess(this.args, this.env, AGENT_NODE_FLAGS, { launch: this.launch });
  }
}

export class Fleet {
  server!: CorralProcess;
  url = '';
  adminToken = '';
  enrollmentToken = '';
  private agents: TestAgent[] = [];
  private readonly scopedTokens = new Map<string, Promise<string>>();
  private serverArgs: string[] = [];
  private readonly replicas: CorralProcess[] = [];

  private constructor(
    readonly root: string,
    readonly opts: FleetOptions,
  ) {}

  static async start(opts: FleetOptions = {}): Promise<Fleet> {
    const fleet = new Fleet(await mkdtemp(join(tmpdir(), 'corral-e2e-')), opts);
    await fleet.startServer('127.0.0.1:0');
    return fleet;
  }

  private async startServer(listen: string): Promise<void> {
    this.serverArgs = [
      'server',
      '--listen',
      listen,
      '--data-dir',
      join(this.root, 'server'),
      '--heartbeat',
      String(this.opts.heartbeatSeconds ?? 0.5),
      '--offline-after',
      String(this.opts.offlineAfterMissed ?? 3),
      ...(this.opts.database ? ['--database', this.opts.database] : []),
      '--rollout-defaults',
      JSON.stringify(this.opts.rolloutDefaults ?? IMMEDIATE_ROLLOUTS),
      ...(this.opts.extraServerArgs ?? []),
    ];
    this.server = new CorralProcess(this.serverArgs, { CORRAL_LOG_LEVEL: 'warn' });
    const m = await this.server.waitForOutput(/listening on (https?:\/\/\S+)/);
    this.url = m[1]!;
    if (!this.adminToken) {
      this.adminToken = (await this.server.waitForOutput(/admin token:\s+(\S+)/))[1]!;
      this.enrollmentToken = (await this.server.waitForOutput(/enrollment token:\s+(\S+)/))[1]!;
    }
  }

  /** Stops the server (SIGTERM, or SIGKILL with `crash`). */
  async stopServer(opts: { crash?: boolean } = {}): Promise<void> {
    if (opts.crash) await this.server.signal('SIGKILL');
    else await this.server.stop();
  }

  /** Starts the server again on the same port and data. */
  async restartServer(): Promise<void> {
    if (this.server.running) await this.stopServer();
    const port = new URL(this.url).port;
    await eventually(
      async () => {
        await this.startServer(`127.0.0.1:${port}`);
        return true;
      },
      { timeoutMs: 20_000, what: 'server restart on the same port' },
    );
  }

  /** The pid of the (first) server process. */
  get serverPid(): number | undefined {
    return this.server.pid;
  }

  /**
   * Starts another server process on the same PostgreSQL store (a replica),
   * with its own data dir and port. Agents reach it with `startAgent({ server })`.
   */
  async startReplica(name: string): Promise<{ url: string; process: CorralProcess }> {
    if (!this.opts.database) throw new Error('replicas share one PostgreSQL store: start the fleet with { database }');
    const args = [...this.serverArgs];
    args[args.indexOf('--listen') + 1] = '127.0.0.1:0';
    args[args.indexOf('--data-dir') + 1] = join(this.root, name);
    const p = new CorralProcess(args, { CORRAL_LOG_LEVEL: 'warn' });
    this.replicas.push(p);
    const url = (await p.waitForOutput(/listening on (https?:\/\/\S+)/))[1]!;
    return { url, process: p };
  }

  /**
   * An enrollment token bound to `labels`, minted through the admin API once
   * per label set and reused (the first-start token when `labels` is empty).
   */
  async tokenFor(labels: Record<string, string>): Promise<string> {
    const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1));
    if (entries.length === 0) return this.enrollmentToken;
    const key = JSON.stringify(entries);
    let token = this.scopedTokens.get(key);
    if (!token) {
      const name = entries.map(([k, v]) => `${k}=${v}`).join(',').slice(0, 128);
      token = this.api<{ token: string }>('POST', '/api/v1/enrollment-tokens', { name, labels }).then((res) => {
        if (res.status !== 201) throw new Error(`mint enrollment token for ${name}: ${res.status} ${JSON.stringify(res.body)}`);
        return res.body.token;
      });
      this.scopedTokens.set(key, token);
    }
    return token;
  }

  /**
   * Starts a real agent. `labels` are trusted: the agent enrolls with a token
   * bound to them (`tokenFor`), so selectors' plain terms match them.
   * `claims` are the agent's own `--label` flags: what it reports about
   * itself, matched only by `claim.<key>` terms. `token` enrolls with that
   * token instead (not with `labels`). `env`: extra environment for the
   * agent process (on top of the test's own).
   */
  async startAgent(
    opts: { name?: string; labels?: Record<string, string>; claims?: Record<string, string>; token?: string; extraArgs?: string[]; server?: string; env?: Record<string, string> } = {},
  ): Promise<TestAgent> {
    if (opts.token && opts.labels) throw new Error('startAgent: give labels (a token bound to them is minted) or token, not both');
    const name = opts.name ?? `agent-${this.agents.length + 1}`;
    const dataDir = join(this.root, name);
    const args = [
      'agent',
      '--server',
      opts.server ?? this.url,
      '--token',
      opts.token ?? (await this.tokenFor(opts.labels ?? {})),
      '--data-dir',
      dataDir,
      '--name',
      name,
      ...Object.entries(opts.claims ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      ...(opts.extraArgs ?? []),
    ];
    const agent = new TestAgent(name, dataDir, args, opts.env, this.opts.agentLaunch);
    this.agents.push(agent);
    return agent;
  }

  /** Calls the REST API with the admin token. */
  async api<T = unknown>(method: string, path: string, body?: unknown, token = this.adminToken): Promise<{ status: number; body: T }> {
    const res = await fetch(this.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async listAgents(selector = ''): Promise<AgentSummaryJson[]> {
    const res = await this.api<{ agents: AgentSummaryJson[] }>('GET', `/api/v1/agents?selector=${encodeURIComponent(selector)}`);
    if (res.status !== 200) throw new Error(`list agents: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.agents;
  }

  /** Waits until the agent is listed and `check` holds for it. */
  async awaitAgent(agent: TestAgent, check: (a: AgentSummaryJson) => boolean, timeoutMs = 20_000): Promise<AgentSummaryJson> {
    const id = await agent.instanceUid();
    let last: AgentSummaryJson | undefined;
    try {
      return await eventually(
        async () => {
          last = (await this.listAgents()).find((a) => a.id === id);
          return last && check(last) ? last : undefined;
        },
        { timeoutMs, what: `agent ${agent.name}` },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}; last seen as ${JSON.stringify(last)}\nagent stderr:\n${agent.process.stderr.slice(-1500)}`);
    }
  }

  private cliEnv() {
    return { CORRAL_SERVER: this.url, CORRAL_TOKEN: this.adminToken, XDG_CONFIG_HOME: join(this.root, 'xdg') };
  }

  /** Runs the real CLI against this fleet's server. */
  cli(...args: string[]) {
    return runCorral(args, this.cliEnv());
  }

  /** Starts the real CLI and returns at once: read its output as it comes (`stdout`, `waitForOutput`), stop it with `signal`. */
  cliProcess(...args: string[]): CorralProcess {
    return new CorralProcess(args, this.cliEnv());
  }

  async close(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.process.stop().catch(() => undefined)));
    await this.server.stop().catch(() => undefined);
    await Promise.all(this.replicas.map((r) => r.stop().catch(() => undefined)));
    await killAll();
    await rm(this.root, { recursive: true, force: true });
  }
}
