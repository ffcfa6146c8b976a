/**
 * Catalogue L (docs/security.md): the cluster under attack. A real nats-server on docs/nats-server.conf
 * (its users and permissions), an object host and a gateway on their own NATS connections as
 * `uplink-host` and `uplink-gateway`, real JWTs, and attackers holding a signed-in client, the host
 * credential, the gateway credential or the ops credential. The arena (cluster-arena.ts) counts
 * uncaught exceptions, unhandled rejections and NATS connections that stop reading, and checks an
 * honest client after every test.
 */
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, it } from 'node:test';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { callContext, ErrorCode, expose, type ClientCallback } from '../../src/index.js';
import type { LocalObjectHost } from '../../src/host/local-host.js';
import type { NatsHostOptions } from '../../src/nats/host-service.js';
import { errorPayload, Event, gatewayOfReply, Header, jsonBytes, packPayload, Subject } from '../../src/nats/envelope.js';
import { decodeAnswer, encodeCall } from '../../src/nats/call-envelope.js';
import type { Identity } from '../../src/core/context.js';
import { errorBody } from '../../src/protocol/errors.js';
import { RawSocket, sleep } from '../support/gateway.js';
import { eventually } from '../support/eventually.js';
import { natsUnavailable } from '../support/nats-server.js';
import type { Sample } from '../support/prometheus.js';
import { CLUSTER_KEYS, useClusterArena, type ClusterArena, type Role } from './cluster-arena.js';
import { RogueHost } from './rogue-host.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Objects of the arena's host for this catalogue. */
class Lab {
  /** Calls the client's function and says how it went: the answer's length, or the error's code. */
  @expose async ask(fn: ClientCallback<() => string>): Promise<{ length?: number; code?: string }> {
    try {
      return { length: (await fn()).length };
    } catch (error) {
      return { code: (error as { code?: string }).code ?? 'untyped' };
    }
  }

  @expose async slow(ms: number): Promise<string> {
    await sleep(Math.min(ms, 5_000));
    return `slept ${ms}`;
  }
}

/** Objects of a host that verifies identities (#140): a scoped one, and one that says who called. */
const forged = { runs: 0 };
class Vault {
  @expose secret(): string {
    forged.runs++;
    return 'the-secret';
  }
}
class Mirror {
  @expose whoami(): string {
    forged.runs++;
    return callContext().identity?.subject ?? 'nobody';
  }
}

const registerLab = (host: LocalObjectHost) => host.register(new Lab(), { id: 'lab' });

const ONE_MIB = 1024 * 1024;
const TYPED_TOO_LARGE = new Set<string>([ErrorCode.PAYLOAD_TOO_LARGE, ErrorCode.LIMIT_EXCEEDED]);

/** A raw WebSocket signed in with a real JWT. */
async function rawSignedIn(arena: ClusterArena, sub = 'raw-attacker', url = arena.url): Promise<RawSocket> {
  const raw = await RawSocket.open(url, false);
  raw.send(JSON.stringify({ t: 'hello', v: [1], token: await arena.token(sub) }));
  const welcome = await raw.next();
  assert.equal(welcome.header.t, 'welcome', JSON.stringify(welcome.header));
  return raw;
}

/**
 * The answers (not callbacks) under this id the socket receives: waits up to `firstWithinMs` for the
 * first, then `ms` more for any further one; takes them out of the socket's queue, leaving the rest.
 */
async function framesFor(raw: RawSocket, id: number, ms: number, firstWithinMs = ms): Promise<Array<Record<string, unknown>>> {
  const mine = (f: { header: Record<string, unknown> }) => f.header.id === id && f.header.t !== 'callback' && f.header.t !== 'callback-cancel';
  const until = Date.now() + firstWithinMs;
  while (!raw.frames.some(mine) && Date.now() < until) await sleep(5);
  if (raw.frames.some(mine)) await sleep(ms);
  const found = raw.frames.filter(mine).map((f) => ({ ...f.header, body: f.body }));
  raw.frames.splice(0, raw.frames.length, ...raw.frames.filter((f) => !mine(f)));
  return found;
}

/** The entries the gateway's NATS inbox is waiting on (calls and streams in flight). */
const inboxEntries = (arena: ClusterArena): number => arena.remote.inbox.size;

/** A string of `n` control characters (each written `\u0001` in JSON: six bytes for one character). */
const escaped = (n: number, first = '\u0001'): string => first + '\u0001'.repeat(n - 1);

/** 16 annotations at the protocol's limits (keys of 256 characters, values of 1,024), all escaped in JSON: about 123 KB of frame. */
function fatAnnotations(): Record<string, string> {
  const ann: Record<string, string> = {};
  for (let i = 0; i < 16; i++) ann[escaped(256, String.fromCharCode(65 + i))] = escaped(1024);
  return ann;
}

/** A frame of exactly `size` bytes: the header, a newline, and a JSON string argument filling the rest. */
function filledFrame(header: Record<string, unknown>, size = ONE_MIB): string {
  const head = JSON.stringify(header);
  const room = size - Buffer.byteLength(head) - 1 - 4; // the body is ["..."]
  assert.ok(room > 800_000, `room for ${room} bytes of arguments`);
  const frame = `${head}\n["${'x'.repeat(room)}"]`;
  assert.equal(Buffer.byteLength(frame), size);
  return frame;
}

/** Collects the permission errors a NATS connection reports (status events). */
function permissionErrors(nc: NatsConnection): Array<{ operation: string; subject: string }> {
  const errors: Array<{ operation: string; subject: string }> = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type !== 'error') continue;
      const e = s.error as { operation?: string; subject?: string; message?: string };
      errors.push({ operation: e.operation ?? '?', subject: e.subject ?? e.message ?? '?' });
    }
  })();
  return errors;
}

const series = (samples: Sample[]) => samples.filter((s) => s.name === 'uplink_calls_total').map((s) => `${s.labels.object}|${s.labels.member}|${s.labels.code}`);

describe('L. the cluster under attack', { skip: natsUnavailable() }, () => {
  const arena = useClusterArena({ register: registerLab, gateway: { callbackTimeoutMs: 10_000 } });

  it('#132 oversized call headers (annotations at their limits, long cid and member) on calls, oneway calls and stream opens within the frame limit: a typed PAYLOAD_TOO_LARGE or LIMIT_EXCEEDED, the gateway lives', async () => {
    const raw = await rawSignedIn(arena);
    const ann = fatAnnotations();
    const longCid = escaped(256);
    const longMember = '\u0800'.repeat(256); // 3 bytes each in UTF-8: the longest member name in bytes
    const outcomes: string[] = [];
    const expectTyped = async (what: string, id: number, frame: string) => {
      const before = arena.watch.count();
      raw.send(frame);
      const [answer] = await framesFor(raw, id, 100, 2_000);
      const code = answer?.code as string | undefined;
      if (!code || !TYPED_TOO_LARGE.has(code)) outcomes.push(`${what}: ${answer ? `${String(answer.t)} ${String(code)}` : 'no answer within 2 s'}${arena.watch.since(before) ? ` (${arena.watch.since(before).split('\n')[1]})` : ''}`);
      await arena.honestRound(id);
    };
    await expectTyped('call, 16 annotations at their limits', 1, filledFrame({ t: 'call', id: 1, o: 'echo', m: 'echo', ann }));
    await expectTyped('call, annotations + 256-character cid + 256-character member', 2, filledFrame({ t: 'call', id: 2, o: 'echo', m: longMember, cid: longCid, ann }));
    await expectTyped('call with a deadline, annotations + cid', 3, filledFrame({ t: 'call', id: 3, o: 'echo', m: 'echo', dl: 30_000, cid: longCid, ann }));
    await expectTyped('stream open, annotations + cid', 4, filledFrame({ t: 'stream', id: 4, o: 'numbers', m: 'range', upTo: 8, cid: longCid, ann }));
    // No annotations: the longest token the gateway accepts (its claims travel in Uplink-Identity), a long
    // member and cid, and arguments exactly at the NATS budget (max_payload less 8 KiB for headers).
    const fatToken = await arena.token('fat', { pad: 'p'.repeat(2_900) });
    assert.ok(fatToken.length <= 4_096, `a token the gateway accepts (${fatToken.length} characters)`);
    const fat = await RawSocket.open(arena.url, false);
    fat.send(JSON.stringify({ t: 'hello', v: [1], token: fatToken }));
    assert.equal((await fat.next()).header.t, 'welcome');
    const budget = ONE_MIB - 8 * 1024;
    const atBudget = `${JSON.stringify({ t: 'call', id: 6, o: 'echo', m: longMember, cid: longCid })}\n["${'x'.repeat(budget - 4 - 4)}"]`;
    const fatBefore = arena.watch.count();
    fat.send(atBudget);
    const [fatAnswer] = await framesFor(fat, 6, 100, 2_000);
    if (!TYPED_TOO_LARGE.has(String(fatAnswer?.code)) && fatAnswer?.code !== ErrorCode.UNKNOWN_MEMBER) {
      const crash = arena.watch.since(fatBefore);
      outcomes.push(`call, a 4 KB token + cid + member, arguments at the NATS budget: ${fatAnswer ? `${String(fatAnswer.t)} ${String(fatAnswer.code)}` : 'no answer within 2 s'}${crash ? ` (${crash.split('\n')[1]})` : ''}`);
    }
    fat.close();
    await arena.honestRound(6);
    const before = arena.watch.count();
    raw.send(filledFrame({ t: 'oneway', o: 'echo', m: 'echo', cid: longCid, ann }));
    raw.send(filledFrame({ t: 'oneway', o: 'echo', m: longMember, ann }));
    await sleep(300); // a crash would show within this: absence cannot be polled
    if (arena.watch.since(before)) outcomes.push(`oneway: ${arena.watch.since(before).split('\n')[1]}`);
    await arena.honestRound(7);
    raw.close();
    assert.deepEqual(outcomes, [], 'every oversized request gets a typed refusal');
    await eventually(() => inboxEntries(arena) === 0, { what: 'no inbox entry left behind by a refused request' });
  });

  it('#133 a client answers a host\'s callback with a value filling its 1 MiB frame: the host\'s call gets a typed error at once, the gateway lives', async () => {
    const raw = await rawSignedIn(arena);
    const started = Date.now();
    raw.send(`${JSON.stringify({ t: 'call', id: 1, o: 'lab', m: 'ask', dl: 5_000 })}\n[{"id":"c1"}]\n{"values":{"0":[["custom","cref"]]},"v":1}`);
    const callback = await raw.next(5_000);
    assert.equal(callback.header.t, 'callback', JSON.stringify(callback.header));
    // {"t":"callback-result","id":N} and a JSON string: exactly 1 MiB, the gateway's maxPayloadLength.
    raw.send(filledFrame({ t: 'callback-result', id: callback.header.id }).replace('\n["', '\n"').replace(/"\]$/, 'xx"'));
    const [answer] = await framesFor(raw, 1, 100, 8_000);
    const ms = Date.now() - started;
    raw.close();
    const outcome = answer?.t === 'result' ? JSON.parse(answer.body as string) as { code?: string; length?: number } : undefined;
    const problems = [
      answer?.t !== 'result' ? `the method did not answer itself: ${JSON.stringify(answer)}` : '',
      outcome && !(outcome.code !== undefined && TYPED_TOO_LARGE.has(outcome.code)) ? `the host's callback did not fail typed: ${answer!.body as string}` : '',
      ms >= 3_000 ? `the host heard of it after ${ms} ms, not at once` : '',
      arena.crashes() ? arena.crashes().split('\n').slice(0, 3).join(' ') : '',
    ].filter(Boolean);
    assert.deepEqual(problems, [], 'the host\'s call gets PAYLOAD_TOO_LARGE or LIMIT_EXCEEDED at once, and nothing crashes');
  });

  it('#134 the ops user aims $SRV.PING/INFO/STATS replies at a host\'s heartbeat subject, a gateway inbox, its callback subject and uplink.evt.revoke: calls in flight and after succeed, nothing is revoked, nothing crashes', async () => {
    const ops = await arena.as('ops');
    const errors = permissionErrors(ops);
    const hostId = arena.host.service.id;
    const targets: Array<[string, (gw: string, inFlight: string) => string]> = [
      ['a gateway inbox entry in flight', (_gw, inFlight) => inFlight],
      ['an unused gateway inbox id', (gw) => `${Subject.inbox(gw)}.zz`],
      ['the gateway\'s callback subject', (gw) => Subject.callbacks(gw)],
      ['uplink.evt.revoke', () => 'uplink.evt.revoke'],
      ['the host\'s heartbeat subject', () => Subject.hostEvents(hostId)],
    ];
    const revocations = async (port: number | undefined) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return Number(/^uplink_revocations_total (\S+)$/m.exec(text)?.[1] ?? NaN);
    };
    const wrong: string[] = [];
    // Each target on a gateway of its own (a heartbeat reaches every gateway: the arena's own may not survive it).
    for (const [what, target] of targets) {
      const before = arena.watch.count();
      const spare = await arena.spareGateway(['calc', 'lab']);
      const revokedBefore = await revocations(spare.gateway.metricsPort);
      const inFlight = spare.client.call('lab', 'slow', [800], { timeoutMs: 5_000 }).then(String, (e: { code?: string }) => e.code ?? 'untyped');
      await eventually(() => spare.remote.inbox.size > 0, { what: 'the call in flight on the spare gateway' });
      const entry = spare.remote.inbox.replySubjects()[0] ?? '';
      const reply = target(spare.remote.id, entry);
      for (const verb of ['PING', 'INFO', 'STATS']) {
        for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.uplink-host`, `$SRV.${verb}.uplink-host.${hostId}`]) ops.publish(subject, undefined, { reply });
      }
      await ops.flush();
      const problems: string[] = [];
      const answer = await inFlight;
      if (answer !== 'slept 800') problems.push(`the call in flight got ${answer}`);
      const result = (p: Promise<unknown>) => p.then(String, (e: { code?: string }) => e.code ?? 'untyped');
      const after = await result(spare.client.call('calc', 'add', [2, 2], { timeoutMs: 2_000 }));
      if (after !== '4') problems.push(`a call after got ${after}`);
      await sleep(700); // past the liveness bound (3 beats): the host must still count as alive, with its objects
      const live = () => spare.remote.hosts.live().map((h) => `${h.id === hostId ? 'the host' : h.id}:${Array.isArray(h.objects) ? 'objects' : typeof h.objects}`).join();
      await eventually(() => live() === 'the host:objects', { timeoutMs: 1_000 }).catch(() => problems.push(`the host table holds ${JSON.stringify(live())}`));
      const revokedAfter = await revocations(spare.gateway.metricsPort);
      if (revokedAfter !== revokedBefore) problems.push(`uplink_revocations_total went from ${revokedBefore} to ${revokedAfter}`);
      const crash = arena.watch.since(before);
      if (crash) problems.push(crash.split('\n').slice(0, 3).join(' '));
      if (problems.length > 0) wrong.push(`reply to ${what}: ${problems.join('; ')}`);
    }
    assert.deepEqual(wrong, [], 'a $SRV answer aimed anywhere changes nothing');
    assert.deepEqual(errors, [], 'the ops user may publish $SRV requests with any reply subject');
  });

  it('#135 metrics labels: 100 calls through NATS with invented member names that the gateway refuses itself (arguments over one NATS message, an object whose hosts are gone, a 1 ms deadline) add no series per name', async () => {
    const ghost = await arena.addHost((h) => h.register(new Lab(), { id: 'ghost' }));
    await arena.served('ghost');
    await ghost.service.stop();
    await eventually(() => arena.remote.hosts.hostOf('ghost') === undefined, { what: 'the gateway to see the ghost host gone' });
    const before = series(await arena.scrape());
    const raw = await rawSignedIn(arena);
    const names: string[] = [];
    const codes = new Map<string, number>();
    let id = 0;
    const call = async (frame: string) => {
      raw.send(frame);
      const [answer] = await framesFor(raw, id, 0, 5_000);
      const code = String(answer?.code ?? answer?.t ?? 'none');
      codes.set(code, (codes.get(code) ?? 0) + 1);
    };
    for (let i = 0; i < 40; i++) {
      const m = `invented-big-${i}`;
      names.push(m);
      await call(filledFrame({ t: 'call', id: ++id, o: 'calc', m }, ONE_MIB - 1_000));
    }
    for (let i = 0; i < 30; i++) {
      const m = `invented-ghost-${i}`;
      names.push(m);
      await call(`${JSON.stringify({ t: 'call', id: ++id, o: 'ghost', m })}\n[]`);
    }
    for (let i = 0; i < 30; i++) {
      const m = `invented-deadline-${i}`;
      names.push(m);
      await call(`${JSON.stringify({ t: 'call', id: ++id, o: 'lab', m, dl: 1 })}\n[]`);
    }
    raw.close();
    assert.ok((codes.get(ErrorCode.PAYLOAD_TOO_LARGE) ?? 0) >= 40, `the gateway refused the large ones itself: ${JSON.stringify([...codes])}`);
    assert.ok((codes.get(ErrorCode.OBJECT_UNAVAILABLE) ?? 0) >= 30, `the gateway refused the ghost ones itself: ${JSON.stringify([...codes])}`);
    const samples = await arena.scrape();
    const labelled = samples.filter((s) => s.name.startsWith('uplink_call')).flatMap((s) => [s.labels.member ?? '']);
    const leaked = names.filter((m) => labelled.includes(m));
    assert.deepEqual(leaked, [], 'no invented member name became a label');
    const added = series(samples).filter((s) => !before.includes(s));
    assert.ok(added.length <= 8, `at most a handful of new series (one per object and code), got ${added.length}: ${added.slice(0, 10).join(', ')}`);
  });

  it('#136 a host answering twice, late, or with garbage (bad headers, bad payload, wrong event, a forged callback) to a gateway inbox: the client gets exactly one correct or typed answer, the gateway lives', async () => {
    const rogueNats = await arena.as('host');
    const raws = await arena.raw('host');
    const script = new Map<string, (reply: string, connection: string) => Promise<void> | void>();
    const ok = (n: number) => packPayload({ text: String(n) });
    const err = errorPayload(errorBody(ErrorCode.APPLICATION_ERROR, 'rogue says no'));
    const rogue: RogueHost = new RogueHost(rogueNats, ['twice'], ({ msg, member, call }) => {
      const action = script.get(member);
      if (msg.reply && action) void action(msg.reply, call?.context.connection ?? '');
    }).start();
    await arena.served('twice');
    // Answers as hosts send them (call-envelope.ts: a head and a body, no NATS headers).
    const send = (reply: string, event: string, data?: Uint8Array | string, more: Record<string, unknown> = {}) =>
      rogue.answer(reply, { e: event, ...more }, typeof data === 'string' ? new TextEncoder().encode(data) : data);
    script.set('okTwice', (r) => { send(r, Event.ok, ok(1)); send(r, Event.ok, ok(2)); });
    script.set('okThenError', (r) => { send(r, Event.ok, ok(1)); send(r, Event.error, err); });
    script.set('errorThenOk', (r) => { send(r, Event.error, err); send(r, Event.ok, ok(2)); });
    script.set('badPayload', (r) => { send(r, Event.ok, new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2])); send(r, Event.ok, ok(2)); });
    script.set('badError', (r) => { send(r, Event.error, '{"code":1}'); send(r, Event.ok, ok(2)); });
    script.set('badAnnotations', (r) => { send(r, Event.ok, ok(1), { n: '!!not annotations' }); send(r, Event.ok, ok(2)); });
    script.set('badHead', async (r) => {
      raws.pub(r, Buffer.from([0, 0, 0, 9, ...Buffer.from('{"e":"ok"')])); // a head that is not JSON
      await raws.flush();
      send(r, Event.ok, ok(2));
    });
    script.set('hugeHead', async (r) => {
      raws.pub(r, Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from('{}')])); // a head length past the message
      await raws.flush();
      send(r, Event.ok, ok(2));
    });
    script.set('wrongEvents', (r) => {
      for (const event of [Event.items, Event.open, Event.end, Event.fail, Event.released, 'nonsense', '']) send(r, event, ok(7), { seq: 'x', count: -1 });
      send(r, Event.ok, ok(1));
    });
    script.set('wrongHost', (r) => { send(r, Event.ok, ok(7), { h: 'not a host id', pin: 1 }); send(r, Event.ok, ok(2)); });
    script.set('invalidHeaderName', async (r) => {
      raws.hpub(r, 'NATS/1.0\r\nBad Key: 1\r\nUplink-Event: ok\r\n\r\n', ok(9).toString());
      await raws.flush();
      send(r, Event.ok, ok(1));
    });
    script.set('garbageStatusLine', async (r) => {
      raws.hpub(r, 'NATS/1.0 abc\r\nUplink-Event: ok\r\n\r\n', ok(9).toString());
      raws.hpub(r, Buffer.from('NATS/9\xff\xfe\r\n\r\n', 'latin1'), 'x');
      await raws.flush();
      send(r, Event.ok, ok(1));
    });
    script.set('late', async (r) => {
      await sleep(450); // the rogue's behaviour: it answers after the call's deadline (300 ms)
      send(r, Event.ok, ok(1));
      send(r, Event.error, err);
    });
    script.set('cancelled', async (r) => {
      send(r, Event.accepted, undefined, { h: rogue.id });
      await sleep(600); // the rogue's behaviour: it answers after the caller cancelled (at 200 ms)
      send(r, Event.ok, ok(1));
    });
    script.set('forgedCallbackBadHost', (r) => {
      rogue.send(Subject.callbacks(gatewayOfReply(r)!), { [Header.op]: 'callback', [Header.host]: 'a b', [Header.call]: '1' }, packPayload({ text: '[]' }));
      send(r, Event.ok, ok(1));
    });
    script.set('forgedCallbackBadMember', (r, connection) => {
      const conn = connection.slice(connection.indexOf('/') + 1);
      rogue.send(Subject.callbacks(gatewayOfReply(r)!), { [Header.op]: 'callback', [Header.host]: rogue.id, [Header.call]: '2', [Header.connection]: conn, [Header.key]: 'c1', [Header.member]: '%E0%A4%A' }, packPayload({ text: '[]' }));
      send(r, Event.ok, ok(1));
    });
    script.set('forgedCallbackGarbage', (r, connection) => {
      const cb = Subject.callbacks(gatewayOfReply(r)!);
      const conn = connection.slice(connection.indexOf('/') + 1);
      rogue.send(cb, { [Header.op]: 'callback', [Header.host]: rogue.id, [Header.call]: '3', [Header.connection]: conn, [Header.key]: 'c1' }, new Uint8Array([0xff, 0xff, 0xff, 0xff]));
      rogue.send(cb, { [Header.op]: 'release-ref', [Header.connection]: conn, [Header.key]: '', [Header.count]: 'NaN' });
      rogue.send(cb, { [Header.op]: 'cancel-callback', [Header.host]: rogue.id, [Header.call]: 'nope' });
      rogue.send(cb, { [Header.op]: 'nonsense' }, 'garbage');
      send(r, Event.ok, ok(1));
    });
    const expected: Record<string, (a: Record<string, unknown>) => boolean> = {
      okTwice: (a) => a.t === 'result' && a.body === '1',
      okThenError: (a) => a.t === 'result' && a.body === '1',
      errorThenOk: (a) => a.t === 'error' && a.code === ErrorCode.APPLICATION_ERROR,
      badPayload: (a) => a.t === 'error' && a.code === ErrorCode.INTERNAL,
      badError: (a) => a.t === 'error' && a.code === ErrorCode.INTERNAL,
      badAnnotations: (a) => a.t === 'error' && a.code === ErrorCode.INTERNAL,
      badHead: (a) => a.t === 'error' && a.code === ErrorCode.INTERNAL,
      hugeHead: (a) => a.t === 'error' && a.code === ErrorCode.INTERNAL,
      wrongHost: (a) => a.t === 'error' && a.code === ErrorCode.INTERNAL,
      wrongEvents: (a) => a.t === 'result' && a.body === '1',
      invalidHeaderName: (a) => a.t === 'result' && a.body === '1',
      // A message with NATS headers (a 503 aside) is no answer to a call: dropped, and the host's answer counts.
      garbageStatusLine: (a) => a.t === 'result' && a.body === '1',
      late: (a) => a.t === 'error' && a.code === ErrorCode.DEADLINE_EXCEEDED,
      cancelled: (a) => a.t === 'error' && a.code === ErrorCode.CANCELLED,
      forgedCallbackBadHost: (a) => a.t === 'result' && a.body === '1',
      forgedCallbackBadMember: (a) => a.t === 'result' && a.body === '1',
      forgedCallbackGarbage: (a) => a.t === 'result' && a.body === '1',
    };
    const wrong: string[] = [];
    // Each case on a gateway of its own, so that one gateway made deaf does not hide what the others do.
    for (const [member, check] of Object.entries(expected)) {
      const before = arena.watch.count();
      const spare = await arena.spareGateway(['calc', 'twice']);
      const raw = await rawSignedIn(arena, 'raw-attacker', spare.url);
      raw.send(`${JSON.stringify({ t: 'call', id: 1, o: 'twice', m: member, ...(member === 'late' ? { dl: 300 } : {}) })}\n[]`);
      if (member === 'cancelled') {
        await sleep(200); // the rogue host accepts the call first: its accept crosses NATS with nothing here to see it
        raw.send(JSON.stringify({ t: 'cancel', id: 1 }));
      }
      const answers = await framesFor(raw, 1, 500, 3_000);
      raw.close();
      const honest = await spare.client.call('calc', 'add', [2, 2], { timeoutMs: 2_000 }).then(String, (e: { code?: string }) => e.code ?? 'untyped');
      const crash = arena.watch.since(before);
      const problems = [
        answers.length !== 1 || !check(answers[0]!) ? `${answers.length} answers ${JSON.stringify(answers.map(({ body, ...h }) => ({ ...h, body: String(body).slice(0, 40) })))}` : '',
        honest !== '4' ? `the gateway's honest client then got ${honest}` : '',
        crash ? crash.split('\n').slice(0, 2).join(' ') : '',
      ].filter(Boolean);
      if (problems.length > 0) wrong.push(`${member}: ${problems.join('; ')}`);
    }
    rogue.stop();
    assert.deepEqual(wrong, [], 'each call got exactly one correct or typed answer, and nothing crashed');
  });

  it('#137 a rogue host announces an object another host serves, and sends malformed beats (objects not an array, huge arrays, wrong types, another host\'s id, hostile access rules): honest calls succeed or fail typed, nothing crashes, nothing stays blinded', async () => {
    const rogueNats = await arena.as('host');
    const rogue = new RogueHost(rogueNats, ['calc', 'numbers']).start(false);
    for (let i = 0; i < 20; i++) await arena.honestRound(i); // calls picked for the rogue (no subscriber: the 503) go to the queue group
    rogue.stop();
    const victim = arena.host.service.id;
    const base = { name: 'rogue', state: 'up', calls: 0, streams: 0, reconnects: 0 };
    const claimNames = { scope: 'scope', roles: 'roles' };
    const beats: Array<[string, unknown]> = [
      ['objects: a number', { ...base, id: rogue.id, objects: 5 }],
      ['objects: a string', { ...base, id: rogue.id, objects: 'calc' }],
      ['objects: an object', { ...base, id: rogue.id, objects: { calc: 1 } }],
      ['objects: null', { ...base, id: rogue.id, objects: null }],
      ['objects missing', { ...base, id: rogue.id }],
      ['objects: wrong element types', { ...base, id: rogue.id, objects: [1, null, {}, ['calc'], 'calc'] }],
      ['objects: 60,000 names', { ...base, id: rogue.id, objects: Array.from({ length: 60_000 }, (_, i) => `o${i}`) }],
      ['state: a number', { ...base, id: rogue.id, objects: ['calc'], state: 42 }],
      ['id: a number', { ...base, id: 42, objects: ['calc'] }],
      ['id: __proto__', { ...base, id: '__proto__', objects: ['calc'] }],
      ['id: 100 KB', { ...base, id: 'x'.repeat(100_000), objects: ['calc'] }],
      ['the victim\'s id on the rogue\'s subject, draining', { ...base, id: victim, state: 'draining', objects: [] }],
      ['the victim\'s id on the rogue\'s subject, gone', { ...base, id: victim, state: 'gone', objects: ['calc'] }],
      ['the victim\'s id, objects missing', { id: victim }],
      ['access: a string', { ...base, id: rogue.id, objects: ['calc'], access: 'x' }],
      ['access: calc is a string', { ...base, id: rogue.id, objects: ['calc'], access: { calc: 'x' } }],
      ['access: scopes not an array', { ...base, id: rogue.id, objects: ['calc'], access: { calc: { rule: { scopes: { length: 1 } }, claimNames } } }],
      ['access: roles a string', { ...base, id: rogue.id, objects: ['calc'], access: { calc: { rule: { roles: 'admin' }, claimNames } } }],
      ['access: claimNames missing', { ...base, id: rogue.id, objects: ['calc'], access: { calc: { rule: { scopes: ['x'] } } } }],
      ['access: a rule no one passes, for an object another host serves', { ...base, id: rogue.id, objects: ['calc'], access: { calc: { rule: { scopes: ['nobody-has-this'] }, claimNames } } }],
      ['not JSON', '{"id":'],
      ['JSON null', 'null'],
      ['a JSON array', '[1,2]'],
      ['a JSON string', '"beat"'],
    ];
    const wrong: string[] = [];
    const result = (p: Promise<unknown>) => p.then((v) => String(v), (e: { code?: string }) => e.code ?? 'untyped');
    // Each beat on a gateway of its own (beats reach every gateway: the arena's own may not survive the first bad one).
    for (const [what, body] of beats) {
      const before = arena.watch.count();
      const spare = await arena.spareGateway();
      for (let i = 0; i < 3; i++) rogue.beat(typeof body === 'string' ? body : jsonBytes(body));
      await rogueNats.flush();
      await sleep(50); // the beats reach the spare gateway: NATS delivery to another connection has no acknowledgement
      // While it goes on: honest calls are answered correctly or typed (a rule declared for the object may
      // refuse them, closed: UNKNOWN_OBJECT), never by the deadline of a gateway that stopped listening.
      const during = await result(spare.client.call('calc', 'add', [1, 1], { timeoutMs: 1_500 }));
      const problems: string[] = [];
      if (during !== '2' && !([ErrorCode.HOST_LOST, ErrorCode.OBJECT_UNAVAILABLE, ErrorCode.UNKNOWN_OBJECT] as string[]).includes(during)) problems.push(`during the attack: ${during}`);
      // Once it stops: no lasting harm, within the liveness bound (3 beats) and a beat or two.
      let crash = arena.watch.since(before);
      let last = '';
      try {
        if (!crash) await eventually(async () => (last = await result(spare.client.call('calc', 'add', [2, 2], { timeoutMs: 1_500 }))) === '4', { timeoutMs: 2_000, everyMs: 100 });
      } catch {
        problems.push(`blinded: still ${last} 2 s after the last beat`);
      }
      crash = arena.watch.since(before);
      if (crash) problems.push(crash.split('\n').slice(0, 3).join(' '));
      if (problems.length > 0) wrong.push(`${what}: ${problems.join('; ')}`);
    }
    assert.deepEqual(wrong, [], 'malformed and forged beats cost nothing lasting');
  });

  it('#138 an answer flood (tens of thousands of messages to random gateway inbox ids and the callback subject): the gateway lives, the honest client stays correct, memory stays bounded', async () => {
    const rogueNats = await arena.as('host');
    const gw = arena.remote.id;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let honestCalls = 0;
    let honestWrong = 0;
    let flooding = true;
    const honestLoop = (async () => {
      while (flooding) {
        const n = honestCalls++;
        const answer = await arena.honest.call('calc', 'add', [n, 1], { timeoutMs: 10_000 }).catch((e: { code?: string }) => e.code);
        if (answer !== n + 1) honestWrong++;
      }
    })();
    const events = [Event.ok, Event.error, Event.accepted, Event.open, Event.items, Event.end, Event.fail, Event.released, 'x'];
    const payload = new Uint8Array(600).fill(0x41);
    const random = () => Math.random().toString(36).slice(2, 12);
    for (let i = 0; i < 30_000; i++) {
      const h = natsHeaders();
      h.set(Header.event, events[i % events.length]!);
      h.set(Header.host, random().padEnd(22, 'h'));
      h.set(Header.seq, String(i));
      h.set(Header.count, '1');
      h.set(Header.key, random());
      if (i % 10 === 0) {
        h.set(Header.op, ['callback', 'cancel-callback', 'release-ref'][i % 3]!);
        h.set(Header.connection, random());
        h.set(Header.call, String(i));
        rogueNats.publish(Subject.callbacks(gw), payload, { headers: h });
      } else rogueNats.publish(`${Subject.inbox(gw)}.${random()}`, payload, { headers: h });
      if (i % 2_000 === 0) await rogueNats.flush();
    }
    await rogueNats.flush();
    await sleep(500); // the flood is delivered while honest calls go on: a duration, not a wait for something
    flooding = false;
    await honestLoop;
    assert.equal(honestWrong, 0, `${honestWrong} of ${honestCalls} honest calls during the flood were wrong`);
    assert.ok(honestCalls > 0);
    gc();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(grown < 32 * ONE_MIB, `the heap grew by ${Math.round(grown / ONE_MIB)} MiB`);
    assert.ok(arena.remote.hosts.live().length <= 1, 'forged host ids made no host table entries');
    await eventually(() => inboxEntries(arena) === 0, { what: 'no inbox entry left behind' });
  });

  it('#139 each NATS role tries every Uplink subject outside its permissions: the server refuses each publish and subscription, and nothing arrives', async () => {
    const hostId = arena.host.service.id;
    const gw = arena.remote.id;
    // Witnesses hold the roles allowed to subscribe; the arena's own members are subscribed too.
    const witnesses: Record<'host' | 'gateway', NatsConnection> = { host: await arena.as('host'), gateway: await arena.as('gateway') };
    const arrived: string[] = [];
    const witnessSubjects: Array<[keyof typeof witnesses, string]> = [
      ['host', 'uplink.call.>'], ['host', 'uplink.host.*.>'], ['host', 'uplink.evt.gw.>'], ['host', 'uplink.evt.revoke'], ['host', '$SRV.>'],
      ['gateway', '_U.>'], ['gateway', 'uplink.evt.host.*'], ['gateway', '_INBOX.>'],
    ];
    const marker = `attempt-${Date.now()}`;
    for (const [role, subject] of witnessSubjects) {
      witnesses[role].subscribe(subject, { callback: (e, msg) => { if (!e && new TextDecoder().decode(msg.data).startsWith(marker)) arrived.push(`${msg.subject} <- ${new TextDecoder().decode(msg.data)}`); } });
    }
    await Promise.all(Object.values(witnesses).map((w) => w.flush()));
    const forbidden: Record<Role, { publish: string[]; subscribe: string[] }> = {
      ops: {
        // uplink.evt.revoke is allowed (`uplink revoke`): revoking only cuts access off.
        publish: ['uplink.call.calc', `uplink.host.${hostId}.call.calc`, `uplink.host.${hostId}.ctl`, `uplink.host.${hostId}.list`, `_U.${gw}.0`, `_U.${gw}._cb`, `uplink.evt.host.${hostId}`, `uplink.evt.gw.${gw}`, `uplink.evt.gw.${gw}.release`, '_INBOX.x'],
        subscribe: ['uplink.call.>', `uplink.host.${hostId}.>`, '_U.>', 'uplink.evt.host.*', 'uplink.evt.revoke', 'uplink.evt.gw.>', '$SRV.>', '>'],
      },
      host: {
        // _INBOX.> is allowed: $SRV answers go to the asker's request inbox (no allow_responses).
        publish: ['uplink.call.calc', `uplink.host.${hostId}.call.calc`, `uplink.host.${hostId}.ctl`, `uplink.host.${hostId}.meta`, 'uplink.evt.revoke', `uplink.evt.gw.${gw}`, `uplink.evt.gw.${gw}.unref`, '$SRV.PING'],
        subscribe: ['_U.>', `_U.${gw}.*`, 'uplink.evt.host.*', '_INBOX.>', '>'],
      },
      gateway: {
        publish: [`_U.${gw}.0`, `_U.${gw}._cb`, `uplink.evt.host.${hostId}`, '$SRV.PING', '$SRV.INFO.uplink-host', '_INBOX.x'],
        subscribe: ['uplink.call.>', `uplink.host.${hostId}.>`, 'uplink.host.*.>', 'uplink.evt.gw.>', '$SRV.>', '>'],
      },
    };
    const failures: string[] = [];
    for (const role of ['ops', 'host', 'gateway'] as const) {
      const nc = await arena.as(role);
      const errors = permissionErrors(nc);
      const received: string[] = [];
      for (const subject of forbidden[role].subscribe) {
        nc.subscribe(subject, { callback: (e, msg) => { if (!e) received.push(`${subject}: ${msg.subject}`); } });
      }
      await nc.flush();
      await sleep(100); // nats-server reports permission violations asynchronously, with no acknowledgement
      // Something each forbidden subscription would see, sent by a role allowed to publish it.
      const publishers = { gateway: witnesses.gateway, host: witnesses.host };
      publishers.gateway.publish('uplink.call.nobody', `${marker}-probe`);
      publishers.gateway.publish(`uplink.host.${hostId}.ctl`, `${marker}-probe`);
      publishers.gateway.publish(`uplink.evt.gw.${gw}.probe`, `${marker}-probe`);
      publishers.gateway.publish('uplink.evt.revoke', 'null');
      publishers.host.publish(`_U.${gw}.probe`, `${marker}-probe`);
      publishers.host.publish('uplink.evt.host.probe', `${marker}-probe`);
      const ops = role === 'ops' ? nc : undefined;
      if (!ops) (await arena.as('ops')).publish('$SRV.PING.probe', `${marker}-probe`);
      for (const subject of forbidden[role].publish) nc.publish(subject, `${marker} ${role} ${subject}`);
      await nc.flush().catch(() => {});
      await Promise.all(Object.values(witnesses).map((w) => w.flush()));
      await sleep(300); // proves no forbidden message arrives and lets violations be reported: absence cannot be polled
      for (const subject of forbidden[role].publish) {
        if (!errors.some((e) => e.operation === 'publish' && e.subject === subject)) failures.push(`${role} publish ${subject}: no permissions violation reported`);
      }
      for (const subject of forbidden[role].subscribe) {
        if (!errors.some((e) => e.operation === 'subscription' && e.subject === subject)) failures.push(`${role} subscribe ${subject}: no permissions violation reported`);
      }
      for (const r of received) failures.push(`${role} received ${r}`);
    }
    const leaked = arrived.filter((a) => / (ops|host|gateway) /.test(a));
    for (const a of leaked) failures.push(`a forbidden publish arrived: ${a}`);
    assert.deepEqual(failures, [], 'every forbidden publish and subscription is refused by the server');
    await assert.rejects(import('@nats-io/transport-node').then((m) => m.connect({ servers: arena.server.url, user: 'uplink-host', pass: 'gateway-secret' })), 'another role\'s password is refused');
  });

  it('#140 forged identity: a plain NATS client with the gateway credential calls a host that verifies identities, claiming {"subject":"forged-root"} with the admin scope: refused typed, nothing runs; honest calls through the gateway still work', async () => {
    forged.runs = 0;
    const options: NatsHostOptions = { verifyKey: CLUSTER_KEYS.publicKey };
    const verifying = await arena.addHost((h) => {
      h.register(new Vault(), { id: 'vault', access: { scopes: ['admin'] } });
      h.register(new Mirror(), { id: 'mirror' });
    }, options);
    await arena.served('vault');
    await arena.served('mirror');
    const forger = await arena.as('gateway');
    let forgeries = 0;
    const forge = async (object: string, member: string, identity: unknown) => {
      const call = encodeCall({
        member, kind: 'call', timeoutMs: 2000, identity: identity as Identity,
        context: { connection: `${'G'.repeat(22)}/c1`, remoteAddress: '10.0.0.1', correlationId: 'forged' },
      }, { text: '[]' });
      // A reply subject shaped like a gateway's inbox, so that a host that believed the call would answer it.
      const reply = `_U.${'G'.repeat(22)}.${(++forgeries).toString(36)}`;
      const inbox = forger.subscribe(reply, { max: 1 });
      forger.publish(`uplink.host.${verifying.service.id}.call.${object}`, call, { reply });
      // A verifying host answers nothing unproven: 'no answer' is an absence, so it takes the whole 1.5 s.
      const answer = await Promise.race([(async () => { for await (const m of inbox) return m; return undefined; })(), sleep(1_500).then(() => undefined)]);
      inbox.unsubscribe();
      if (!answer) return 'no answer';
      const { head, body } = decodeAnswer(answer.data);
      return `${head.e} ${new TextDecoder().decode(body.subarray(4))}`;
    };
    const root = { subject: 'forged-root', claims: { sub: 'forged-root', scope: 'admin' } };
    const literal = { subject: 'forged-root', scopes: ['admin'] };
    const answers = [
      await forge('vault', 'secret', root),
      await forge('mirror', 'whoami', root),
      await forge('mirror', 'whoami', literal),
    ];
    assert.equal(forged.runs, 0, `no forged call ran: ${answers.join(' | ')}`);
    for (const answer of answers) {
      assert.ok(answer === 'no answer' || /^error \{"code":"(UNAUTHENTICATED|FORBIDDEN|UNKNOWN_OBJECT)"/.test(answer), `refused typed: ${answer}`);
    }
    const admin = await arena.signedIn('honest-admin', { scope: 'admin' });
    assert.equal(await admin.call('vault', 'secret', []), 'the-secret', 'an identity the gateway verified is believed');
    assert.equal(await admin.call('mirror', 'whoami', []), 'honest-admin');
  });
  it('#141 resume keys whose host part is no host id (whitespace, wildcards, dots, unknown): STREAM_LOST at once, nothing published to a subject that is not one', async () => {
    const raw = await rawSignedIn(arena);
    const gatewayErrors = permissionErrors(arena.gatewayNats);
    const keys = [
      'aaaaaaaaaa aaaaaaaaaaa-key', 'aaaaaaaaaa\taaaaaaaaaaa-key', 'aaaaaaaaaa*aaaaaaaaaaa-key', 'aaaaaaaaaa>aaaaaaaaaaa-key',
      'aaaaaaaaaa.aaaaaaaaaaa-key', '......................-key', 'aaaaaaaaaaaaaaaaaaaaaa-key', `${arena.host.service.id}no-such-stream`,
    ];
    keys.forEach((key, i) => raw.send(JSON.stringify({ t: 'resume', id: i + 1, key, ack: 0, upTo: 10 })));
    const wrong: string[] = [];
    for (const [i, key] of keys.entries()) {
      const answers = await framesFor(raw, i + 1, 0, 400);
      if (answers.length !== 1 || answers[0]!.code !== ErrorCode.STREAM_LOST) wrong.push(`${JSON.stringify(key)}: ${answers.length > 0 ? answers.map((a) => String(a.code)).join() : 'no answer within 400 ms'}`);
    }
    raw.close();
    const crash = arena.crashes();
    if (crash) wrong.push(crash.split('\n').slice(0, 3).join(' '));
    for (const e of gatewayErrors) wrong.push(`the gateway's NATS connection: ${e.operation} ${e.subject}`);
    assert.deepEqual(wrong, [], 'each forged key is STREAM_LOST, typed and at once');
  });

  it('#142 the ops user, subscribed to _INBOX.> as its permissions allow, never reads what hosts answer gateways ($uplink lists and metadata)', async () => {
    const ops = await arena.as('ops');
    const seen: string[] = [];
    ops.subscribe('_INBOX.>', { callback: (e, msg) => { if (!e) seen.push(`${msg.subject}: ${new TextDecoder().decode(msg.data).slice(0, 80)}`); } });
    await ops.flush();
    const lister = await arena.signedIn('lister', { scope: 'admin' });
    assert.deepEqual(await lister.call('$uplink', 'list', []), ['$uplink', 'calc', 'echo', 'lab', 'numbers', 'relay']);
    assert.ok(await lister.call('$uplink', 'metadata', ['calc']), 'calc is described');
    await sleep(200); // proves the ops credential reads no answer: absence cannot be polled
    assert.deepEqual(seen, [], 'answers meant for a gateway are not readable with the ops credential');
  });
});
