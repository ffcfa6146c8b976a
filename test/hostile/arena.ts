/**
 * The arena every hostile test runs in: a real gateway with the demo objects and a probe object that
 * shows what happened inside, plus an honest client that is checked after every test. After each
 * attack the honest client must still get correct answers and a complete stream, a brand-new client
 * must still be served, and no built-in prototype may have changed.
 */
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { after, afterEach, before } from 'node:test';
import { JwtAuthenticator, type JwtOptions } from '../../src/auth/jwt.js';
import { callContext, expose, type Gateway, type GatewayOptions } from '../../src/index.js';
import type { UplinkClient } from '../../src/client/index.js';
import { client, sleep, startGateway, type LogCapture } from '../support/gateway.js';
import { natsServed } from '../support/nats-backed.js';
import { assertPrototypesClean } from '../support/prototypes.js';
import { JwksServer, keyPair } from '../support/tokens.js';

/** A registered error class (the arena registers it with the codec), so its message and data are public. */
export class HostileError extends Error {
  data: unknown;
  constructor(message: string) {
    super(message);
    this.name = 'HostileError';
  }
}

/** Server-side observations for hostile tests: what user code saw and how it ended. */
export class Probe {
  /** Generators of `count` currently alive, items they produced, finally blocks run. */
  live = 0;
  pulled = 0;
  finished = 0;
  /** Calls of `hang` started and how many saw their AbortSignal fire. */
  hanging = 0;
  aborted = 0;

  @expose *count(n: number): Generator<number> {
    this.live++;
    try {
      for (let i = 0; i < n; i++) {
        this.pulled++;
        yield i;
      }
    } finally {
      this.live--;
      this.finished++;
    }
  }

  /** Never resolves by itself; settles only when the call is aborted. */
  @expose hang(): Promise<never> {
    this.hanging++;
    const signal = callContext().signal;
    return new Promise((_, reject) => signal.addEventListener('abort', () => {
      this.aborted++;
      reject(signal.reason);
    }, { once: true }));
  }

  /** A small request with a large answer. */
  @expose big(chars: number): string {
    return 'x'.repeat(chars);
  }

  @expose *bigItems(count: number, chars: number): Generator<string> {
    for (let i = 0; i < count; i++) yield 'y'.repeat(chars);
  }

  /** Calls of `later` started and ended (however they ended). */
  laterStarted = 0;
  laterDone = 0;

  @expose async later(ms: number, fail = false): Promise<string> {
    this.laterStarted++;
    try {
      await sleep(ms);
      if (fail) throw new Error('failed after the caller left');
      return 'late';
    } finally {
      this.laterDone++;
    }
  }

  /** Reads its bytes only after an await: they must still be intact then. */
  @expose async digest(bytes: Uint8Array): Promise<number> {
    await nextTurn();
    return bytes.reduce((sum, b) => sum + b, 0);
  }

  /** Throws something hostile to error handling: values that are not Errors, throwing getters, cycles. */
  @expose throwHostile(kind: string): never {
    const throwing = { get message(): string { throw new Error('getter'); }, toString(): string { throw new Error('toString'); } };
    const hostile: Record<string, () => unknown> = {
      string: () => 'a plain string',
      undefined: () => undefined,
      null: () => null,
      proxy: () => new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); } }),
      getters: () => Object.setPrototypeOf(throwing, Error.prototype),
      cause: () => new Error('with a hostile cause', { cause: throwing }),
      cyclic: () => { const e = new HostileError('cyclic data'); e.data = { self: e.data }; (e.data as { self: unknown }).self = e.data; return e; },
    };
    throw (hostile[kind] ?? (() => new Error('unknown kind')))();
  }

  /** What a value is once decoded, as the method sees it. */
  @expose describe(value: unknown): string {
    return `${Object.prototype.toString.call(value)}:${String(value)}`;
  }

  /** Items for the honest client only, so hostile tests' counters stay theirs. */
  @expose *sequence(n: number): Generator<number> {
    for (let i = 0; i < n; i++) yield i;
  }
}

export interface Arena {
  gateway: Gateway;
  url: string;
  port: number;
  logs: LogCapture;
  probe: Probe;
}

export interface ArenaOptions {
  /** Token for the honest client and for fresh clients (gateways with authentication). */
  token?: () => Promise<string>;
}

/** Registers before/after hooks in the current describe block and returns the arena they fill. */
export function useArena(options: GatewayOptions | (() => Promise<GatewayOptions>) = {}, arenaOptions: ArenaOptions = {}): Arena {
  const arena = {} as Arena;
  let honest: UplinkClient;
  let round = 0;
  before(async () => {
    const started = await startGateway(typeof options === 'function' ? await options() : options);
    Object.assign(arena, started, { port: started.gateway.port, probe: new Probe() });
    started.gateway.register(arena.probe, 'probe');
    await natsServed(started.gateway);
    started.gateway.codec.registerError(HostileError, 'HostileError');
    honest = await client(started.url, arenaOptions.token ? { token: await arenaOptions.token() } : {});
  });
  afterEach(async () => {
    const n = ++round;
    assert.equal(await honest.proxy<{ add(a: number, b: number): number }>('calc').add(n, 1000), n + 1000, 'the honest client gets correct answers');
    const items: number[] = [];
    for await (const item of honest.proxy<{ sequence(n: number): AsyncIterable<number> }>('probe').sequence(50)) items.push(item);
    assert.deepEqual(items, Array.from({ length: 50 }, (_, i) => i), 'the honest client gets complete streams');
    const fresh = await client(arena.url, arenaOptions.token ? { token: await arenaOptions.token() } : {});
    assert.equal(await fresh.proxy<{ add(a: number, b: number): number }>('calc').add(2, 3), 5, 'new clients are still served');
    await fresh.close();
    assertPrototypesClean();
  });
  after(async () => {
    await honest.close();
    await arena.gateway.close({ drainMs: 0 });
  });
  return arena;
}

/**
 * An arena whose gateway verifies ES256 tokens against a JWKS endpoint on loopback. The endpoint
 * publishes `kid`'s key, which the honest client signs with; tests change `jwks.keys` or `jwks.delayMs`.
 */
export function useJwksArena(kid: string, jwt: Partial<JwtOptions>, options: GatewayOptions = {}) {
  const keys = { jwks: undefined as unknown as JwksServer, signer: keyPair(kid) };
  const arena = useArena(async () => {
    keys.jwks = await JwksServer.start();
    keys.jwks.keys = [(await keys.signer).jwk];
    return { ...options, authenticator: new JwtAuthenticator({ ...jwt, algorithms: ['ES256'], jwksUrl: keys.jwks.url }) };
  }, { token: async () => (await keys.signer).sign('honest') });
  after(() => keys.jwks.close());
  return { arena, keys };
}

