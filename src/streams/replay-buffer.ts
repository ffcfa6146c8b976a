/**
 * The frames a stream sent that the consumer has not acknowledged yet, kept for a resume: after a
 * dropped connection they are sent again from the consumer's ack, in order.
 *
 * Invariant: frames are kept in sequence order and a frame leaves only once every item in it is
 * acknowledged (a frame spans `count` items from `seq`), so a resume from any ack replays them all.
 */
import type { EncodedPayload } from '../protocol/codec.js';
import type { StreamSink } from './stream-sink.js';

interface Frame { seq: number; count: number; payload: EncodedPayload; bytes: number }

export class ReplayBuffer {
  private readonly frames: Frame[] = [];
  /** Encoded bytes held (a stream stops pulling above its limits.maxReplayBytes). */
  bytes = 0;

  add(seq: number, count: number, payload: EncodedPayload, bytes: number): void {
    this.frames.push({ seq, count, payload, bytes });
    this.bytes += bytes;
  }

  /** Drops the frames whose items are all below `acked`. */
  trim(acked: number): void {
    while (this.frames.length > 0 && this.frames[0]!.seq + this.frames[0]!.count <= acked) {
      this.bytes -= (this.frames.shift() as Frame).bytes;
    }
  }

  /** Sends again every kept frame with an item at or above `ack`. */
  replay(ack: number, sink: StreamSink): void {
    for (const frame of this.frames) if (frame.seq + frame.count > ack) sink.items(frame.seq, frame.payload, frame.count);
  }

  clear(): void {
    this.frames.length = 0;
    this.bytes = 0;
  }
}
