/**
 * `npm run token -- --sub alice --scope "calc:use echo:use" --roles admin --ttl 1h`
 * Mints a development token (HS256) with UPLINK_JWT_SECRET, or the demo secret when it is unset.
 */
import { parseArgs } from 'node:util';
import { mintDevToken, parseTtl } from '../auth/dev-tokens.js';
import { DEMO_SECRET } from '../demo/settings.js';

const { values } = parseArgs({
  options: {
    sub: { type: 'string' },
    scope: { type: 'string', default: '' },
    roles: { type: 'string', default: '' },
    ttl: { type: 'string', default: '1h' },
    iss: { type: 'string' },
    aud: { type: 'string' },
  },
});
if (!values.sub) {
  console.error('usage: npm run token -- --sub <subject> [--scope "a b"] [--roles r1,r2] [--ttl 1h] [--iss issuer] [--aud audience]');
  process.exit(2);
}
const secret = process.env.UPLINK_JWT_SECRET || DEMO_SECRET;
if (!process.env.UPLINK_JWT_SECRET) console.error('warning: UPLINK_JWT_SECRET is unset; signing with the public demo secret (development only)');
const token = await mintDevToken(secret, {
  sub: values.sub,
  scope: values.scope,
  roles: values.roles ? values.roles.split(',').filter(Boolean) : [],
  ttlSec: parseTtl(values.ttl),
  ...(values.iss ? { issuer: values.iss } : {}),
  ...(values.aud ? { audience: values.aud } : {}),
});
console.log(token);
