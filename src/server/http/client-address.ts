/**
 * The client's address behind reverse proxies. Forwarding headers are believed only when the peer
 * that sent them is a configured proxy (`trustProxy`), and then only up to the first address that is
 * not a trusted proxy, read from the right: each proxy appends the address it saw, so everything to the
 * left of the last untrusted hop is whatever the client chose to write. Never trusted by default.
 * Which header counts is configuration (`trustProxyHeader`), never the headers' presence: a proxy
 * that appends X-Forwarded-For passes a client's own `Forwarded` header through untouched.
 */

export type ProxyHeader = 'x-forwarded-for' | 'forwarded';

/** `::ffff:1.2.3.4` (IPv4 seen through an IPv6 socket) is `1.2.3.4`; other text is lower-cased as is. */
export function normalizeAddress(address: string): string {
  const a = address.trim().toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/** The addresses of a `Forwarded` header's `for=` parameters, in order (RFC 7239). */
function forwardedFor(header: string): string[] {
  const out: string[] = [];
  for (const element of header.split(',')) {
    const match = /(?:^|;)\s*for=("?)([^";]+)\1/i.exec(element);
    if (!match) continue;
    let value = match[2]!.trim();
    if (value.startsWith('[')) value = value.slice(1, value.indexOf(']')); // "[2001:db8::1]:4711"
    else if (/^[\d.]+:\d+$/.test(value)) value = value.slice(0, value.lastIndexOf(':')); // "192.0.2.1:4711"
    out.push(value);
  }
  return out;
}

/**
 * The address to use for a request from `peer`: `peer` itself unless it is a trusted proxy; then the
 * rightmost address of the configured header (`header`: the value of X-Forwarded-For, or of Forwarded
 * when `which` is 'forwarded') that is not a trusted proxy.
 */
export function clientAddress(peer: string, header: string, which: ProxyHeader, trusted: ReadonlySet<string> | undefined): string {
  const self = normalizeAddress(peer);
  if (!trusted?.has(self)) return self;
  const chain = (which === 'forwarded' ? forwardedFor(header) : header.split(',')).map(normalizeAddress).filter((a) => a.length > 0 && a.length <= 64);
  for (let i = chain.length - 1; i >= 0; i--) if (!trusted.has(chain[i]!)) return chain[i]!;
  return chain[0] ?? self; // every hop is a trusted proxy: the first one is the closest thing to a client
}
