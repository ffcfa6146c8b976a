/**
 * One fuzzing connection: fills the slots of structured frames (ws-frames.ts) with what this live
 * connection knows, sends them, and tallies what comes back (answer-tally.ts). The gateway may close
 * it (some frames must); it is reopened and the loss counted.
 *
 * Invariants: ids the lane hands out are unique on the connection (from 1,000,000 up, above the ids
 * of the random minority), so the first answer carrying one belongs to that frame; the lane's own
 * frames (final acks, cancels that keep open streams under 100, callback answers, flow-control
 * pings) are counted apart from the fuzzed ones.
 */
import WebSocket from 'ws';
import { packBinary, unpackBinary } from '../../src/protocol/binary.js';
import { parseClientHeader } from '../../src/protocol/frames.js';
import { AnswerTally } from './answer-tally.js';
import { isSlot, type FrameSpec, type Slot } from './ws-frames.js';
import { mutateText } from '../support/fuzz-arbitraries.js';
import { knownWs } from './known-faults.js';

/** What the lanes of one run share: resume keys seen by any lane (same subject: takeovers), tokens for refresh. */
export interface LaneShared { keys: string[]; srefs: string[]; tokens: string[] }

const FLOW_PING = 424_242;
const MAX_LIVE_STREAMS = 100;

/** A small seeded PRNG (mulberry32): the lane's choices repeat with the run's seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class WsLane {
  ws!: WebSocket;
  readonly tally = new AnswerTally();
  /** The lane's own frames, by what they were for. */
  readonly own = new Map<string, number>();
  /** Frames not sent because they would hit a known fault (--skip-known), by fault. */
  readonly skipped = new Map<string, number>();
  /** The frames of the current batch, as generated and as sent (for a reproduction). */
  sentNow: Array<{ spec: FrameSpec; frame: string | Uint8Array }> = [];
  private nextId = 1_000_000;
  private readonly pending = new Map<number, string>();
  private readonly streams = new Set<number>();
  private srefs: string[] = [];
  private callbacks: number[] = [];
  private maxPayload = 1 << 20;
  private maxInflight = 64;
  private pongs = 0;
  private welcomed = false;
  private readonly random: () => number;

  constructor(private readonly url: () => string, private readonly token: string, private readonly shared: LaneShared, seed: number, private readonly skipKnown = false) {
    this.random = prng(seed);
  }

  async open(): Promise<void> {
    this.tally.lostToClose += this.pending.size;
    this.pending.clear();
    this.streams.clear();
    this.srefs = [];
    this.callbacks = [];
    const ws = new WebSocket(this.url(), { maxPayload: 64 * 1024 * 1024 });
    this.ws = ws;
    ws.on('error', () => {});
    ws.on('close', (code) => { if (ws === this.ws) this.tally.closed(code); });
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    this.welcomed = false;
    ws.send(JSON.stringify({ t: 'hello', v: [1], token: this.token }));
    await this.until(() => this.welcomed || ws.readyState !== WebSocket.OPEN, 5_000);
    if (!this.welcomed) throw new Error(`no welcome from ${this.url()}`);
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends the frames, then waits for a pong: the gateway has read them (flow control). */
  async send(specs: readonly FrameSpec[]): Promise<void> {
    this.sentNow = [];
    for (const spec of specs) {
      const known = this.skipKnown ? knownWs(spec) : undefined;
      if (known) {
        this.skipped.set(known, (this.skipped.get(known) ?? 0) + 1);
        continue;
      }
      if (!this.isOpen) await this.open();
      if (isSlot(spec.header?.id) && this.pending.size >= this.maxInflight * 0.75) await this.drain();
      const closing = spec.fill !== undefined && spec.fill <= -this.maxPayload;
      if (closing) await this.sync(); // what was sent before is read before the gateway closes the connection
      const frame = this.fill(spec);
      this.tally.sent(spec.kind);
      this.sentNow.push({ spec, frame });
      this.ws.send(frame);
      if (closing) await this.until(() => !this.isOpen, 5_000).catch(() => {}); // past twice the limit: closed (1009) or dropped
    }
    if (!this.isOpen) return this.open();
    await this.sync();
  }

  /**
   * Waits until half the gateway's maxInflight is free, as a client that reads its welcome does (BUSY
   * refuses at admission, before dispatch). Answers still missing after 5 s are given up on.
   */
  private async drain(): Promise<void> {
    await this.until(() => this.pending.size < this.maxInflight / 2 || !this.isOpen, 5_000).catch(() => {
      this.tally.unanswered += this.pending.size;
      this.pending.clear();
    });
  }

  /** A ping, then its pong: the gateway has read everything sent before it. */
  private async sync(): Promise<void> {
    if (!this.isOpen) return;
    const before = this.pongs;
    this.ownFrame('ping', `{"t":"ping","id":${FLOW_PING}}`);
    await this.until(() => this.pongs !== before || !this.isOpen, 20_000);
  }

  /** Waits for the answers still due (calls through NATS may answer after the pong). */
  async settle(timeoutMs: number): Promise<void> {
    await this.until(() => this.pending.size === 0 || !this.isOpen, timeoutMs).catch(() => {});
  }

  close(): void {
    this.ws?.close();
  }

  /** The frame as it goes on the wire: slots and macros filled, then text mutations, then binary packing. */
  fill(spec: FrameSpec): string | Uint8Array {
    if (spec.raw !== undefined) return spec.raw;
    const header: Record<string, unknown> = { ...spec.header };
    const sref = this.pickSref();
    for (const [name, value] of Object.entries(header)) if (isSlot(value)) header[name] = this.slot(value, spec.kind);
    this.untrackIfRefused(header, spec.kind);
    let body = spec.body;
    if (spec.pieces) {
      const pieces = spec.pieces.map((p) => (p.includes('@@SREF@@') ? p.replaceAll('@@SREF@@', sref) : p));
      header.calls = (header.calls as Array<Record<string, unknown>>).map((c, i) => ({ ...c, n: Math.max(0, pieces[i]!.length + (i === 0 ? spec.skew ?? 0 : 0)) }));
      body = pieces.join('');
    }
    let head = JSON.stringify(header);
    if (head.includes('@@SREF@@')) head = head.replaceAll('@@SREF@@', sref);
    if (body?.includes('@@SREF@@')) body = body.replaceAll('@@SREF@@', sref);
    if (body?.includes('@@FILL@@')) {
      const size = Buffer.byteLength(head) + 1 + Buffer.byteLength(body) - 8;
      body = body.replace('@@FILL@@', 'x'.repeat(Math.max(0, this.maxPayload - (spec.fill ?? 0) - size)));
    }
    let text = body === undefined ? head : `${head}\n${body}`;
    if (spec.mutations) text = mutateText(text, spec.mutations);
    return spec.attachments?.length ? packBinary(text, spec.attachments) : text;
  }

  /**
   * A header the gateway's own shape check refuses (a name one past 256, a refused annotation) is
   * answered BAD_FRAME without an id: its id is not tracked, and the frame is counted as refused.
   */
  private untrackIfRefused(header: Record<string, unknown>, kind: string): void {
    try {
      parseClientHeader(header);
    } catch {
      if (typeof header.id === 'number' && this.pending.get(header.id) === kind) this.pending.delete(header.id);
      this.tally.refusedHeader(kind);
    }
  }

  private slot(s: Slot, kind: string): unknown {
    switch (s.$) {
      case 'id': {
        const id = this.nextId++;
        if (kind !== 'mutated') this.pending.set(id, kind); // a mutated frame's id may not survive: never tracked
        return id;
      }
      case 'inflight': return this.pick([...this.pending.keys()]) ?? this.nextId++;
      case 'stream': {
        const id = this.pick([...this.streams]) ?? this.nextId++;
        if (kind === 'cancel') this.streams.delete(id);
        return id;
      }
      case 'key': return mutateKey(this.pick(this.shared.keys) ?? 'k'.repeat(24), s.variant, this.random);
      case 'sref': return s.variant === 0 ? this.pickSref() : s.variant === 1 ? (this.pick(this.shared.srefs) ?? this.pickSref()) : mutateKey(this.pickSref(), s.variant, this.random);
      case 'cb': return this.pick(this.callbacks) ?? Math.floor(this.random() * 10);
      case 'token': return this.shared.tokens[s.variant % this.shared.tokens.length];
    }
  }

  private pickSref(): string {
    return this.pick(this.srefs) ?? 's' + 'A'.repeat(22);
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.random() * items.length)];
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const text = isBinary ? unpackBinary(new Uint8Array(data), 64).text : data.toString('utf8');
    const nl = text.indexOf('\n');
    const head = JSON.parse(nl < 0 ? text : text.slice(0, nl)) as { t: string; id?: number; code?: string; key?: string; seq?: number };
    this.tally.answer(head);
    if (head.t === 'welcome') {
      this.welcomed = true;
      ({ maxPayload: this.maxPayload, maxInflight: this.maxInflight } = (head as unknown as { limits: { maxPayload: number; maxInflight: number } }).limits);
      return;
    }
    if (head.t === 'pong' && head.id === FLOW_PING) return void this.pongs++;
    if (head.t === 'callback') return this.onCallback(head.id!, nl < 0 ? '' : text.slice(nl + 1));
    if (head.t === 'callback-cancel' || head.t === 'release' || head.id === undefined) return;
    const kind = this.pending.get(head.id);
    if (kind !== undefined) {
      this.pending.delete(head.id);
      this.tally.firstAnswer(kind, head);
    }
    if (head.t === 'stream-open') this.opened(head.id, head.key!);
    else if ((head.t === 'end' || (head.t === 'error' && head.seq !== undefined)) && this.streams.delete(head.id)) {
      this.ownFrame('final ack', JSON.stringify({ t: 'credit', id: head.id, upTo: head.seq, ack: head.seq }));
    }
    if (head.t === 'result' && text.includes('sref')) this.keepSrefs(text);
  }

  private opened(id: number, key: string): void {
    this.streams.add(id);
    this.shared.keys.push(key);
    if (this.shared.keys.length > 256) this.shared.keys.splice(0, 128);
    if (this.streams.size > MAX_LIVE_STREAMS) {
      const oldest = this.streams.values().next().value as number;
      this.streams.delete(oldest);
      this.ownFrame('cancel (stream cap)', JSON.stringify({ t: 'cancel', id: oldest }));
    }
  }

  private keepSrefs(text: string): void {
    for (const [, id] of text.matchAll(/"id":"(s[A-Za-z0-9_-]{16,127})"/g)) {
      this.srefs.push(id!);
      this.shared.srefs.push(id!);
    }
    if (this.srefs.length > 64) this.srefs.splice(0, 32);
    if (this.shared.srefs.length > 256) this.shared.srefs.splice(0, 128);
  }

  /** Answers a callback as a client might: correctly, with an error, with garbage, or not at all. */
  private onCallback(id: number, body: string): void {
    this.callbacks.push(id);
    if (this.callbacks.length > 64) this.callbacks.splice(0, 32);
    const r = this.random();
    if (r < 0.5) this.ownFrame('callback answer', `{"t":"callback-result","id":${id}}\n${(/^\[(-?\d+)/.exec(body)?.[1]) ?? 'null'}`);
    else if (r < 0.7) this.ownFrame('callback answer', `{"t":"callback-error","id":${id},"code":"APPLICATION_ERROR","name":"Oops","message":"no"}`);
    else if (r < 0.8) this.ownFrame('callback answer', `{"t":"callback-result","id":${id}}\n[1`);
  }

  private ownFrame(what: string, frame: string): void {
    if (!this.isOpen) return;
    this.own.set(what, (this.own.get(what) ?? 0) + 1);
    this.ws.send(frame);
  }

  private async until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`no answer from ${this.url()} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

/** A resume key or reference id, as it is (0) or cut, altered, re-prefixed or made up. */
function mutateKey(key: string, variant: number, random: () => number): string {
  const char = () => 'ABCabc019_-'[Math.floor(random() * 11)]!;
  switch (variant % 6) {
    case 1: return key.slice(0, -1);
    case 2: return key.slice(0, -1) + char();
    case 3: return Array.from({ length: 22 }, char).join('') + key.slice(22);
    case 4: return Array.from({ length: 24 }, char).join('');
    case 5: return key + key;
    default: return key;
  }
}
