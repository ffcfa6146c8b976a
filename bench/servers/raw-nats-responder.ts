/**
 * Reference responder: raw nats.js request/reply, add(a, b) as JSON (no envelope, no checks), one
 * connection, a callback subscription answering with msg.respond (the floor a call through NATS is
 * measured against; the reference in ../shared/reference/nats-scaleout.md).
 */
import { connect } from '@nats-io/transport-node';

const RAW_SUBJECT = 'bench.raw.add';
const nc = await connect({ servers: process.env.BENCH_NATS_URL!, noAsyncTraces: true });
const encoder = new TextEncoder();
const decoder = new TextDecoder();
nc.subscribe(RAW_SUBJECT, {
  callback: (_error, msg) => {
    const [a, b] = JSON.parse(decoder.decode(msg.data)) as [number, number];
    msg.respond(encoder.encode(JSON.stringify(a + b)));
  },
});
await nc.flush();
process.on('SIGINT', () => process.exit(0));
console.log('ready 0');
