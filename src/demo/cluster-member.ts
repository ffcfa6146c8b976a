/**
 * One process of the demo cluster (cluster.ts starts them): `host` serves the demo objects over NATS
 * and tags every answer with its name; `gateway` is the demo gateway with no objects of its own,
 * routing every call to the hosts. Both read UPLINK_NATS_URL and the other UPLINK_* variables.
 */
import { runHost } from '../cli/host.js';
import { connectFromEnv, heartbeatFromEnv } from '../nats/connect.js';
import { NatsObjectHost } from '../nats/nats-object-host.js';
import { stopOnSignals } from '../server/signals.js';
import { createDemoGateway } from './demo-gateway.js';
import { registerDemoObjects } from './register.js';

const role = process.argv[2];
/** One line on stdout whatever the log level: cluster.ts waits for it. */
const announce = (fields: Record<string, unknown>) => process.stdout.write(JSON.stringify({ msg: 'cluster member ready', role, ...fields }) + '\n');

if (role === 'host') {
  // One chat room for the whole cluster: only the host started with UPLINK_DEMO_CHAT=1 serves it.
  const service = await runHost((registrar) => registerDemoObjects(registrar, { chat: process.env.UPLINK_DEMO_CHAT === '1' }), process.env, { tagAnswers: true });
  announce({ name: service.name });
} else if (role === 'gateway') {
  const nc = await connectFromEnv(process.env, `uplink-demo-gateway-${process.pid}`);
  if (!nc) throw new Error('the demo cluster gateway needs UPLINK_NATS_URL');
  const remote = new NatsObjectHost(nc, heartbeatFromEnv(process.env));
  const { gateway, drainMs } = createDemoGateway(process.env, { remoteObjects: remote });
  await gateway.listen();
  announce({ url: `ws://${gateway.options.host}:${gateway.port}` });
  stopOnSignals(gateway, drainMs);
} else {
  throw new Error(`usage: cluster-member.ts host|gateway (got '${role}')`);
}
