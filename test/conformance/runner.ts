/**
 * Runs the language-neutral vectors of test/conformance/*.json against a live gateway (README.md in
 * this folder defines the format). Kept apart from the test file so that another gateway can be
 * checked with the same runner: runVector(vector, url). It speaks the wire from docs/protocol.md on a
 * plain WebSocket and imports nothing from src/ (binary packing included), as an independent client
 * would: a bug shared by both sides cannot hide behind shared code.
 */
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import WebSocket from 'ws';

export interface Step {
  conn: string;
  send?: string;
  sendBinary?: { text: string; attachments: string[] };
  expect?: { header: Record<string, unknown>; body?: string | null; bodyMatch?: string; attachments?: string[] };
  expectClose?: number;
  close?: boolean;
  abort?: boolean;
  note?: string;
}

export interface Vector {
  name: string;
  description: string;
  steps: Step[];
}

export interface ConformanceConfig {
  jwtSecret: string;
  issuer: string;
}

interface Received { text: string; attachments: Uint8Array[] }

/** One WebSocket of a vector: messages queue up until a step expects them. */
class Peer {
  private readonly queue: Array<Received | { closed: number }> = [];
  private wake: (() => void) | undefined;
  readonly ready: Promise<void>;

  constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary) => {
      this.queue.push(isBinary ? unpack(new Uint8Array(data)) : { text: data.toString('utf8'), attachments: [] });
      this.wake?.();
    });
    ws.on('close', (code) => {
      this.queue.push({ closed: code });
      this.wake?.();
    });
    ws.on('error', () => {});
    this.ready = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  async next(what: string, timeoutMs = 5_000): Promise<Received | { closed: number }> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (Date.now() > deadline) throw new Error(`${what}: nothing arrived within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
    return this.queue.shift()!;
  }
}

function unpack(bytes: Uint8Array): Received {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const textLength = view.getUint32(0);
  const text = new TextDecoder().decode(bytes.subarray(4, 4 + textLength));
  const attachments: Uint8Array[] = [];
  for (let at = 4 + textLength; at < bytes.length;) {
    const length = view.getUint32(at);
    attachments.push(bytes.slice(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return { text, attachments };
}

function pack(text: string, attachments: Uint8Array[]): Uint8Array {
  const t = new TextEncoder().encode(text);
  const out = new Uint8Array(4 + t.length + attachments.reduce((n, a) => n + 4 + a.length, 0));
  const view = new DataView(out.buffer);
  view.setUint32(0, t.length);
  out.set(t, 4);
  let at = 4 + t.length;
  for (const a of attachments) {
    view.setUint32(at, a.length);
    out.set(a, at + 4);
    at += 4 + a.length;
  }
  return out;
}

/** Expands {{token:SUB}}, {{repeat:TEXT:COUNT}} and {{NAME}} (a captured value) in a frame to send. */
async function expand(text: string, captured: Map<string, unknown>, config: ConformanceConfig): Promise<string> {
  const parts: string[] = [];
  let at = 0;
  for (const match of text.matchAll(/\{\{([^}]+)\}\}/g)) {
    parts.push(text.slice(at, match.index));
    const [kind, ...rest] = match[1]!.split(':');
    if (kind === 'token') parts.push(await token(rest[0]!, config));
    else if (kind === 'repeat') parts.push(rest[0]!.repeat(Number(rest[1])));
    else if (captured.has(kind!)) parts.push(String(captured.get(kind!)));
    else throw new Error(`nothing captured as '${kind}'`);
    at = match.index + match[0].length;
  }
  parts.push(text.slice(at));
  return parts.join('');
}

function token(subject: string, config: ConformanceConfig): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(subject).setIssuer(config.issuer)
    .setIssuedAt().setExpirationTime('10m').sign(new TextEncoder().encode(config.jwtSecret));
}

/** Compares an expected value with an actual one: "$any" matches anything present, "$capture:NAME" too and keeps it. */
function match(expected: unknown, actual: unknown, path: string, captured: Map<string, unknown>): void {
  if (typeof expected === 'string' && expected.startsWith('$capture:')) {
    assert.notEqual(actual, undefined, `${path} is missing`);
    captured.set(expected.slice('$capture:'.length), actual);
    return;
  }
  if (expected === '$any') return assert.notEqual(actual, undefined, `${path} is missing`);
  const reference = typeof expected === 'string' ? /^\{\{(\w+)\}\}$/.exec(expected) : null;
  if (reference) return assert.deepEqual(actual, captured.get(reference[1]!), `${path}: the value captured as ${reference[1]}`);
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${path} should be an object`);
    const a = actual as Record<string, unknown>;
    assert.deepEqual(Object.keys(a).sort(), Object.keys(expected).sort(), `${path}: the fields`);
    for (const [key, value] of Object.entries(expected)) match(value, a[key], `${path}.${key}`, captured);
    return;
  }
  assert.deepEqual(actual, expected, path);
}

async function expectFrame(peer: Peer, step: Step, index: number, captured: Map<string, unknown>, transcript: string[] | undefined): Promise<void> {
  const where = `step ${index} (${step.conn})${step.note ? `: ${step.note}` : ''}`;
  const got = await peer.next(where);
  if ('closed' in got) throw new Error(`${where}: the socket closed (${got.closed}) instead of sending a frame`);
  transcript?.push(`${step.conn}< ${got.text}`);
  const nl = got.text.indexOf('\n');
  const header = JSON.parse(nl < 0 ? got.text : got.text.slice(0, nl)) as unknown;
  const body = nl < 0 ? null : got.text.slice(nl + 1);
  const expected = step.expect!;
  match(expected.header, header, `${where} header`, captured);
  if (expected.body !== undefined) assert.equal(body, expected.body, `${where} body`);
  if (expected.bodyMatch !== undefined) {
    // A regular expression over the whole body; its named groups are captured (a reference id, say).
    const found = new RegExp(`^(?:${expected.bodyMatch})$`, 's').exec(body ?? '');
    assert.ok(found, `${where} body ${JSON.stringify(body)} does not match ${expected.bodyMatch}`);
    for (const [name, value] of Object.entries(found.groups ?? {})) captured.set(name, value);
  }
  if (expected.attachments) assert.deepEqual(got.attachments.map((a) => Buffer.from(a).toString('base64')), expected.attachments, `${where} attachments`);
}

/**
 * Runs one vector against the gateway at `url`; throws on the first frame that does not match.
 * `transcript`, when given, receives every frame sent (`a> ...`) and received (`a< ...`) as it went.
 */
export async function runVector(vector: Vector, url: string, config: ConformanceConfig, transcript?: string[]): Promise<void> {
  const peers = new Map<string, Peer>();
  const captured = new Map<string, unknown>();
  const peer = async (name: string): Promise<Peer> => {
    let p = peers.get(name);
    if (!p) peers.set(name, (p = new Peer(new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 }))));
    await p.ready;
    return p;
  };
  try {
    for (const [index, step] of vector.steps.entries()) {
      const p = await peer(step.conn);
      if (step.send !== undefined) {
        const text = await expand(step.send, captured, config);
        transcript?.push(`${step.conn}> ${text}`);
        p.ws.send(text);
      }
      else if (step.sendBinary) p.ws.send(pack(await expand(step.sendBinary.text, captured, config), step.sendBinary.attachments.map((a) => Buffer.from(a, 'base64'))));
      else if (step.expect) await expectFrame(p, step, index, captured, transcript);
      else if (step.expectClose !== undefined) {
        const got = await p.next(`step ${index}: the close`);
        assert.deepEqual(got, { closed: step.expectClose }, `step ${index} (${step.conn}): expected close ${step.expectClose}`);
      } else if (step.close) p.ws.close(1000);
      else if (step.abort) p.ws.terminate();
      else throw new Error(`step ${index}: nothing to do`);
    }
  } finally {
    for (const p of peers.values()) p.ws.terminate();
  }
}
