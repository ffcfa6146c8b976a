/**
 * What a connection as a trusted NATS role can learn by listening where its permissions let it
 * (docs/nats-server.conf): as uplink-gateway, the answers, stream frames and callbacks on `_U.>`; as
 * uplink-host, the calls and control messages on `uplink.call.>` and `uplink.host.*.>`. The insider
 * fills the `{token}`s of message templates (nats-messages.ts) with those values.
 *
 * Invariant: it keeps values of gateway A's traffic only (reply subjects, connections, stream keys,
 * identities other than the honest client's), so forged messages never address the honest client.
 */
import type { Msg } from '@nats-io/transport-node';
import { nuid } from '@nats-io/transport-node';
import { packBinary } from '../../src/protocol/binary.js';
import type { Data } from './nats-messages.js';

const KEEP = 64;
const decoder = new TextDecoder();

/** The cluster's fixed ids, as the insider reads them at fill time (they change on a restart). */
export interface Ids { host: string; gatewayA: string; gatewayB: string; honestSubject: string }

export class Insider {
  private readonly seen = new Map<string, string[]>();
  /** Made-up ids of the message being filled: one per token name, the same in subject, headers and payload. */
  private madeUp = new Map<string, string>();

  constructor(private readonly ids: () => Ids, private readonly random: () => number) {}

  /** `_U.>` as the gateway user: answers and stream frames to gateway A's entries, its callbacks. */
  learnInbox(msg: Msg): void {
    const a = `_U.${this.ids().gatewayA}.`;
    if (!msg.subject.startsWith(a)) return;
    const h = msg.headers;
    if (msg.subject === `${a}_cb`) {
      this.keep('cbcall', h?.get('Uplink-Call'));
      this.keep('conn', h?.get('Uplink-Connection'));
      this.keep('ref', h?.get('Uplink-Key'));
      return;
    }
    this.keep('reply', msg.subject);
    this.keep('n', msg.subject.slice(a.length));
    if (h?.get('Uplink-Event') === 'open') {
      this.keep('key', h.get('Uplink-Key'));
      this.keep('call', msg.subject);
    }
    this.learnRefs(msg.data);
  }

  /** `uplink.call.>` and `uplink.host.*.>` as the host user: calls and control messages from gateway A. */
  learnCall(msg: Msg): void {
    const a = this.ids().gatewayA;
    const h = msg.headers;
    if (msg.reply?.startsWith(`_U.${a}.`)) this.keep('reply', msg.reply);
    const head = callHead(msg.data);
    const connection = head?.c;
    if (typeof connection === 'string' && connection.startsWith(`${a}/`)) {
      this.keep('conn', connection.slice(a.length + 1));
      const identity = head!.i as { subject?: unknown } | undefined;
      if (identity && identity.subject !== this.ids().honestSubject) {
        this.keep('identity', JSON.stringify(identity)); // as a call's head carries it
        this.keep('identity64', Buffer.from(JSON.stringify(identity)).toString('base64url')); // as the Uplink-Identity header does
      }
    }
    const call = h?.get('Uplink-Call');
    if (call?.startsWith(`_U.${a}.`)) {
      this.keep('call', call);
      this.keep('key', h?.get('Uplink-Key'));
    }
    this.learnRefs(msg.data);
  }

  /** Starts a new message: its made-up ids are fresh. */
  begin(): void {
    this.madeUp = new Map();
  }

  /** A template's text with every `{token}` filled (`{token!}`: a mutated value). */
  fill(text: string): string {
    return text.includes('{') ? text.replace(/\{(\w+)(!?)\}/g, (_, name: string, bang: string) => (bang ? this.mutate(this.value(name)) : this.value(name))) : text;
  }

  /** A template's payload as bytes; `fill` ends the message `n` bytes from max_payload once headers are counted. */
  data(data: Data, maxPayload: number, headerBytes: number): Uint8Array {
    if ('head' in data) {
      const head = Buffer.from(this.fill(data.head), 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(head.byteLength);
      return Buffer.concat([length, head, this.data(data.body, maxPayload, headerBytes + 4 + head.byteLength)]);
    }
    if ('bytes' in data) return data.bytes;
    if ('text' in data) return new TextEncoder().encode(this.fill(data.text));
    if ('packed' in data) return packBinary(this.fill(data.packed), data.attachments ?? []);
    const size = Math.max(0, maxPayload - headerBytes - data.fill - 12);
    return packBinary(`["${'x'.repeat(size)}"]`, []);
  }

  /** The processes were restarted: what was learned from them names nothing any more. */
  forget(): void {
    this.seen.clear();
  }

  /** Resolves once a live connection of gateway A has been seen (or after `timeoutMs`). */
  async relearn(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(this.seen.get('conn')?.length && this.seen.get('reply')?.length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  counts(): Record<string, number> {
    return Object.fromEntries([...this.seen].map(([k, v]) => [k, v.length]));
  }

  private value(name: string): string {
    const ids = this.ids();
    switch (name) {
      case 'host': return ids.host;
      case 'gwA': return ids.gatewayA;
      case 'gwB': return ids.gatewayB;
      case 'fakehost': case 'fakegw': {
        const id = this.madeUp.get(name) ?? nuid.next();
        this.madeUp.set(name, id);
        return id;
      }
      case 'hostkey': return ids.host + (this.pick('key') ?? 'k'.repeat(24));
      case 'n': return this.pick('n') ?? String(Math.floor(this.random() * 100));
      case 'reply': case 'call': return this.pick(name) ?? `_U.${ids.gatewayA}.${Math.floor(this.random() * 100).toString(36)}`;
      case 'sref': return this.pick('sref') ?? `s${ids.host}${'A'.repeat(22)}`;
      default: return this.pick(name) ?? 'x';
    }
  }

  private mutate(value: string): string {
    const r = this.random();
    if (r < 0.25) return value.slice(0, -1);
    if (r < 0.5) return value.slice(0, -1) + 'Z';
    if (r < 0.75) return value + value;
    return value.slice(1);
  }

  /** Mostly one of the newest values (the live ones: a connection still open, a call still waiting). */
  private pick(name: string): string | undefined {
    const values = this.seen.get(name);
    if (!values || values.length === 0) return undefined;
    const from = this.random() < 0.7 ? Math.max(0, values.length - 4) : 0;
    return values[from + Math.floor(this.random() * (values.length - from))];
  }

  private keep(name: string, value: string | undefined): void {
    if (!value) return;
    let values = this.seen.get(name);
    if (!values) this.seen.set(name, (values = []));
    const at = values.indexOf(value);
    if (at >= 0) values.splice(at, 1); // seen again: it is live, it moves to the newest end
    values.push(value);
    if (values.length > KEEP) values.splice(0, values.length - KEEP);
  }

  /** Server references a host handed out (their ids start with the host's id). */
  private learnRefs(data: Uint8Array): void {
    if (data.length === 0 || data.length > 65_536) return;
    for (const [, id] of decoder.decode(data).matchAll(/"id":"(s[A-Za-z0-9_-]{16,127})"/g)) this.keep('sref', id);
  }
}

/** A call's head (call-envelope.ts: a u32 length, then JSON), or undefined. */
function callHead(data: Uint8Array): Record<string, unknown> | undefined {
  try {
    const length = Buffer.from(data.buffer, data.byteOffset, data.byteLength).readUInt32BE(0);
    const head: unknown = JSON.parse(decoder.decode(data.subarray(4, 4 + length)));
    return typeof head === 'object' && head !== null ? (head as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
