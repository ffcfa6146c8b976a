/** Reference server on the node runtime's stack: a `ws` server on node:http echoing every message's bytes back. */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { listenAndSayReady } from './node-reference.js';

const http = createServer();
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: false, maxPayload: 16 * 1024 * 1024 });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
listenAndSayReady(http);
