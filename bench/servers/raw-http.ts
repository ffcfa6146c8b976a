/** Reference server: raw uWS HTTP with JSON.parse / JSON.stringify (POST /rpc/<method>, no checks at all): the floor of a call over HTTP. */
import { loadUws } from '../../src/server/http/uws-loader.js';

const uws = loadUws().uws!;
const methods: Record<string, (...args: never[]) => unknown> = { add: (a: number, b: number) => a + b };

const app = uws.App();
app.post('/rpc/calc/:method', (res, req) => {
  const method = methods[req.getParameter(0) ?? ''];
  let aborted = false;
  res.onAborted(() => (aborted = true));
  const parts: Buffer[] = [];
  res.onData((chunk, isLast) => {
    parts.push(Buffer.from(chunk.slice(0)));
    if (!isLast || aborted) return;
    const args = JSON.parse(Buffer.concat(parts).toString()) as never[];
    res.cork(() => res.writeHeader('Content-Type', 'application/json').end(JSON.stringify(method!(...args))));
  });
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) process.exit(1);
  console.log(`ready ${uws.us_socket_local_port(socket)}`);
});
