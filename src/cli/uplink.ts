#!/usr/bin/env node
/**
 * The `uplink` command of the installed package.
 *
 *   uplink serve <module>     loads the module, lets it register objects, serves them (UPLINK_* env);
 *                             with UPLINK_NATS_URL, objects it does not register are reached on NATS
 *   uplink host <module>      an object host: serves the module's objects to the gateways over NATS
 *   uplink token --sub alice  prints a development token signed with UPLINK_JWT_SECRET
 *   uplink revoke alice       closes alice's connections on every gateway (published on NATS)
 *   uplink help               the usage on stdout, exit 0 (also --help, -h)
 *
 * The module's default export (or its export named `register`) is called with the gateway before it
 * listens: `export default (gateway) => gateway.register(new Calc(), 'calc')`. It may be async.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { mintDevToken, parseTtl } from '../auth/dev-tokens.js';
import { Gateway } from '../server/gateway.js';
import { optionsFromEnv } from '../server/config.js';
import { stopOnSignals } from '../server/signals.js';
import { clusterKeysFromEnv, connectFromEnv, heartbeatFromEnv } from '../nats/connect.js';
import { NatsObjectHost } from '../nats/nats-object-host.js';
import { runHost, type HostRegistrar } from './host.js';
import { publishRevocation, revokeTarget } from './revoke.js';
import { USAGE, UsageError } from './usage.js';
import { tuneV8ForServing } from './v8-tuning.js';

type Register = (gateway: Gateway) => void | Promise<void>;

async function loadRegister(command: string, modulePath: string | undefined): Promise<Register> {
  if (!modulePath) throw new UsageError(`uplink ${command} needs the module that registers your objects`);
  const loaded = (await import(pathToFileURL(resolve(modulePath)).href)) as { default?: unknown; register?: unknown };
  const register = (typeof loaded.default === 'function' ? loaded.default : loaded.register) as Register | undefined;
  if (typeof register !== 'function') throw new UsageError(`${modulePath} exports no register function (a default export or one named register)`);
  return register;
}

async function serve(modulePath: string | undefined): Promise<void> {
  const register = await loadRegister('serve', modulePath);
  const nc = await connectFromEnv(process.env, `uplink-gateway-${process.pid}`);
  const { signingKey } = clusterKeysFromEnv(process.env);
  const remote = nc && new NatsObjectHost(nc, { ...heartbeatFromEnv(process.env), ...(signingKey ? { signingKey } : {}) });
  const gateway = new Gateway({ ...optionsFromEnv(process.env), ...(remote ? { remoteObjects: remote, cluster: remote } : {}) });
  await register(gateway);
  await gateway.listen();
  gateway.logger.info({ url: `ws://${gateway.options.host}:${gateway.port}`, module: modulePath }, 'serving');
  stopOnSignals(gateway, Number(process.env.UPLINK_SHUTDOWN_DRAIN_MS || 5_000));
}

async function token(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      sub: { type: 'string' }, scope: { type: 'string', default: '' }, roles: { type: 'string', default: '' },
      ttl: { type: 'string', default: '1h' }, iss: { type: 'string' }, aud: { type: 'string' },
    },
  });
  if (!values.sub) throw new UsageError('uplink token needs --sub');
  const secret = process.env.UPLINK_JWT_SECRET;
  if (!secret) throw new UsageError('uplink token signs with UPLINK_JWT_SECRET: set it (32 bytes or more)');
  const minted = await mintDevToken(secret, {
    sub: values.sub, scope: values.scope, roles: values.roles ? values.roles.split(',').filter(Boolean) : [], ttlSec: parseTtl(values.ttl),
    ...(values.iss ? { issuer: values.iss } : {}), ...(values.aud ? { audience: values.aud } : {}),
  });
  process.stdout.write(minted + '\n');
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'serve' || command === 'host') tuneV8ForServing();
try {
  if (command === 'serve') await serve(rest[0]);
  else if (command === 'host') await runHost(await loadRegister('host', rest[0]) as (r: HostRegistrar) => void, process.env);
  else if (command === 'token') await token(rest);
  else if (command === 'revoke') await publishRevocation(revokeTarget(rest), process.env);
  else if (command === 'help' || command === '--help' || command === '-h') process.stdout.write(USAGE + '\n');
  else throw new UsageError(command ? `unknown command '${command}'` : 'no command');
} catch (error) {
  const usage = error instanceof UsageError || String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`uplink: ${(error as Error).message}\n${usage ? USAGE + '\n' : ''}`);
  // 2: the command line is wrong; 1: it was right but failed (NATS unreachable or refusing).
  process.exit(usage ? 2 : 1);
}
