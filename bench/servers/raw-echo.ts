/** Reference server: raw uWS echoing every message's bytes back (the floor any protocol pays). */
import { loadUws } from '../../src/server/http/uws-loader.js';

// The build the gateway loads on this Node (src/server/http/uws-loader.ts), so that both sides of a row run the same uWS.
const uws = loadUws().uws!;

const app = uws.App();
app.ws('/*', {
  maxPayloadLength: 16 * 1024 * 1024,
  message: (ws, message, isBinary) => void ws.send(message, isBinary),
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) process.exit(1);
  console.log(`ready ${uws.us_socket_local_port(socket)}`);
});
// The idle-connection bench reads RSS after a full collection (the bench starts servers with --expose-gc).
process.on('SIGUSR2', () => (globalThis as { gc?: () => void }).gc?.());
