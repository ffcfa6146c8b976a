/**
 * A rogue object host for catalogue L: a plain nats.js client holding the `uplink-host` credential,
 * beating like a host (or not quite like one) and answering the calls it gets however a test says.
 * It learns what a real host learns: the reply subject (`_U.<gateway>.<id>`), the caller's
 * connection id and identity (the call's head), so it can aim at the gateway's inbox and callback subject.
 */
import { headers as natsHeaders, nuid, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jsonBytes, QUEUE_GROUP, Subject, type OutgoingCall } from '../../src/nats/envelope.js';
import { decodeCall, encodeAnswer, type AnswerHead } from '../../src/nats/call-envelope.js';
import { BEAT_MS } from './cluster-arena.js';

export interface RogueCall { msg: Msg; call: OutgoingCall | undefined; member: string }

export class RogueHost {
  readonly id = nuid.next();
  readonly calls: RogueCall[] = [];
  private readonly subscriptions: Subscription[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** What the next beats say (a test may change it between beats). */
  beatBody: Record<string, unknown>;

  constructor(private readonly nc: NatsConnection, objects: string[], private readonly onCall: (call: RogueCall) => void = () => {}) {
    this.beatBody = { id: this.id, name: 'rogue', state: 'up', objects, calls: 0, streams: 0, reconnects: 0 };
  }

  /** Beats every BEAT_MS; with `serve`, answers calls sent to it by name and through the queue group. */
  start(serve = true): this {
    if (serve) {
      const on = (subject: string, queue?: string) => this.subscriptions.push(this.nc.subscribe(subject, {
        ...(queue ? { queue } : {}),
        callback: (error, msg) => {
          if (error) return;
          let call: OutgoingCall | undefined;
          try {
            call = decodeCall(msg.data, 16).call;
          } catch {
            call = undefined;
          }
          const rogue = { msg, call, member: call?.member ?? '' };
          this.calls.push(rogue);
          this.onCall(rogue);
        },
      }));
      on(`uplink.host.${this.id}.call.>`);
      for (const object of this.beatBody.objects as string[]) on(`uplink.call.${object}`, QUEUE_GROUP);
    }
    this.beat();
    this.timer = setInterval(() => this.beat(), BEAT_MS);
    return this;
  }

  beat(body: unknown = this.beatBody, subject = Subject.hostEvents(this.id)): void {
    if (!this.nc.isClosed()) this.nc.publish(subject, typeof body === 'string' || body instanceof Uint8Array ? body : jsonBytes(body));
  }

  /** Answers a call as a host does (call-envelope.ts), with whatever head and body a test says. */
  answer(reply: string, head: AnswerHead | Record<string, unknown>, body?: Uint8Array): void {
    this.nc.publish(reply, encodeAnswer(head as AnswerHead, body));
  }

  /** Publishes with headers to any subject the host credential may (stream frames, callbacks). */
  send(subject: string, fields: Record<string, string | number>, data?: Uint8Array | string, status?: { code: number; description: string }): void {
    const h: MsgHdrs = status ? natsHeaders(status.code, status.description) : natsHeaders();
    for (const [name, value] of Object.entries(fields)) h.set(name, String(value));
    this.nc.publish(subject, typeof data === 'string' ? new TextEncoder().encode(data) : data, { headers: h });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const s of this.subscriptions) s.unsubscribe();
  }
}
