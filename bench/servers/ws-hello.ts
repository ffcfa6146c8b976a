/**
 * Reference server for connect on the node runtime's stack: a `ws` server that answers the client's
 * hello (parsed, token looked at, not verified) with a welcome, and nothing else.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { listenAndSayReady } from './node-reference.js';

const http = createServer();
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: false });
wss.on('connection', (ws, req) => {
  const peer: { remoteAddress?: string; subject?: string } = { remoteAddress: req.socket.remoteAddress };
  ws.once('message', (data) => {
    const hello = JSON.parse(String(data)) as { token?: string };
    peer.subject = typeof hello.token === 'string' ? 'anyone' : undefined;
    ws.send(JSON.stringify({ t: 'welcome', v: 1 }));
  });
});
listenAndSayReady(http);
