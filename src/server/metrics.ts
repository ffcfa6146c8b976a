/**
 * Prometheus metrics of a gateway (prom-client, on a registry of its own: nothing global). Every name
 * and label is listed in docs/operations.md.
 *
 * Invariants: label values come from a bounded vocabulary. An object is a label only when the object
 * host knows it (registered here, or served by a host of the cluster), a member only when the call
 * reached it (its outcome is not UNKNOWN_OBJECT / UNKNOWN_MEMBER / REF_RELEASED / BAD_FRAME), references are
 * `~ref`, and past `MAX_CALL_SERIES` label sets everything new is `other`: a client naming a million
 * objects adds no series; a member is a label only when its object declares it (or, for a reference,
 * when the call succeeded). The call path touches only cached children (no label hashing per call).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ErrorCode } from '../protocol/errors.js';
import type { RemoteHostState } from '../host/remote-object-host.js';

/** Call outcome `code` label for a success. */
export const OK = 'OK';
const OTHER = 'other';
const MAX_CALL_SERIES = 2_000;
/** Outcomes that say the object or member was never reached: their names are not labels. */
const UNREACHED: ReadonlySet<string> = new Set([ErrorCode.UNKNOWN_OBJECT, ErrorCode.UNKNOWN_MEMBER, ErrorCode.REF_RELEASED, ErrorCode.BAD_FRAME]);
/** Seconds: from a local call (tens of microseconds) to a long one. */
const CALL_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A cluster member's view of NATS: connected or not, and how many peers (gateways count hosts, hosts count gateways). */
/** A cluster link's NATS connection and live peers. */
export type ClusterState = RemoteHostState;

/** Where a process's cluster gauges come from (read at each scrape, never at construction). */
export interface ClusterGauges {
  state: () => ClusterState;
  /** What the peers are: `hosts` on a gateway, `gateways` on a host. */
  peers: 'hosts' | 'gateways';
}

/** Per label set: plain totals, read by the scrape (and the admin view). */
export interface CallSeries {
  readonly object: string;
  readonly member: string;
  readonly code: string;
  count: number;
  seconds: number;
  /** Calls per CALL_BUCKETS bucket (not cumulative); the last slot is +Inf. */
  readonly buckets: number[];
}

/**
 * The hot path only adds to plain numbers; the scrape hands them to prom-client. A counter is reset
 * and set through its public API; a histogram has no bulk API, so its entries are written in the
 * shape prom-client 15 keeps them (`hashMap` of `{labels, bucketValues, sum, count}`; test/integration/observability/metrics.test.ts
 * parses a real scrape, so an upgrade that changes it fails there).
 */
interface HistogramInternals { hashMap: Record<string, { labels: Record<string, string>; bucketValues: Record<number, number>; sum: number; count: number }> }

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly connectionsClosed: Counter<'code'>;
  private readonly handshakes: Counter<'result' | 'reason'>;
  /** Plain totals the hot paths add to; the scrape reads them. */
  readonly totals = { bytesReceived: 0, bytesSent: 0, streamItems: 0, creditStalls: 0, inflight: 0, open: 0, opened: 0 };
  private readonly backpressure: Counter<'event'>;
  private readonly rateLimited: Counter<'kind'>;
  readonly revocations: Counter;
  private readonly keyFetches: Counter<'result'>;
  private readonly callbacks: Counter<'code'>;
  /** Series by their label values (bounded by MAX_CALL_SERIES), and by call names that are their own labels. */
  private readonly byLabels = new Map<string, CallSeries>();
  private readonly byCall = new Map<string, CallSeries>();

  constructor(
    known: (object: string) => boolean,
    streams: () => { live: number; lingering: number },
    knownMember: (object: string, member: string) => boolean = () => true,
    cluster?: ClusterGauges,
  ) {
    this.known = known;
    this.knownMember = knownMember;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Counter<L>({ name, help, labelNames, registers });
    const gauge = (name: string, help: string, collect?: (this: Gauge) => void) => new Gauge({ name, help, registers, ...(collect ? { collect } : {}) });
    const totals = this.totals;
    /** A counter whose value is one of the plain totals. */
    const total = (name: string, help: string, read: () => number) => new Counter({
      name, help, registers,
      collect(this: Counter) {
        this.reset();
        this.inc(read());
      },
    });
    gauge('uplink_connections_open', 'WebSocket connections open now (welcomed or not)', function collect() {
      this.set(totals.open);
    });
    total('uplink_connections_opened_total', 'WebSocket connections opened', () => totals.opened);
    this.connectionsClosed = counter('uplink_connections_closed_total', 'WebSocket connections closed, by close code', ['code']);
    this.handshakes = counter('uplink_handshakes_total', 'Upgrades and hellos, by result (ok, refused) and reason', ['result', 'reason']);
    const byLabels = this.byLabels;
    new Counter({
      name: 'uplink_calls_total', help: 'Calls answered, by object, member and result code (OK for a result)', labelNames: ['object', 'member', 'code'], registers,
      collect(this: Counter<'object' | 'member' | 'code'>) {
        this.reset();
        for (const series of byLabels.values()) this.labels(series.object, series.member, series.code).inc(series.count);
      },
    });
    new Histogram({
      name: 'uplink_call_duration_seconds', help: 'Time from admission to the answer', labelNames: ['object', 'member'], buckets: CALL_BUCKETS, registers,
      collect(this: Histogram<'object' | 'member'>) {
        const hashMap: HistogramInternals['hashMap'] = {};
        for (const series of byLabels.values()) {
          const key = `${series.object}\u0000${series.member}`;
          const entry = hashMap[key] ??= { labels: { object: series.object, member: series.member }, bucketValues: Object.fromEntries(CALL_BUCKETS.map((b) => [b, 0])), sum: 0, count: 0 };
          CALL_BUCKETS.forEach((bound, i) => (entry.bucketValues[bound]! += series.buckets[i]!));
          entry.sum += series.seconds;
          entry.count += series.count;
        }
        (this as unknown as HistogramInternals).hashMap = hashMap;
      },
    });
    if (cluster) {
      gauge('uplink_nats_connected', 'Whether this process is connected to NATS now (1) or not (0)', function collect() {
        this.set(cluster.state().connected ? 1 : 0);
      });
      const what = cluster.peers === 'hosts' ? 'Object hosts' : 'Gateways';
      gauge(`uplink_cluster_${cluster.peers}`, `${what} heard from within the liveness bound`, function collect() {
        this.set(cluster.state().peers);
      });
    }
    gauge('uplink_calls_inflight', 'Calls admitted and not yet answered', function collect() {
      this.set(totals.inflight);
    });
    gauge('uplink_streams_open', 'Streams the object host keeps now (open, lingering or awaiting their final ack)', function collect() {
      this.set(streams().live);
    });
    total('uplink_stream_items_total', 'Stream items sent to clients', () => totals.streamItems);
    total('uplink_stream_credit_stalls_total', 'Times a stream stopped pulling its generator because the consumer had no credit left', () => totals.creditStalls);
    this.backpressure = counter('uplink_backpressure_events_total', 'Streams paused on a full socket buffer (paused), and clients cut as slow consumers (slow_consumer)', ['event']);
    total('uplink_received_bytes_total', 'WebSocket message bytes received', () => totals.bytesReceived);
    total('uplink_sent_bytes_total', 'WebSocket message bytes queued to send (text counted in UTF-16 units)', () => totals.bytesSent);
    this.rateLimited = counter('uplink_rate_limited_total', 'Refusals by a rate limit: frames (message) and new connections (connection)', ['kind']);
    this.revocations = counter('uplink_revocations_total', 'Revocations applied (made here or on another gateway of the cluster)');
    this.keyFetches = counter('uplink_key_source_fetches_total', 'Fetches of the JWKS key source, by result (ok, error)', ['result']);
    this.callbacks = counter('uplink_callbacks_total', 'Callbacks to clients, by result code (OK for an answer)', ['code']);
  }

  private readonly known: (object: string) => boolean;
  private readonly knownMember: (object: string, member: string) => boolean;

  /**
   * The series of one call outcome. Calls to known objects are cached by their own names (one Map
   * lookup per call); anything else is mapped to its bounded labels on every call and never cached.
   */
  callSeries(object: string, member: string, code: string): CallSeries {
    const reference = object.startsWith('~');
    const key = reference ? `~ref\u0000${member}\u0000${code}` : `${object}\u0000${member}\u0000${code}`;
    const cached = this.byCall.get(key);
    if (cached) return cached;
    let o = reference ? '~ref' : this.known(object) ? object : OTHER;
    // A member is a label only when it exists: the object declares it, or (a reference, whose members
    // the gateway may not know) the call reached it and answered. A refusal made before the call
    // reached anything (a deadline through NATS) must not turn a name the client chose into a series.
    const exists = reference ? code === OK : this.knownMember(object, member);
    let m = !UNREACHED.has(code) && o !== OTHER && exists ? member : OTHER;
    if (this.byLabels.size >= MAX_CALL_SERIES) o = m = OTHER;
    const labels = `${o}\u0000${m}\u0000${code}`;
    let series = this.byLabels.get(labels);
    if (!series) {
      series = { object: o, member: m, code, count: 0, seconds: 0, buckets: new Array<number>(CALL_BUCKETS.length + 1).fill(0) };
      this.byLabels.set(labels, series);
    }
    if (labels === key) this.byCall.set(key, series); // a bounded name: safe to remember
    return series;
  }

  /** One call answered: `seconds` since admission. */
  callDone(object: string, member: string, code: string, seconds: number): void {
    const series = this.callSeries(object, member, code);
    series.count++;
    series.seconds += seconds;
    let bucket = 0;
    while (bucket < CALL_BUCKETS.length && seconds > CALL_BUCKETS[bucket]!) bucket++;
    series.buckets[bucket]!++;
  }

  /** Plain totals per label set (the admin view reads these instead of scraping). */
  callTotals(): Array<Pick<CallSeries, 'object' | 'member' | 'code' | 'count' | 'seconds'>> {
    return [...this.byLabels.values()].map(({ object, member, code, count, seconds }) => ({ object, member, code, count, seconds }));
  }

  connectionClosed(code: number): void {
    this.connectionsClosed.labels(String(code)).inc();
  }

  handshake(result: 'ok' | 'refused', reason: string): void {
    this.handshakes.labels(result, reason).inc();
  }

  rateLimit(kind: 'message' | 'connection'): void {
    this.rateLimited.labels(kind).inc();
  }

  backpressureEvent(event: 'paused' | 'slow_consumer'): void {
    this.backpressure.labels(event).inc();
  }

  keyFetch(ok: boolean): void {
    this.keyFetches.labels(ok ? 'ok' : 'error').inc();
  }

  callback(code: string): void {
    this.callbacks.labels(code).inc();
  }

  /** The text a Prometheus scrape gets. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
