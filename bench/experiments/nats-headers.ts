/**
 * `npm run bench:nats-headers`: what NATS headers cost nats.js, in one process (a requester and a
 * responder connection to a real nats-server, 32 in flight, the CPU of both sides per round trip).
 * Four shapes: no headers; the call's five headers (Uplink-Member, -Kind, -Timeout, -Identity,
 * -Context, as a gateway sends them) with a plain answer; a plain call (its envelope parsed as JSON
 * from the payload instead) with the answer's Uplink-Event; headers both ways (what Uplink sends).
 * The figures of #27's closing note (docs/performance.md): the lever left on the call path.
 */
import { connect, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer } from '../../test/support/nats-server.js';

const CALLS = Number(process.env.HEADERS_CALLS ?? 100_000);
const payload = Buffer.from('\u0000\u0000\u0000\u000d{"json":[1,2]}');
const head = '{"m":"add","k":"call","c":"ABCDEFGHIJKLMNOPQRSTUV/c1","r":"127.0.0.1","id":"c1.123","i":{"subject":"bench","claims":{"scope":"bench"}}}';
const context = Buffer.from(JSON.stringify({ connection: 'ABCDEFGHIJKLMNOPQRSTUV/c1', remoteAddress: '127.0.0.1', correlationId: 'c1.123' })).toString('base64url');
const identity = Buffer.from(JSON.stringify({ subject: 'bench', claims: { scope: 'bench' } })).toString('base64url');

async function shape(name: string, callHeaders: boolean, answerHeaders: boolean, url: string): Promise<void> {
  const [requester, responder] = await Promise.all([connect({ servers: url, noAsyncTraces: true }), connect({ servers: url, noAsyncTraces: true })]);
  responder.subscribe('svc', { callback: (_error, msg) => answer(responder, msg, callHeaders, answerHeaders) });
  const pending = new Map<string, () => void>();
  requester.subscribe('_R.*', { callback: (_error, msg) => {
    if (answerHeaders) msg.headers!.get('Uplink-Event');
    pending.get(msg.subject)?.();
    pending.delete(msg.subject);
  } });
  await Promise.all([requester.flush(), responder.flush()]);
  let id = 0;
  const run = async (total: number) => {
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next++ < total) {
        await new Promise<void>((resolve) => {
          const reply = `_R.${(id++).toString(36)}`;
          pending.set(reply, resolve);
          requester.publish('svc', payload, { reply, ...(callHeaders ? { headers: callHeadersNow() } : {}) });
        });
      }
    }));
  };
  await run(CALLS / 5);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(CALLS);
  const cpu = process.cpuUsage(cpu0);
  console.log(`${name.padEnd(30)} ${String(Math.round(CALLS / ((performance.now() - t0) / 1000))).padStart(7)} calls/s  ${((cpu.user + cpu.system) / CALLS).toFixed(1)} us of CPU per round trip (both sides)`);
  await Promise.all([requester.close(), responder.close()]);
}

function callHeadersNow() {
  const h = headers();
  h.set('Uplink-Member', 'add');
  h.set('Uplink-Kind', 'call');
  h.set('Uplink-Timeout', '30000');
  h.set('Uplink-Identity', identity);
  h.set('Uplink-Context', context);
  return h;
}

function answer(nc: NatsConnection, msg: Msg, callHeaders: boolean, answerHeaders: boolean): void {
  if (callHeaders) for (const name of ['Uplink-Member', 'Uplink-Kind', 'Uplink-Timeout', 'Uplink-Identity', 'Uplink-Context']) msg.headers!.get(name);
  else JSON.parse(head); // the same fields, read from a JSON envelope in the payload
  const h = answerHeaders ? headers() : undefined;
  h?.set('Uplink-Event', 'ok');
  nc.publish(msg.reply!, payload, h ? { headers: h } : undefined);
}

const nats = await startNatsServer();
for (let round = 0; round < 2; round++) {
  await shape('no headers', false, false, nats.url);
  await shape('call headers, plain answer', true, false, nats.url);
  await shape('plain call, answer header', false, true, nats.url);
  await shape('headers both ways (today)', true, true, nats.url);
}
await nats.stop();
