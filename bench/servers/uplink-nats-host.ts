/** The object host of the uplink-nats rows: the demo objects and the bench object, served over NATS (BENCH_NATS_URL). */
import { connect } from '@nats-io/transport-node';
import { LocalObjectHost } from '../../src/host/local-host.js';
import { NatsHostService } from '../../src/nats/index.js';
import { registerDemoObjects } from '../../src/demo/register.js';
import { Codec } from '../../src/protocol/codec.js';
import { definedOnly, gatewayDefaults } from '../../src/server/config.js';
import { localHostOptions } from '../../src/server/host-options.js';
import { systemClock } from '../../src/clock.js';
import { tuneV8ForServing } from '../../src/cli/v8-tuning.js';
import { Bench } from './bench-objects.js';

// As `uplink host` runs (src/cli/v8-tuning.ts).
tuneV8ForServing();
const codec = new Codec();
const host = new LocalObjectHost(localHostOptions({ ...gatewayDefaults, ...definedOnly({ maxPayloadLength: 16 * 1024 * 1024 }) }, codec, systemClock, {}, () => {}));
registerDemoObjects({ codec, register: (target, idOrOptions, more = {}) => host.register(target as never, typeof idOrOptions === 'string' ? { ...more, id: idOrOptions } : { ...idOrOptions }) });
host.register(new Bench(), { id: 'bench' });
const nc = await connect({ servers: process.env.BENCH_NATS_URL!, noAsyncTraces: true });
new NatsHostService(nc, host, { name: 'bench-host' }).serve();
await nc.flush();
console.log('ready 0');
// SIGINT exits normally, so that --cpu-prof writes its profile (bench:nats-breakdown --cpu-prof).
process.on('SIGINT', () => process.exit(0));
