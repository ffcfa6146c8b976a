/**
 * Messages each NATS role of docs/nats-server.conf may publish, mutated (docs/scale-out.md: subjects,
 * headers, envelopes). Templates hold `{token}`s that the insider fills with what a connection of that
 * role can learn (insider.ts): host and gateway ids, live reply subjects, stream keys, connection ids,
 * identities, contexts, callback ids, references; `{name!}` is a mutated value.
 *
 * Trusted roles may legitimately disturb what they address (a gateway may cancel a call, a host may
 * answer one), so templates address gateway A and its connections only, never gateway B of the honest
 * client; broadcast messages (beats, revocations, $SRV replies) reach every participant, and beats
 * never claim rules for the objects the honest client uses.
 */
import fc from 'fast-check';
import { bigAnnotations, limitName, sized, typedArgs } from '../support/fuzz-arbitraries.js';
import type { Role } from './fuzz-cluster.js';

/** `head`: a call's or an answer's head (call-envelope.ts) as template text, before the body's bytes. */
export type Data = { text: string } | { packed: string; attachments?: Uint8Array[] } | { bytes: Uint8Array } | { fill: number } | { head: string; body: Data };
export interface NatsTemplate { role: Role; kind: string; subject: string; reply?: string; headers: Array<[string, string]>; data: Data }

const json = (v: unknown): string => JSON.stringify(v);
const b64 = (v: unknown): string => Buffer.from(json(v) ?? 'null').toString('base64url');
const maybe = <T>(arb: fc.Arbitrary<T>, weight = 6): fc.Arbitrary<T | undefined> => fc.oneof({ weight, arbitrary: arb }, { weight: 1, arbitrary: fc.constant(undefined) });

const OBJECTS = ['calc', 'echo', 'counter', 'numbers', 'ticker', 'relay', 'admin', 'nope', 'a.b', 'calc.x', '$uplink'];
/** Objects the honest client uses: forged access rules never name them (a host may legitimately declare any rule). */
const UNRULED_OBJECTS = ['echo', 'counter', 'ticker', 'admin', 'nope', 'zzz'];
const MEMBERS = ['add', 'echo', 'slow', 'crash', 'fail', 'whoami', 'range', 'watch', 'increment', 'count', 'callMe', 'keep', 'callKept', 'openTally', 'then', '__proto__', 'constructor', 'nope', ' add', '%', '%E0%A4%A', '%00', 'a%0Ab'];
const COUNTS = ['0', '1', '3', '64', '4096', '-1', '1.5', 'NaN', '1e309', '9007199254740993', 'x', '', ' 7 '];
const TIMEOUTS = ['', '0', '-1', '1', '50', '5000', 'NaN', '1e309', '99999999999999999999', 'x'];

/** A header value: usually the field's own kind of value, sometimes junk or huge. */
const junk = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\u00e9', 'x'.repeat(9_000), '\u0000', 'a\u007fb', '{}', 'null') },
);
const value = (own: fc.Arbitrary<string>): fc.Arbitrary<string> => fc.oneof({ weight: 8, arbitrary: own }, { weight: 1, arbitrary: junk });
const header = (name: string, own: fc.Arbitrary<string>, weight = 6): fc.Arbitrary<Array<[string, string]>> =>
  maybe(value(own), weight).map((v) => (v === undefined ? [] : [[name, v]]));
const headers = (...parts: Array<fc.Arbitrary<Array<[string, string]>>>): fc.Arbitrary<Array<[string, string]>> => fc.tuple(...parts).map((hs) => hs.flat());

/** Percent-encoded as a gateway sends it; a lone surrogate cannot be, and goes as it is. */
const encoded = (m: string): string => {
  try {
    return encodeURIComponent(m);
  } catch {
    return m;
  }
};
const member = fc.oneof(fc.constantFrom(...MEMBERS).map(encoded), fc.constantFrom(...MEMBERS), limitName.map(encoded));
/** An identity as the Uplink-Identity header carries it (resumes, listings): base64url JSON. */
const identity = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('{identity64}', '{identity64!}') },
  { weight: 2, arbitrary: fc.record({ subject: fc.oneof(fc.constantFrom('fuzz', 'admin', ''), fc.integer() as fc.Arbitrary<unknown>), claims: fc.oneof(fc.constant<unknown>({ scope: 'admin' }), fc.constant({ roles: 'x' }), fc.constant(null), fc.constant([1])) }, { requiredKeys: [] }).map(b64) },
  { weight: 1, arbitrary: fc.constantFrom('e30', 'bnVsbA', 'WzFd', '!!!', 'ImEi') },
);
const args: fc.Arbitrary<Data> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('[1,2]', '[]', '["x"]', '[20]', '[{"id":"c1"},3]\n{"values":{"0":[["custom","cref"]]},"v":1}', '[{"id":"{sref}"}]\n{"values":{"0":[["custom","sref"]]},"v":1}').map((packed) => ({ packed })) },
  { weight: 3, arbitrary: typedArgs.map(({ text, attachments }) => ({ packed: text, attachments })) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 24 }).map((bytes) => ({ bytes })) },
  { weight: 1, arbitrary: fc.constantFrom<Data>({ text: '' }, { bytes: new Uint8Array([0, 0, 0, 200, 1]) }, { bytes: new Uint8Array([0xff, 0xff, 0xff, 0xff]) }) },
  { weight: 1, arbitrary: fc.integer({ min: -65_536, max: 65_536 }).map((fill) => ({ fill })) },
);

// ---- uplink-gateway: calls, control messages, listings, gateway events, revocations ----

const callSubject = fc.constantFrom('uplink.call.{obj}', 'uplink.host.{host}.call.{obj}', 'uplink.host.{host}.call.~{sref}', 'uplink.host.{fakehost}.call.{obj}', 'uplink.call.{obj}.{obj}');
/** A head field: usually its own kind of value (JSON text), sometimes junk, sometimes absent. */
const field = (name: string, own: fc.Arbitrary<string>, weight = 6): fc.Arbitrary<string | undefined> =>
  maybe(fc.oneof({ weight: 8, arbitrary: own }, { weight: 1, arbitrary: junk.map(json) }, { weight: 1, arbitrary: fc.constantFrom('null', '5', '[]', '{}', 'true') }), weight)
    .map((v) => (v === undefined ? undefined : `"${name}":${v}`));
const quoted = (own: fc.Arbitrary<string>) => own.map(json);
/** A call's head (call-envelope.ts); `{identity}` is an identity's JSON text the insider saw, `{conn}` a live connection of gateway A. */
const callHead = fc.tuple(
  field('m', quoted(member)), field('k', quoted(fc.constantFrom('call', 'get', 'set', 'stream', 'x'))), field('t', fc.constantFrom('0', '-1', '50', '5000', '1e309', '1.5', '"7"'), 3),
  field('i', fc.oneof({ weight: 3, arbitrary: fc.constantFrom('{identity}', '{identity!}') }, { weight: 2, arbitrary: identity.map((b) => Buffer.from(b, 'base64url').toString('utf8') || 'null') }), 3),
  field('c', quoted(fc.constantFrom('{gwA}/{conn}', '{gwA}/{conn!}', '{gwA}/x', 'x', '/', ''))), field('a', quoted(fc.constantFrom('1.2.3.4', '', 'x'.repeat(200)))), field('r', quoted(limitName)),
  field('n', fc.oneof(fc.constant('{"k":"v"}'), bigAnnotations.map(json), fc.constant('[1]')), 2), field('p', quoted(fc.constantFrom('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x')), 2),
  field('u', fc.constantFrom(...COUNTS).map((c) => (/^\d+$/.test(c) ? c : json(c))), 2), field('s', quoted(fc.constantFrom('x.y.z', '')), 1),
).map((fields) => `{${fields.filter(Boolean).join(',')}}`);
const head = fc.oneof({ weight: 12, arbitrary: callHead }, { weight: 1, arbitrary: fc.constantFrom('', '{', '[]', 'null', '"x"', '{"m":') });
const gatewayCall = fc.tuple(
  callSubject, fc.constantFrom(...OBJECTS), fc.constantFrom('{inbox}', '{inbox}', '{reply}', '_U.{gwA}._cb', '_U.{fakegw}.1', ''), head, args,
  // Now and then headers too: a call with NATS headers is malformed (a call is one payload).
  maybe(headers(header('Uplink-Member', member), header('Uplink-Kind', fc.constantFrom('call', 'stream'))), 1),
).map(([subject, obj, reply, text, body, hs]): NatsTemplate => ({
  role: 'gateway', kind: 'call', subject: subject.replaceAll('{obj}', obj), ...(reply ? { reply } : {}), headers: hs ?? [], data: { head: text, body },
}));

const gatewayControl = fc.tuple(
  fc.constantFrom('cancel', 'grant', 'cancel-stream', 'detach', 'resume', 'release', 'callback-ok', 'callback-error', 'x'), fc.constantFrom('{host}', '{host}', '{fakehost}'),
  headers(header('Uplink-Call', fc.constantFrom('{call}', '{reply}', '{cbcall}', '{call!}')), header('Uplink-Key', fc.constantFrom('{key}', '{key!}', '{hostkey}')),
    header('Uplink-UpTo', fc.constantFrom(...COUNTS)), header('Uplink-Ack', fc.constantFrom(...COUNTS)), header('Uplink-Identity', identity, 2)),
  fc.constantFrom('{inbox}', '{reply}', ''), fc.oneof(args, fc.constantFrom<Data>({ text: '{"code":"X","name":"N","message":"m"}\n[1]' }, { text: '{"code":5}' })),
).map(([op, host, hs, reply, data]): NatsTemplate => ({ role: 'gateway', kind: `ctl ${op}`, subject: `uplink.host.${host}.ctl`, ...(reply ? { reply } : {}), headers: [['Uplink-Op', op], ...hs], data }));

const gatewayAsk = fc.tuple(fc.constantFrom('list', 'meta'), header('Uplink-Identity', identity, 3), fc.oneof(
  fc.record({ pattern: fc.oneof(fc.constantFrom<unknown>('c*', '*', '', 5, null, 'x'.repeat(10_000))), id: fc.oneof(fc.constantFrom<unknown>(...OBJECTS, 5, null, '')) }, { requiredKeys: [] }).map((q) => ({ text: json(q) })),
  fc.constantFrom<Data>({ text: '' }, { text: 'null' }, { text: '[1]' }, { text: '{' }, { text: '"x"' }),
)).map(([what, hs, data]): NatsTemplate => ({ role: 'gateway', kind: what, subject: `uplink.host.{host}.${what}`, reply: '{inbox}', headers: hs, data }));

const gatewayEvent = fc.oneof(
  fc.constantFrom<unknown>({ id: '{gwA}' }, {}, [], null, 5).map((v): NatsTemplate => ({ role: 'gateway', kind: 'gw beat', subject: 'uplink.evt.gw.{fakegw}', headers: [], data: { text: json(v) } })),
  fc.oneof(fc.constantFrom<unknown>(['{gwA}/{conn}'], ['{gwA}/x', 5, null], 'x', { a: 1 }, null, [[1]]), fc.array(fc.constant('{gwA}/{conn}'), { maxLength: 3 }))
    .map((v): NatsTemplate => ({ role: 'gateway', kind: 'gw release', subject: 'uplink.evt.gw.{gwA}.release', headers: [], data: { text: json(v) } })),
  fc.constantFrom<unknown>([['{gwA}/{conn}', '{ref}']], [['{gwA}/{conn}', '{sref}', 1]], [['{gwA}/{conn}', '{ref}', -1]], [[5, 6]], [null], 'x', {}, [['{gwA}/{conn}', '{ref}', 1e308]])
    .map((v): NatsTemplate => ({ role: 'gateway', kind: 'gw unref', subject: 'uplink.evt.gw.{gwA}.unref', headers: [], data: { text: json(v) } })),
  fc.constantFrom<unknown>({ subject: 'someone' }, { tokenId: 'x' }, { subject: 'someone', origin: '{gwA}' }, {}, { subject: 5 }, { subject: '' }, [], null, 'x', { subject: { a: 1 } })
    .map((v): NatsTemplate => ({ role: 'gateway', kind: 'revoke', subject: 'uplink.evt.revoke', headers: [], data: { text: json(v) } })),
);

// ---- uplink-host: answers, stream frames and callbacks to gateway A; heartbeats ----

/** Answers to calls (call-envelope.ts: a head, no headers) and stream frames (headers), to gateway A's entries. */
const answerHead = fc.tuple(
  field('e', quoted(fc.constantFrom('ok', 'error', 'accepted', 'open', 'x', ''))), field('h', quoted(fc.constantFrom('{host}', '{fakehost}', '{host!}')), 2), field('pin', fc.constantFrom('1', '0', '"1"'), 2),
  field('n', fc.oneof(fc.constant('{"k":"v"}'), bigAnnotations.map(json), fc.constantFrom('[1]', '"x"')), 2),
).map((fields) => `{${fields.filter(Boolean).join(',')}}`);
const answerBody = fc.oneof(args, fc.constantFrom<Data>({ text: '{"code":"INTERNAL","name":"E","message":"m"}' }, { text: '{"code":"HOST_LOST","name":"E","message":"m"}\n[1]' }, { text: '{"code":5}' }, { packed: '[1,2,3]' }));
const answerSubject = fc.constantFrom('{reply}', '{reply}', '{call}', '_U.{gwA}.{n}', '_U.{fakegw}.1');
const callAnswer = fc.tuple(answerSubject, fc.oneof({ weight: 12, arbitrary: answerHead }, { weight: 1, arbitrary: head }), answerBody)
  .map(([subject, text, body]): NatsTemplate => ({ role: 'host', kind: 'answer', subject, headers: [], data: { head: text, body } }));
const streamFrame = fc.tuple(
  fc.constantFrom('ok', 'error', 'accepted', 'open', 'items', 'end', 'fail', 'released', 'x'), answerSubject,
  headers(header('Uplink-Host', fc.constantFrom('{host}', '{fakehost}', '{host!}')), header('Uplink-Pin', fc.constantFrom('1', '0'), 2), header('Uplink-Seq', fc.constantFrom(...COUNTS)),
    header('Uplink-Count', fc.constantFrom(...COUNTS)), header('Uplink-Key', fc.constantFrom('{key}', '{key!}', sized('k', 300)), 3)),
  answerBody,
).map(([event, subject, hs, data]): NatsTemplate => ({ role: 'host', kind: `frame ${event}`, subject, headers: [['Uplink-Event', event], ...hs], data }));
const answer = fc.oneof(callAnswer, streamFrame);

const callbackToGateway = fc.tuple(
  fc.constantFrom('callback', 'cancel-callback', 'release-ref', 'x'),
  headers(header('Uplink-Call', fc.constantFrom('{cbcall}', '0', 'x')), header('Uplink-Host', fc.constantFrom('{host}', '{fakehost}')), header('Uplink-Connection', fc.constantFrom('{conn}', '{conn!}', '{gwA}/{conn}')),
    header('Uplink-Key', fc.constantFrom('{ref}', 'c1', '{sref}', 'x')), header('Uplink-Member', member, 2), header('Uplink-Timeout', fc.constantFrom(...TIMEOUTS)), header('Uplink-Count', fc.constantFrom(...COUNTS), 2)),
  args,
).map(([op, hs, data]): NatsTemplate => ({ role: 'host', kind: `_cb ${op}`, subject: '_U.{gwA}._cb', headers: [['Uplink-Op', op], ...hs], data }));

const beat = fc.record({
  id: fc.oneof({ weight: 6, arbitrary: fc.constant<unknown>('{fakehost}') }, { weight: 1, arbitrary: fc.constantFrom<unknown>('{gwA}', 'x', '', 5, null) }),
  name: fc.oneof(fc.constant<unknown>('fake'), limitName),
  state: fc.constantFrom<unknown>('up', 'up', 'draining', 'gone', 'x', null),
  objects: fc.oneof({ weight: 5, arbitrary: fc.subarray(OBJECTS) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.constantFrom<unknown>(5, 'calc', {}, null, [1, null], { length: 2 }) }),
  calls: fc.constantFrom<unknown>(0, -1, 'x', 1e308), streams: fc.constantFrom<unknown>(0, null), reconnects: fc.constantFrom<unknown>(0, 1, 2, 'x'),
  access: fc.oneof(
    fc.dictionary(fc.constantFrom(...UNRULED_OBJECTS), fc.record({ rule: fc.constantFrom<unknown>({ scopes: ['admin'] }, { roles: ['x'] }, { scopes: 'admin' }, null, 5, { members: { x: { scopes: 5 } } }), claimNames: fc.constantFrom<unknown>({ scope: 'scope', roles: 'roles' }, null, 5) }, { requiredKeys: [] }), { maxKeys: 2 }) as fc.Arbitrary<unknown>,
    fc.constantFrom<unknown>(5, 'x', null, []),
  ),
}, { requiredKeys: ['id'] }).map((b): NatsTemplate => ({ role: 'host', kind: 'host beat', subject: `uplink.evt.host.${b.id === '{gwA}' ? '{gwA}' : '{fakehost}'}`, headers: [], data: { text: json(b) } }));
const beatText = fc.constantFrom('', 'null', '[]', '{', '5', '"x"', '{"id":5}').map((text): NatsTemplate => ({ role: 'host', kind: 'host beat', subject: 'uplink.evt.host.{fakehost}', headers: [], data: { text } }));

// ---- uplink-ops: service discovery, with replies pointed at other participants' subjects ----

const opsReply = fc.constantFrom(
  '{inbox}', 'uplink.evt.host.{host}', 'uplink.evt.host.{fakehost}', '_U.{gwA}.{n}', '{reply}', '_U.{gwA}._cb', '_U.{gwB}.{n}', 'uplink.evt.revoke',
  'uplink.evt.gw.{gwA}', 'uplink.evt.gw.{gwA}.release', 'uplink.evt.gw.{gwA}.unref', 'uplink.call.calc', 'uplink.host.{host}.ctl', 'uplink.host.{host}.call.calc', 'uplink.host.{host}.list',
);
const ops = fc.tuple(fc.constantFrom('PING', 'INFO', 'STATS'), fc.constantFrom('', '.uplink-host', '.uplink-host.{host}', '.uplink-host.{fakehost}', '.x'), opsReply, fc.oneof(fc.constant(''), fc.string({ maxLength: 20 }), fc.constant('x'.repeat(100_000))))
  .map(([verb, tail, reply, text]): NatsTemplate => ({ role: 'ops', kind: `$SRV.${verb} -> ${reply.split('.').slice(0, 3).join('.')}`, subject: `$SRV.${verb}${tail}`, reply, headers: [], data: { text } }));

export interface NatsPhase { name: string; weight: number; messages: fc.Arbitrary<NatsTemplate> }

/**
 * The lane runs in phases, one kind of sender at a time, so that a fault every round in one (a beat
 * that kills gateways' heartbeat subscription) does not hide the others; the last phase mixes them.
 */
export const NATS_PHASES: NatsPhase[] = [
  { name: 'gateway role: calls, control, listings, events', weight: 30, messages: fc.oneof({ weight: 12, arbitrary: gatewayCall }, { weight: 8, arbitrary: gatewayControl }, { weight: 2, arbitrary: gatewayAsk }, { weight: 3, arbitrary: gatewayEvent }) },
  { name: 'host role: answers, stream frames, callbacks to gateway A', weight: 25, messages: fc.oneof({ weight: 2, arbitrary: answer }, { weight: 1, arbitrary: callbackToGateway }) },
  { name: 'host role: heartbeats', weight: 10, messages: fc.oneof({ weight: 6, arbitrary: beat }, { weight: 1, arbitrary: beatText }) },
  { name: 'ops role: $SRV requests, replies aimed at others', weight: 10, messages: ops },
  {
    name: 'all roles mixed', weight: 25,
    messages: fc.oneof({ weight: 12, arbitrary: gatewayCall }, { weight: 8, arbitrary: gatewayControl }, { weight: 2, arbitrary: gatewayAsk }, { weight: 3, arbitrary: gatewayEvent }, { weight: 10, arbitrary: answer },
      { weight: 5, arbitrary: callbackToGateway }, { weight: 4, arbitrary: beat }, { weight: 1, arbitrary: beatText }, { weight: 5, arbitrary: ops }),
  },
];
