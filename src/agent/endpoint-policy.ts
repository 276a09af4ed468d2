/**
 * Which OpAMP endpoints the agent lets the server move it to. The server is
 * untrusted within local policy: an offer may change the path, or upgrade
 * ws:// to wss:// on the same host, but never leave the origin the agent was
 * configured with (`--server`) and never move from wss:// to plain text.
 * A refused endpoint is logged and reported (ConnectionSettingsStatus
 * FAILED); the agent keeps its URL.
 */
export type EndpointDecision = { accept: true; url: string } | { accept: false; reason: string };

/** Judges `offered` (a destination_endpoint) against the `configured` ws(s):// URL. Pure. */
export function judgeOfferedEndpoint(configured: string, offered: string): EndpointDecision {
  const base = new URL(configured);
  let next: URL;
  try {
    next = new URL(offered);
  } catch {
    return { accept: false, reason: `offered endpoint "${offered.slice(0, 200)}" is not a URL` };
  }
  if (next.protocol !== 'ws:' && next.protocol !== 'wss:') {
    return { accept: false, reason: `offered endpoint ${next.protocol}// is not a WebSocket URL (this agent speaks OpAMP over WebSocket)` };
  }
  if (base.protocol === 'wss:' && next.protocol === 'ws:') {
    return { accept: false, reason: `offered endpoint ${next.origin} would move the agent from wss:// to plain-text ws://` };
  }
  if (next.host !== base.host) {
    return { accept: false, reason: `offered endpoint ${next.origin} is not the server the agent is configured with (${base.origin})` };
  }
  if (next.username || next.password) return { accept: false, reason: 'offered endpoint carries user info' };
  return { accept: true, url: next.toString() };
}
