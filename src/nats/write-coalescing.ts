/**
 * One socket write per event-loop turn for everything published in it. nats.js flushes its outbound
 * buffer at the end of each microtask checkpoint, and uWS delivers every client frame in a callback
 * of its own (a checkpoint each): a gateway with 32 calls in flight made one write system call per
 * call, which was a quarter of its CPU per call (docs/performance.md, #27). Corking the connection's
 * socket at the first publish of a turn and uncorking it in that turn's check phase (setImmediate)
 * sends what the turn published in one writev.
 *
 * Invariants: ordering is the socket's own (cork only buffers); the socket is uncorked in the same
 * loop turn, so nothing waits on a timer; a socket that is gone or not corkable is left alone (the
 * socket is nats.js's, read from an internal field: pinned exact version, and without it Uplink only
 * loses the coalescing, never a message).
 */
import type { NatsConnection } from '@nats-io/transport-node';

interface Corkable {
  cork(): void;
  uncork(): void;
  writableCorked: number;
  destroyed: boolean;
}

type Internals = { protocol?: { transport?: { socket?: Partial<Corkable> } } };

function socketOf(nc: NatsConnection): Corkable | undefined {
  const socket = (nc as unknown as Internals).protocol?.transport?.socket;
  return socket && typeof socket.cork === 'function' && typeof socket.uncork === 'function' ? (socket as Corkable) : undefined;
}

/** Called before each publish: the first of a turn corks the socket until the turn's check phase. */
export function coalesceThisTurn(nc: NatsConnection): void {
  const socket = socketOf(nc);
  if (!socket || socket.destroyed || socket.writableCorked > 0) return;
  socket.cork();
  setImmediate(() => {
    while (socket.writableCorked > 0) socket.uncork();
  });
}
