/**
 * The client's side of the hello handshake on a fresh socket: send hello when it opens, wait for the
 * welcome (or a refusal, or the connect timeout). `onWelcome` runs synchronously with the welcome, so
 * the caller installs its message handlers before any later frame can arrive (the `ws` package may
 * deliver several messages of one TCP read back to back, with no microtask in between).
 */
import type { Clock } from '../clock.js';
import { ConnectionClosedError, ErrorCode, UplinkError } from '../protocol/errors.js';
import { CloseCode } from '../protocol/close-codes.js';
import type { Codec } from '../protocol/codec.js';
import { decodeServerFrame } from '../protocol/frame-decoder.js';
import type { WireMessage } from '../protocol/frame-writer.js';
import type { ServerFrame, WelcomeFrame } from '../protocol/frames.js';
import { remoteError } from '../protocol/error-body.js';
import type { SocketLike } from './socket.js';

export interface HandshakeOptions {
  clock: Clock;
  timeoutMs: number;
  codec: Codec;
}

/** Resolves once welcomed; rejects with the gateway's refusal, ConnectionClosedError, or DEADLINE_EXCEEDED. */
export function handshake(socket: SocketLike, hello: WireMessage, options: HandshakeOptions, onWelcome: (welcome: WelcomeFrame) => void): Promise<void> {
  const { clock, codec } = options;
  return new Promise<void>((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      reject(new UplinkError(ErrorCode.DEADLINE_EXCEEDED, 'no welcome from the gateway in time'));
      socket.close(CloseCode.NORMAL, 'connect timeout');
    }, options.timeoutMs);
    let refusal: UplinkError | undefined;
    /** Why the socket failed, where the platform says (Node's ws does: a TLS or DNS error; browsers do not). */
    let failure: string | undefined;
    socket.onopen = () => socket.send(hello);
    socket.onerror = (event) => {
      const message = (event as { message?: unknown } | undefined)?.message;
      if (typeof message === 'string' && message) failure = message;
    };
    socket.onclose = (event) => {
      clock.clearTimeout(timer);
      reject(refusal ?? new ConnectionClosedError(event.code, event.reason || failure || ''));
    };
    socket.onmessage = (event) => {
      let frame: ServerFrame;
      try {
        frame = decodeServerFrame(event.data, codec.limits.maxAttachments).frame;
      } catch (error) {
        refusal = error as UplinkError;
        socket.close(CloseCode.PROTOCOL_ERROR, 'bad welcome');
        return;
      }
      // A refusal comes as an error frame, then the close: remember it for the close handler.
      if (frame.t === 'error') refusal = remoteError(codec, frame, undefined);
      if (frame.t !== 'welcome') return;
      clock.clearTimeout(timer);
      onWelcome(frame);
      resolve();
    };
  });
}

/** The URL to open: with the token in the query string when that is its transport (only where nothing else works). */
export function connectUrl(url: string, token: string | undefined, transport: 'hello' | 'header' | 'query'): string {
  if (transport !== 'query' || token === undefined) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}
