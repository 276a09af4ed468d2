/**
 * Where the server tells agents to connect, and where their downloads come
 * from. Never the address the server binds (`--listen 0.0.0.0:4320` is not
 * reachable, and a server behind a TLS proxy sees plain HTTP): an endpoint is
 * offered only from a configured `--public-url`, in the scheme of the
 * transport the agent uses. Without one the agent keeps the URL it dialled.
 */
import type { Transport } from './session.js';

/**
 * The OpAMP endpoint to offer an agent on `transport`: wss:// or ws:// for
 * WebSocket agents, https:// or http:// for plain-HTTP agents, following the
 * public URL's own scheme (https → wss). '' without a public URL.
 */
export function offeredOpampEndpoint(publicUrl: string | null, transport: Transport): string {
  if (!publicUrl) return '';
  const url = new URL(publicUrl);
  const secure = url.protocol === 'https:';
  const scheme = transport === 'ws' ? (secure ? 'wss:' : 'ws:') : secure ? 'https:' : 'http:';
  return `${scheme}//${url.host}${url.pathname.replace(/\/+$/, '')}/v1/opamp`;
}

/**
 * The http(s) base artifact download URLs start with: the public URL, else
 * the origin the agent itself reached (the Host it sent, over this
 * connection's scheme). The Corral agent uses only the path and downloads
 * from the server it is connected to.
 */
export function artifactBaseUrl(publicUrl: string | null, requestOrigin: string): string {
  return (publicUrl ?? requestOrigin).replace(/\/+$/, '');
}

/** The origin a request reached, from its Host header and whether its socket is TLS; '' without a Host. */
export function requestOrigin(req: { headers: { host?: string | undefined }; socket: object }): string {
  const host = req.headers.host;
  if (!host || !/^[A-Za-z0-9.:[\]-]+$/.test(host)) return '';
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  return `${encrypted ? 'https' : 'http'}://${host}`;
}
