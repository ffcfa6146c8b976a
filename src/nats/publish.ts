/**
 * Every message Uplink sends on NATS goes through `publish` here. nats.js throws from `publish` when
 * the payload and its encoded headers exceed the server's max_payload, and when the connection is
 * closed or draining; a throw inside a uWS handler or a subscription callback would end the process
 * (or silently close the subscription). So a send never throws: it says what happened, and the
 * caller turns a refusal into a typed error for that one call.
 *
 * Invariant: the size check is nats.js's own (payload + encoded headers against max_payload, exact);
 * the headers are encoded a second time only on the refusal path, to tell "too large" from the rest.
 */
import type { MsgHdrs, NatsConnection, PublishOptions } from '@nats-io/transport-node';
import { coalesceThisTurn } from './write-coalescing.js';

/** What became of a send: sent, larger than one NATS message, or refused for another reason (closed, draining). */
export type Sent = 'sent' | 'too-large' | 'failed';

export function publish(nc: NatsConnection, subject: string, data?: Uint8Array, options?: PublishOptions): Sent {
  try {
    coalesceThisTurn(nc);
    nc.publish(subject, data, options);
    return 'sent';
  } catch {
    return tooLarge(nc, data, options?.headers) ? 'too-large' : 'failed';
  }
}

/** Whether payload and headers together exceed the server's max_payload. */
function tooLarge(nc: NatsConnection, data: Uint8Array | undefined, headers: MsgHdrs | undefined): boolean {
  const max = nc.info?.max_payload;
  if (max === undefined) return false;
  let size = data?.byteLength ?? 0;
  try {
    size += headers ? (headers as unknown as { encode(): Uint8Array }).encode().byteLength : 0; // MsgHdrsImpl; not in the MsgHdrs type
  } catch {
    return false;
  }
  return size > max;
}
