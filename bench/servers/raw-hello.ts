/**
 * Reference server for connect: raw uWS with what any protocol that authenticates in its first
 * message pays in JS, and nothing else: upgrade, open and close handlers, and one message answered
 * (the client's hello with a token, parsed, and a welcome). No checks, no token verification.
 */
import { loadUws } from '../../src/server/http/uws-loader.js';

// The build the gateway loads on this Node (src/server/http/uws-loader.ts), so that both sides of a row run the same uWS.
const uws = loadUws().uws!;

interface Peer { remoteAddress: string; subject?: string }

const app = uws.App();
app.ws<Peer>('/*', {
  upgrade: (res, req, context) => {
    const peer: Peer = { remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString() };
    res.upgrade(peer, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  },
  open: () => {},
  message: (ws, message) => {
    const hello = JSON.parse(Buffer.from(message).toString()) as { token?: string };
    ws.getUserData().subject = typeof hello.token === 'string' ? 'anyone' : undefined;
    ws.send(JSON.stringify({ t: 'welcome', v: 1 }));
  },
  close: () => {},
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) process.exit(1);
  console.log(`ready ${uws.us_socket_local_port(socket)}`);
});
