/** Reference server: raw uWS with JSON.parse / JSON.stringify as a minimal hand-written RPC (no safety checks). */
import { loadUws } from '../../src/server/http/uws-loader.js';

// The build the gateway loads on this Node (src/server/http/uws-loader.ts), so that both sides of a row run the same uWS.
const uws = loadUws().uws!;

const methods: Record<string, (...args: never[]) => unknown> = {
  add: (a: number, b: number) => a + b,
  echo: (v: unknown) => v,
};
const app = uws.App();
app.ws('/*', {
  maxPayloadLength: 16 * 1024 * 1024,
  message: (ws, message) => {
    const req = JSON.parse(Buffer.from(message).toString()) as { id: number; m: string; a: never[] };
    ws.send(JSON.stringify({ id: req.id, r: methods[req.m]!(...req.a) }));
  },
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) process.exit(1);
  console.log(`ready ${uws.us_socket_local_port(socket)}`);
});
