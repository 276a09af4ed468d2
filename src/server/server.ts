/**
 * Wires one server process: store, hub, transports, REST API, metrics, on
 * one HTTP port. `startServer` resolves once it is listening; `stop()` shuts
 * down gracefully (stop accepting, close agent connections with 1001, write
 * pending heartbeats and events, close the store).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Logger } from 'pino';
import { openStore, type AgentRecord, type Store } from './store/index.js';
import { selectableAttributes } from './fleet/agent-labels.js';
import { systemClock, type Clock } from './clock.js';
import { EventRecorder } from './events.js';
import { EventFeed } from './event-feed.js';
import { AgentHub } from './opamp/agent-hub.js';
import { WsTransport } from './opamp/ws-transport.js';
import { HttpTransport } from './opamp/http-transport.js';
import { MAX_AGENT_EVENTS_PER_MINUTE, PROTOBUF_CONTENT_TYPE } from './opamp/limits.js';
import { AgentEventBudget } from './opamp/agent-event-budget.js';
import { InflightBytes } from './opamp/inflight-bytes.js';
import { FleetService } from './fleet/fleet-service.js';
import { DeploymentService } from './fleet/deployment-service.js';
import { ImperativeService } from './fleet/imperative.js';
import { SampleHistory } from './fleet/sample-history.js';
import { JobService } from './jobs/job-service.js';
import { createApi } from './api/routes.js';
import { UserService } from './users/user-service.js';
import { createMetrics } from './metrics.js';
import { routeLabeler } from './route-labels.js';
import { FailedAuthGuard } from './auth/failed-auth.js';
import { RestGuard } from './api/rest-guard.js';
import { EnrollmentLimiter } from './auth/enrollment-limiter.js';
import { bearerToken, sameHash, hashSecret } from './auth/tokens.js';
import { PackageService } from './packages/package-service.js';
import { loadSigningKey } from './packages/signing-key.js';
import { secureDataDir } from './data-dir.js';
import { ARTIFACT_PATH, serveArtifact } from './packages/artifact-download.js';
import { INSTALL_SCRIPT_PATH, installScript } from './install/install-agent.js';
import { DownloadLimiter } from './packages/download-limiter.js';
import { bootstrapTokens, type BootstrapSecrets } from './bootstrap.js';
import type { CompiledServerOptions } from './options.js';
import { RolloutService } from './rollouts/rollout-service.js';
import { CertificateWatcher, loadCertificate } from './tls-certificates.js';
import { AgentCa } from './agent-ca.js';
import { consoleStatic } from './console-static.js';
import { leaseOwnerId, RolloutDriver } from './rollouts/rollout-driver.js';
import { openSecretsKey } from './secrets/secrets-key.js';
import { AuditService } from './audit/audit-service.js';
import { OfflineForgetter } from './fleet/offline-forgetter.js';
import { TokenRetention } from './users/token-retention.js';

export interface RunningServer {
  /** http://host:port actually listened on. */
  url: string;
  store: Store;
  /** Tokens created on first start (shown once), else null. */
  firstStart: BootstrapSecrets | null;
  /** The web console's address (url + '/'), or null when no console bundle is built. */
  consoleUrl: string | null;
  /** Loads --tls-cert/--tls-key again (SIGHUP); false, and the current one kept, when they do not load. True without TLS. */
  reloadTls(): boolean;
  stop(): Promise<void>;
}

export interface ServerDeps {
  log: Logger;
  clock?: Clock;
  env?: Record<string, string | undefined>;
  /** Use this store instead of opening one (tests). */
  store?: Store;
  /** The web console's bundle directory (default dist/console); null serves no console. */
  consoleDir?: string | null;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType });
  res.end(body);
}

export async function startServer(opts: CompiledServerOptions, deps: ServerDeps): Promise<RunningServer> {
  const log = deps.log;
  const clock = deps.clock ?? systemClock;
  // Artifacts live here whatever the store: never readable by other users.
  secureDataDir(opts.dataDir, log);
  const store = deps.store ?? (await openStore({ database: opts.database, dataDir: opts.dataDir, log }));
  // A missing, wrong or unreadable secrets key stops the start here, naming the file and the keys.
  const secrets = await openSecretsKey(opts.secretsKey, store).catch(async (e: unknown) => {
    if (!deps.store) await store.close();
    throw e;
  });
  const firstStart = await bootstrapTokens(store, deps.env ?? process.env, clock.now());
  const feed = new EventFeed({ store, clock, log: log.child({ component: 'event-feed' }) });
  const events = new EventRecorder({ store, clock, log, onStored: () => feed.nudge() });

  // A bad certificate stops the start with an error naming the file.
  const certificate = opts.tls ? loadCertificate(opts.tls) : null;
  // With an agent CA, clients may present a certificate from it (mTLS); one that presents none, or another CA's, still connects and authenticates with a bearer.
  const agentCa = opts.agentCa ? AgentCa.load(opts.agentCa) : null;
  const clientAuth = agentCa ? { requestCert: true, rejectUnauthorized: false, ca: agentCa.caPem } : {};
  const http = certificate ? createHttpsServer({ cert: certificate.cert, key: certificate.key, ...clientAuth }) : createServer();
  const certificates = opts.tls
    ? new CertificateWatcher(opts.tls, { log: log.child({ component: 'tls' }), apply: (c) => (http as ReturnType<typeof createHttpsServer>).setSecureContext({ cert: c.cert, key: c.key, ...(agentCa ? { ca: agentCa.caPem } : {}) }) })
    : null;
  http.keepAliveTimeout = 65_000;
  let metricsRef: ReturnType<typeof createMetrics> | null = null;
  let driver: RolloutDriver | null = null;
  const signingKey = await loadSigningKey(store);
  const enrollments = new EnrollmentLimiter({ perSecondPerToken: opts.maxEnrollmentsPerSecond, clock, onLimited: () => metricsRef?.rateLimited.inc({ reason: 'enrollment' }) });
  const samples = new SampleHistory({ clock, onDropped: (reason) => metricsRef?.agentSamplesDropped.inc({ reason }) });
  const agentEvents = new AgentEventBudget(events, { perMinute: MAX_AGENT_EVENTS_PER_MINUTE, clock, onDropped: () => metricsRef?.agentEventsDropped.inc() });
  const hub = new AgentHub(
    {
      heartbeatMs: opts.heartbeatMs,
      offlineAfterMs: opts.offlineAfterMs,
      pollMs: opts.pollMs,
      signingPublicKeyPem: signingKey.publicKeyPem,
      requireApproval: opts.requireApproval,
      publicUrl: opts.publicUrl,
      credentialGraceMs: opts.credentialGraceMs,
    },
    { store, clock, log: log.child({ component: 'hub' }), events: agentEvents, samples, admitEnrollment: (tokenId, address) => enrollments.admit(tokenId, address), onReportsStored: () => driver?.kick(), onMessage: (direction, transport) => metricsRef?.opampMessages.inc({ direction, transport }), agentCa, secrets },
  );
  const inflight = new InflightBytes(opts.maxOpampInflightBytes);
  const failedAuth = new FailedAuthGuard({
    log: log.child({ component: 'auth' }),
    clock,
    onFailure: (edge) => metricsRef?.authFailures.inc({ edge }),
    onRefused: () => metricsRef?.rateLimited.inc({ reason: 'failed-auth' }),
  });
  const ws = new WsTransport(
    { maxConnections: opts.maxConnections, retryAfterSeconds: opts.retryAfterSeconds, firstMessageTimeoutMs: opts.wsFirstMessageTimeoutMs },
    { hub, store, log, inflight, failedAuth },
  );
  const httpOpamp = new HttpTransport({ maxInFlight: opts.maxHttpInFlight, retryAfterSeconds: opts.retryAfterSeconds }, { hub, store, log, inflight, failedAuth });
  const downloads = new DownloadLimiter({ maxDownloads: opts.maxDownloads });
  const metrics = createMetrics({ store, connections: () => ws.connections, samples, downloadsInFlight: () => downloads.inFlight, opampInflightBytes: () => inflight.used });
  metricsRef = metrics;
  const fleet = new FleetService({
    store,
    clock,
    log,
    events,
    secrets,
    onFleetChange: (change) => {
      hub.fleetChanged(change).catch((err: unknown) => log.error({ err }, 'failed to push fleet change'));
    },
  });
  const packages = new PackageService({ store, clock, events, signingKey, dataDir: opts.dataDir });
  const pushFleetChange = () => {
    hub.fleetChanged({}).catch((err: unknown) => log.error({ err }, 'failed to push fleet change'));
  };
  const rolloutLog = log.child({ component: 'rollouts' });
  const lease = { owner: leaseOwnerId(), ms: Math.max(10_000, opts.rolloutTickMs * 10) };
  const rollouts = new RolloutService({ store, clock, events, log: rolloutLog, defaults: opts.rolloutDefaults, onFleetChange: pushFleetChange, kick: () => driver?.kick(), lease });
  driver = new RolloutDriver({ store, clock, events, log: rolloutLog, rollouts, onFleetChange: pushFleetChange }, { owner: lease.owner, tickMs: opts.rolloutTickMs, leaseMs: lease.ms });
  const deployments = new DeploymentService({ store, clock, events, onFleetChange: pushFleetChange, rollouts, secrets });
  const imperative = new ImperativeService({ store, deployments, agents: hub, samples, events, log: log.child({ component: 'imperative' }) });
  const jobs = new JobService({ store, agents: hub, clock, events, log: log.child({ component: 'jobs' }) });
  const audit = new AuditService({
    store,
    clock,
    log: log.child({ component: 'audit' }),
    retentionMs: opts.auditRetentionMs,
    onAppendFailed: () => metricsRef?.auditAppendFailures.inc(),
  });
  const forgetter = opts.forgetOffline
    ? new OfflineForgetter(opts.forgetOffline, {
        store,
        clock,
        log: log.child({ component: 'forget-offline' }),
        events,
        audit,
        onForgotten: (ids) => {
          for (const id of ids) samples.forget(id);
          pushFleetChange();
        },
      })
    : null;
  const tokenRetention = opts.tokenRetention ? new TokenRetention(opts.tokenRetention, { store, clock, log: log.child({ component: 'token-retention' }), events, audit }) : null;
  const users = new UserService({ store, clock });
  const apiApp = createApi({ fleet, deployments, rollouts, imperative, jobs, packages, store, users, feed, audit, clock, pollMs: opts.pollMs, log: log.child({ component: 'api' }) });
  const api = getRequestListener(apiApp.fetch);
  const routeLabel = routeLabeler([
    ...apiApp.routes,
    ...['GET', 'POST'].map((method) => ({ method, path: '/v1/opamp' })),
    { method: 'GET', path: '/healthz' },
    { method: 'GET', path: INSTALL_SCRIPT_PATH },
    { method: 'GET', path: '/metrics' },
    { method: 'GET', path: '/api/v1/artifacts/:sha256' },
    { method: 'GET', path: '/' },
  ]);
  const restGuard = new RestGuard({ clock, failedAuth, onLimited: (reason) => metrics.rateLimited.inc({ reason }) });
  const webConsole = deps.consoleDir === null ? null : consoleStatic(deps.consoleDir);
  const metricsTokenHash = opts.metricsToken ? hashSecret(opts.metricsToken) : null;

  const offeredTo = (agent: AgentRecord, sha256: string) => hub.offersArtifact(agent.id, selectableAttributes(agent), sha256);
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    res.on('finish', () => metrics.httpRequests.inc({ route: routeLabel(req.method ?? 'GET', path), status: String(res.statusCode) }));
    if (path === '/v1/opamp') {
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (req.method === 'POST' && contentType === PROTOBUF_CONTENT_TYPE) {
        void httpOpamp.handle(req, res);
        return;
      }
      req.resume();
      if (req.method === 'POST') return send(res, 415, 'text/plain', `OpAMP over HTTP needs Content-Type: ${PROTOBUF_CONTENT_TYPE}\n`);
      res.setHeader('Upgrade', 'websocket');
      return send(res, 426, 'text/plain', 'OpAMP: use a WebSocket upgrade, or POST with Content-Type: application/x-protobuf\n');
    }
    const artifact = ARTIFACT_PATH.exec(path);
    if (artifact) {
      serveArtifact(req, res, artifact[1]!, { store, packages, log, limiter: downloads, offeredTo, onRefused: () => metrics.artifactDownloadsRefused.inc() }).catch((err: unknown) => {
        log.error({ err }, 'artifact download failed');
        if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
        else res.destroy();
      });
      return;
    }
    if (path === '/healthz') return send(res, 200, 'application/json', JSON.stringify({ status: 'ok', store: store.kind }));
    if (path === INSTALL_SCRIPT_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      req.resume();
      // Static, and no secret in it: the token and the key's fingerprint come on the command line.
      res.writeHead(200, { 'Content-Type': 'text/x-shellscript; charset=utf-8', 'Cache-Control': 'no-cache' });
      return void res.end(req.method === 'HEAD' ? undefined : installScript());
    }
    if ((path.startsWith('/api/') || path === '/metrics') && restGuard.refuse(req, res, path, path === '/metrics' ? 'metrics' : 'rest')) return;
    if (path === '/metrics') {
      const presented = bearerToken(req.headers.authorization);
      if (metricsTokenHash && !(presented && sameHash(hashSecret(presented), metricsTokenHash))) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        return send(res, 401, 'text/plain', '/metrics needs Authorization: Bearer <the --metrics-token value>\n');
      }
      metrics.registry
        .metrics()
        .then((text) => send(res, 200, metrics.registry.contentType, text))
        .catch((err: unknown) => {
          log.error({ err }, 'metrics failed');
          send(res, 500, 'text/plain', 'metrics failed\n');
        });
      return;
    }
    // The console owns every other GET path (its client routes fall back to index.html); /api/ stays the API's, 404s included.
    if (webConsole && !path.startsWith('/api/') && webConsole.handle(req, res, path)) return;
    void api(req, res);
  });
  http.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/v1/opamp') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    ws.upgrade(req, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host, () => resolve());
  });
  const addr = http.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${certificates ? 'https' : 'http'}://${host}:${addr.port}`;
  certificates?.watch();
  await hub.start();
  driver.start();
  audit.start();
  forgetter?.start();
  tokenRetention?.start();
  const consoleUrl = webConsole ? `${url}/` : null;
  log.info({ url, store: store.kind, console: consoleUrl }, 'server listening');

  let stopping: Promise<void> | null = null;
  return {
    url,
    store,
    firstStart,
    consoleUrl,
    reloadTls: () => certificates?.reload('SIGHUP') ?? true,
    stop() {
      stopping ??= (async () => {
        log.info('server stopping');
        certificates?.close();
        const closed = new Promise<void>((resolve) => http.close(() => resolve()));
        await driver.close();
        await forgetter?.close();
        await tokenRetention?.close();
        await audit.close();
        await ws.close();
        await hub.close();
        http.closeIdleConnections();
        await events.close();
        // Live event streams end, so the HTTP server can close.
        feed.close();
        await closed;
        await store.close();
        log.info('server stopped');
      })();
      return stopping;
    },
  };
}
