/**
 * At most two socket writes per event-loop turn for everything published in it. nats.js flushes its
 * outbound buffer at the end of each microtask checkpoint, and uWS delivers every client frame in a
 * callback of its own (a checkpoint each): a gateway with 32 calls in flight made one write system
 * call per call, a quarter of its CPU per call, and nats-server read them one by one (#27,
 * docs/performance.md). So the second publish of a turn corks the connection's socket, and the
 * turn's check phase (setImmediate) uncorks it: what the turn published after its first message
 * leaves in one writev. The first is not held: a lone call at light load leaves at once (holding it to
 * the check phase cost 100 to 150 us of p50).
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

/** Publishes so far in this turn, per socket (a reconnect brings a new socket, and a new count). */
const publishesThisTurn = new WeakMap<Corkable, number>();

function socketOf(nc: NatsConnection): Corkable | undefined {
  const socket = (nc as unknown as Internals).protocol?.transport?.socket;
  return socket && typeof socket.cork === 'function' && typeof socket.uncork === 'function' ? (socket as Corkable) : undefined;
}

/** Called before each publish. */
export function coalesceThisTurn(nc: NatsConnection): void {
  const socket = socketOf(nc);
  if (!socket || socket.destroyed) return;
  const published = publishesThisTurn.get(socket) ?? 0;
  publishesThisTurn.set(socket, published + 1);
  if (published === 0) {
    setImmediate(() => {
      publishesThisTurn.delete(socket);
      while (socket.writableCorked > 0) socket.uncork();
    });
  } else if (published === 1 && socket.writableCorked === 0) {
    socket.cork();
  }
}
