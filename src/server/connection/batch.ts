/**
 * Batch calls: several calls in one frame, answered in one batch-result frame. In stop mode the calls
 * run one after another and the first error leaves the rest unrun (null); otherwise they all run at
 * once. All calls of a batch share one call context (deadline, cancellation, correlation id).
 */
import type { ErrorBody } from '../../protocol/errors.js';
import type { EncodedPayload } from '../../protocol/codec.js';
import { badFrame, type BatchFrame, type BatchOutcome } from '../../protocol/frames.js';
import type { HostCall, ObjectHost, ReplySink } from '../../host/object-host.js';
import type { InflightCall } from './inflight-call.js';

/**
 * Splits the batch body and attachments into one payload per call, as the header's n and a say. `n`
 * counts UTF-16 code units (JavaScript string length: a character outside the BMP, such as an emoji,
 * counts 2), which any language can count from the body's text.
 */
export function splitBatchPayloads(frame: BatchFrame, body: string, attachments: Uint8Array[] | undefined): EncodedPayload[] {
  const payloads: EncodedPayload[] = [];
  let at = 0;
  let attachmentAt = 0;
  for (const c of frame.calls) {
    const count = c.a ?? 0;
    if (at + c.n > body.length) throw badFrame('batch payload lengths (n, in UTF-16 code units) exceed the body');
    if (attachmentAt + count > (attachments?.length ?? 0)) throw badFrame('batch attachment counts exceed the attachments');
    payloads.push({ text: body.slice(at, at + c.n), attachments: count > 0 ? attachments?.slice(attachmentAt, attachmentAt + count) : undefined });
    at += c.n;
    attachmentAt += count;
  }
  if (at !== body.length || attachmentAt !== (attachments?.length ?? 0)) throw badFrame('batch body has text or attachments after the last call (n counts UTF-16 code units)');
  return payloads;
}

export function runBatch(host: ObjectHost, batch: InflightCall, frame: BatchFrame, payloads: EncodedPayload[]): void {
  const count = frame.calls.length;
  const outcomes: BatchOutcome[] = new Array<BatchOutcome>(count).fill(null);
  const values: (EncodedPayload | undefined)[] = new Array<EncodedPayload | undefined>(count);
  let pending = count;
  let next = 0;

  const finish = (): void => {
    let text = '';
    const attachments: Uint8Array[] = [];
    for (const v of values) {
      if (!v) continue;
      text += v.text;
      if (v.attachments) attachments.push(...v.attachments);
    }
    batch.batchOutcomes = outcomes;
    batch.resolve({ text, attachments: attachments.length > 0 ? attachments : undefined });
  };

  const settled = (ok: boolean): void => {
    pending--;
    if (frame.stop) {
      if (ok && next < count && !batch.context.aborted) invoke(next++);
      else finish();
    } else if (pending === 0) finish();
  };

  const invoke = (index: number): void => {
    const c = frame.calls[index]!;
    const call: HostCall = { object: c.o, member: c.m, kind: c.k ?? 'call', oneway: false, args: payloads[index]!, context: batch.context };
    const sink: ReplySink = {
      resolve(value) {
        values[index] = value;
        outcomes[index] = value.attachments ? { n: value.text.length, a: value.attachments.length } : { n: value.text.length };
        settled(true);
      },
      reject(error: ErrorBody) {
        outcomes[index] = error;
        settled(false);
      },
    };
    host.invoke(call, sink);
  };

  if (frame.stop) invoke(next++);
  else for (next = 0; next < count; ) invoke(next++);
}
