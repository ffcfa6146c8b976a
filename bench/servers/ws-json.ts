/**
 * Reference server on the node runtime's stack: a hand-written `ws` + JSON RPC server (JSON.parse /
 * JSON.stringify, the same messages as raw-json.ts, no validation, limits or safety checks at all).
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { listenAndSayReady } from './node-reference.js';

const methods: Record<string, (...args: never[]) => unknown> = {
  add: (a: number, b: number) => a + b,
  echo: (v: unknown) => v,
};
const http = createServer();
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: false, maxPayload: 16 * 1024 * 1024 });
wss.on('connection', (ws) => ws.on('message', (data) => {
  const req = JSON.parse(String(data)) as { id: number; m: string; a: never[] };
  ws.send(JSON.stringify({ id: req.id, r: methods[req.m]!(...req.a) }));
}));
listenAndSayReady(http);
