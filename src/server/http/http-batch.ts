/**
 * A batch of calls in one HTTP request (`POST /rpc/`, docs/protocol.md section 13), with the WebSocket
 * batch's semantics: with `stop` the calls run one after another and the first error leaves the rest
 * unrun (null); otherwise they all run at once; all share one call context (deadline, cancellation).
 *
 * Body: `{"stop"?: boolean, "calls": [{"o", "m", "k"?, "a"?: [plain JSON args] | "payload"?: "<payload
 * text>"}]}`. Answer: `{"results": [{"value": JSON, "meta"?: META} | {"error": {...}} | null]}`.
 * Invariants: the body is parsed and every call checked before any runs; at most `maxInflight` calls
 * per batch (a WebSocket batch counts its calls against the same cap).
 */
import type { CallContext } from '../../core/context.js';
import type { CallKind, ObjectHost } from '../../host/object-host.js';
import type { EncodedPayload } from '../../protocol/codec.js';
import { ErrorCode, errorBody, type ErrorBody } from '../../protocol/errors.js';
import { isName } from '../../protocol/frames.js';

export interface BatchCall { object: string; member: string; kind: CallKind; args: EncodedPayload }
export interface ParsedBatch { stop: boolean; calls: BatchCall[] }
/** One outcome: the value's payload, an error, or null (not run). */
export type BatchAnswer = { value: EncodedPayload } | { error: ErrorBody } | null;

const KINDS = new Set(['call', 'get', 'set']);

/** The batch a body describes, or why it does not. */
export function parseBatch(text: string, maxCalls: number): ParsedBatch | ErrorBody {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return errorBody(ErrorCode.BAD_FRAME, 'a batch is a JSON object {"calls": [...]}');
  }
  const { stop, calls } = (typeof body === 'object' && body !== null ? body : {}) as { stop?: unknown; calls?: unknown };
  if (!Array.isArray(calls) || calls.length === 0 || (stop !== undefined && typeof stop !== 'boolean')) return errorBody(ErrorCode.BAD_FRAME, 'a batch is {"stop"?: boolean, "calls": [...]} with at least one call');
  if (calls.length > maxCalls) return errorBody(ErrorCode.BUSY, `more than ${maxCalls} calls in one batch`);
  const parsed: BatchCall[] = [];
  for (const c of calls as Array<Record<string, unknown>>) {
    if (typeof c !== 'object' || c === null || !isName(c.o) || !isName(c.m) || (c.k !== undefined && !KINDS.has(c.k as string))) {
      return errorBody(ErrorCode.BAD_FRAME, 'each call is {"o": object, "m": member, "k"?: "call"|"get"|"set", "a"?: [...] | "payload"?: "..."}');
    }
    if (String(c.o).startsWith('~')) return errorBody(ErrorCode.REF_RELEASED, 'references are used over WebSocket only');
    const args = typeof c.payload === 'string' ? c.payload : c.a === undefined ? '[]' : Array.isArray(c.a) ? JSON.stringify(c.a) : undefined;
    if (args === undefined) return errorBody(ErrorCode.BAD_FRAME, "a call's arguments are an array (a) or a payload text (payload)");
    parsed.push({ object: c.o as string, member: c.m as string, kind: (c.k as CallKind | undefined) ?? 'call', args: { text: args } });
  }
  return { stop: stop === true, calls: parsed };
}

/** Runs the batch on `host`; `done` gets one answer per call, in order, once. */
export function runHttpBatch(host: ObjectHost, batch: ParsedBatch, context: CallContext, done: (answers: BatchAnswer[]) => void): void {
  const answers: BatchAnswer[] = batch.calls.map(() => null);
  let pending = batch.calls.length;
  let next = 0;
  const settled = (ok: boolean): void => {
    pending--;
    if (batch.stop) {
      if (ok && next < batch.calls.length && !context.aborted) invoke(next++);
      else done(answers);
    } else if (pending === 0) done(answers);
  };
  const invoke = (index: number): void => {
    const c = batch.calls[index]!;
    host.invoke({ object: c.object, member: c.member, kind: c.kind, oneway: false, args: c.args, context }, {
      resolve: (value) => {
        answers[index] = { value };
        settled(true);
      },
      reject: (error) => {
        answers[index] = { error };
        settled(false);
      },
    });
  };
  if (batch.stop) invoke(next++);
  else for (next = 0; next < batch.calls.length; ) invoke(next++);
}

/** The answer's JSON: each value as its JSON and META, each error as code, name, message (data as plain JSON). */
export function batchJson(answers: BatchAnswer[], encodeData: (data: unknown) => string | undefined): string {
  const parts = answers.map((answer) => {
    if (answer === null) return 'null';
    if ('error' in answer) {
      const { code, name, message, data } = answer.error;
      const encoded = data === undefined ? undefined : encodeData(data);
      return JSON.stringify({ error: { code, name, message } }).replace(/}}$/, encoded === undefined ? '}}' : `,"data":${encoded}}}`);
    }
    if (answer.value.attachments?.length) return JSON.stringify({ error: { code: ErrorCode.TYPE_NOT_ALLOWED, name: 'UplinkError', message: 'binary values travel over WebSocket only' } });
    const text = answer.value.text;
    const newline = text.indexOf('\n');
    return newline < 0 ? `{"value":${text}}` : `{"value":${text.slice(0, newline)},"meta":${text.slice(newline + 1)}}`;
  });
  return `{"results":[${parts.join(',')}]}`;
}
