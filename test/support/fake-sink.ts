/** A StreamSink that records what a stream wrote, decoding item payloads with the given codec. */
import type { ErrorBody } from '../../src/protocol/errors.js';
import type { StreamSink } from '../../src/host/object-host.js';
import type { Codec } from '../../src/protocol/codec.js';

export type SinkEvent =
  | { t: 'open'; key: string }
  | { t: 'items'; seq: number; items: unknown[] }
  | { t: 'end'; total: number }
  | { t: 'fail'; code: string; delivered: number }
  | { t: 'released' };

export class FakeSink implements StreamSink {
  readonly events: SinkEvent[] = [];
  writable = true;

  constructor(private readonly codec: Codec) {}

  opened(key: string): void {
    this.events.push({ t: 'open', key });
  }

  items(seq: number, payload: { text: string }): void {
    this.events.push({ t: 'items', seq, items: this.codec.decode(payload) as unknown[] });
  }

  end(total: number): void {
    this.events.push({ t: 'end', total });
  }

  fail(error: ErrorBody, delivered: number): void {
    this.events.push({ t: 'fail', code: error.code, delivered });
  }

  released(): void {
    this.events.push({ t: 'released' });
  }

  /** Every item delivered, in order. */
  get received(): unknown[] {
    return this.events.flatMap((e) => (e.t === 'items' ? e.items : []));
  }

  last(): SinkEvent | undefined {
    return this.events.at(-1);
  }
}
