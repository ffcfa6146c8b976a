/**
 * Demo-mode settings for `npm start`. The demo secret is public (it is in this file): it exists so
 * that the quick start works with no setup. Set UPLINK_JWT_SECRET for anything else.
 *
 * Invariants: the token endpoint (anyone can mint a token, admin scope included) is on only while
 * the gateway trusts the public demo secret, unless UPLINK_DEMO_TOKENS=1 asks for it explicitly; a
 * demo gateway on a loopback address only answers requests that name a loopback host (a browser
 * page on a rebinding domain names its own).
 */
export const DEMO_SECRET = 'uplink-demo-secret-0123456789-NOT-FOR-PRODUCTION';

type Env = Record<string, string | undefined>;

export interface DemoSettings {
  /** The environment the gateway options are read from (the demo secret filled in when no key is configured). */
  env: Env;
  /** The secret demo tokens are signed with, when the endpoint is on. */
  demoTokenSecret: string | undefined;
  /** Tokens are verified with the public demo secret. */
  publicSecret: boolean;
  allowedHosts: string[] | undefined;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

export function demoSettings(source: Env): DemoSettings {
  const env = { ...source };
  const keyConfigured = Boolean(env.UPLINK_JWT_SECRET || env.UPLINK_JWT_PUBLIC_KEY || env.UPLINK_JWKS_URL);
  const verifiesWithSecret = !env.UPLINK_JWT_PUBLIC_KEY && !env.UPLINK_JWKS_URL;
  if (verifiesWithSecret) env.UPLINK_JWT_SECRET ||= DEMO_SECRET;
  const asked = env.UPLINK_DEMO_TOKENS;
  if (asked !== undefined && asked !== '' && asked !== '0' && asked !== '1') throw new Error(`UPLINK_DEMO_TOKENS must be 0, 1 or empty, got '${asked}'`);
  if (asked === '1' && !verifiesWithSecret) throw new Error('UPLINK_DEMO_TOKENS=1 needs UPLINK_JWT_SECRET: demo tokens are signed with it');
  const on = asked === '1' || ((asked === undefined || asked === '') && !keyConfigured);
  return {
    env,
    demoTokenSecret: on ? env.UPLINK_JWT_SECRET : undefined,
    publicSecret: verifiesWithSecret && env.UPLINK_JWT_SECRET === DEMO_SECRET,
    allowedHosts: allowedHosts(env),
  };
}

function allowedHosts(env: Env): string[] | undefined {
  const listed = env.UPLINK_ALLOWED_HOSTS?.split(',').map((h) => h.trim()).filter(Boolean);
  if (listed?.length) return listed;
  const host = env.UPLINK_HOST || '127.0.0.1';
  return isLoopback(host) ? [...new Set([...LOOPBACK_NAMES, host.includes(':') ? `[${host}]` : host])] : undefined;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
