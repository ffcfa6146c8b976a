/**
 * Batches on the client: several calls' arguments in one frame, and the batch result back as one
 * outcome per call.
 */
import type { UplinkError } from '../protocol/errors.js';
import type { Codec, EncodedPayload, PayloadCoder } from '../protocol/codec.js';
import type { BatchCall, BatchOutcome, MemberKind } from '../protocol/frames.js';
import { remoteError } from '../protocol/error-body.js';

export interface BatchCallSpec {
  object: string;
  method: string;
  args?: unknown[];
  kind?: MemberKind;
}

export type BatchResult = { ok: true; value: unknown } | { ok: false; error: UplinkError } | { ok: false; notRun: true };

/** The calls as the batch frame lists them, and their arguments back to back as its body. */
export function encodeBatch(codec: PayloadCoder, calls: BatchCallSpec[]): { calls: BatchCall[]; payload: EncodedPayload } {
  const encoded = calls.map((c) => codec.encode(c.kind === 'get' ? [] : (c.args ?? [])));
  const batchCalls = calls.map((c, i): BatchCall => {
    const e = encoded[i]!;
    return { o: c.object, m: c.method, n: e.text.length, ...(c.kind ? { k: c.kind } : {}), ...(e.attachments ? { a: e.attachments.length } : {}) };
  });
  const attachments = encoded.flatMap((e) => e.attachments ?? []);
  return { calls: batchCalls, payload: { text: encoded.map((e) => e.text).join(''), attachments: attachments.length ? attachments : undefined } };
}

/** One result per call of a batch: `{ n, a }` outcomes take the next n characters and a attachments of the body. */
export function batchResults(codec: Codec, payloads: PayloadCoder, outcomes: BatchOutcome[], body: string, attachments: Uint8Array[] | undefined): BatchResult[] {
  let at = 0;
  let attachmentAt = 0;
  return outcomes.map((o): BatchResult => {
    if (o === null) return { ok: false, notRun: true };
    if ('code' in o) return { ok: false, error: remoteError(codec, o, undefined) };
    const count = o.a ?? 0;
    const value = payloads.decode({ text: body.slice(at, at + o.n), attachments: attachments?.slice(attachmentAt, attachmentAt + count) });
    at += o.n;
    attachmentAt += count;
    return { ok: true, value };
  });
}
