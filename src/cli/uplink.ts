#!/usr/bin/env node
/**
 * The `uplink` command of the installed package.
 *
 *   uplink serve <module>     loads the module, lets it register objects, serves them (UPLINK_* env);
 *                             with UPLINK_NATS_URL, objects it does not register are reached on NATS;
 *                             --workers N: N gateways on one port, one per worker thread
 *   uplink host <module>      an object host: serves the module's objects to the gateways over NATS
 *   uplink token --sub alice  prints a development token signed with UPLINK_JWT_SECRET
 *   uplink revoke alice       closes alice's connections on every gateway (published on NATS)
 *   uplink help               the usage on stdout, exit 0 (also --help, -h)
 *
 * The module's default export (or its export named `register`) is called with the gateway before it
 * listens: `export default (gateway) => gateway.register(new Calc(), 'calc')`. It may be async.
 */
import { parseArgs } from 'node:util';
import { mintDevToken, parseTtl } from '../auth/dev-tokens.js';
import { stopOnSignals } from '../server/signals.js';
import { runHost, type HostRegistrar } from './host.js';
import { loadRegister, startGateway } from './serve.js';
import { MAX_WORKERS, serveWithWorkers } from './serve-workers.js';
import { publishRevocation, revokeTarget } from './revoke.js';
import { USAGE, UsageError } from './usage.js';
import { tuneV8ForServing } from './v8-tuning.js';

/** `uplink serve <module> [--workers N]` (UPLINK_WORKERS too): one gateway, or N on one port (serve-workers.ts). */
async function serve(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { workers: { type: 'string' } } });
  const modulePath = positionals[0];
  const workers = Number(values.workers ?? process.env.UPLINK_WORKERS ?? 1);
  if (!Number.isSafeInteger(workers) || workers < 1 || workers > MAX_WORKERS) throw new UsageError(`--workers takes a whole number from 1 to ${MAX_WORKERS}`);
  const drainMs = Number(process.env.UPLINK_SHUTDOWN_DRAIN_MS || 5_000);
  if (workers > 1) {
    await loadRegister('serve', modulePath); // a wrong module is a usage error here, not in each worker
    await serveWithWorkers(workers, modulePath!, process.env, drainMs);
    return;
  }
  const gateway = await startGateway(modulePath, process.env);
  gateway.logger.info({ url: `ws://${gateway.options.host}:${gateway.port}`, module: modulePath }, 'serving');
  stopOnSignals(gateway, drainMs);
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
  if (command === 'serve') await serve(rest);
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
