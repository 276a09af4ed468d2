/**
 * A TLS-terminating TCP proxy for tests: accepts TLS with a given
 * certificate and forwards the plain bytes to a backend, as a load balancer
 * in front of a Corral server would. Counts the connections it forwarded.
 */
import { connect as netConnect, type AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:tls';

export class TlsProxy {
  connections = 0;
  private readonly open = new Set<{ destroy(): void }>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1 (a free port) and forwards to `backend` (host:port). */
  static async start(cert: { certPem: string; keyPem: string }, backend: { host: string; port: number }): Promise<TlsProxy> {
    let proxy: TlsProxy | null = null;
    const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (client) => {
      const upstream = netConnect(backend.port, backend.host);
      if (proxy) {
        proxy.connections++;
        proxy.open.add(client).add(upstream);
      }
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy = new TlsProxy(server, (server.address() as AddressInfo).port);
    return proxy;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
