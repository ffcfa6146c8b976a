/** Reference server on the node runtime's stack: node:http with JSON.parse / JSON.stringify (POST /rpc/calc/<method>, no checks at all). */
import { createServer } from 'node:http';
import { listenAndSayReady } from './node-reference.js';

const methods: Record<string, (...args: never[]) => unknown> = { add: (a: number, b: number) => a + b };
const http = createServer((req, res) => {
  const method = methods[(req.url ?? '').slice('/rpc/calc/'.length)];
  const parts: Buffer[] = [];
  req.on('data', (chunk: Buffer) => parts.push(chunk));
  req.on('end', () => {
    const args = JSON.parse(Buffer.concat(parts).toString()) as never[];
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(method!(...args)));
  });
});
listenAndSayReady(http);
