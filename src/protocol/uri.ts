/**
 * Object URIs, like Pyro's PYRO:id@host:port: `uplink://host:port/id` (plain WebSocket) or
 * `uplinks://host:port/id` (TLS). The id is percent-encoded.
 */
export interface ParsedUri {
  /** The WebSocket URL of the gateway. */
  url: string;
  object: string;
}

export function formatUri(host: string, port: number, id: string, tls = false): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'uplinks' : 'uplink'}://${h}:${port}/${encodeURIComponent(id)}`;
}

export function parseUri(uri: string): ParsedUri {
  const u = new URL(uri);
  if (u.protocol !== 'uplink:' && u.protocol !== 'uplinks:') throw new TypeError(`not an uplink URI: ${uri}`);
  const object = decodeURIComponent(u.pathname.slice(1));
  if (!object) throw new TypeError(`the URI names no object: ${uri}`);
  return { url: `${u.protocol === 'uplinks:' ? 'wss' : 'ws'}://${u.host}`, object };
}

/** The WebSocket URL for a ws://, wss://, uplink:// or uplinks:// address (the object part is ignored). */
export function gatewayUrl(address: string): string {
  if (!/^uplinks?:/.test(address)) return address;
  const u = new URL(address);
  return `${u.protocol === 'uplinks:' ? 'wss' : 'ws'}://${u.host}`;
}
