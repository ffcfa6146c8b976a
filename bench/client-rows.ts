/**
 * The client rows of `npm run bench` (#30): each system driven by its own client, as users run it.
 * The reference is a hand-written JSON client on a bare `ws` socket (JSON.stringify each request with
 * its id, JSON.parse each answer, a Map from id to its waiting promise) talking to raw-json; the subject
 * is the Uplink Node client with its defaults (a 30 s timeout per call, keepalive on) talking to the
 * gateway. What is compared is the load generator's side: calls/s and the client process's CPU per call.
 *
 *   closed loop, 8 connections x 32 in flight: add(1,2), echo 1 KiB, echo 64 KiB (calls/s, client CPU)
 *   open loop, 15,000 calls/s from a timer (not the bench's spinning scheduler, whose spin would be
 *   counted as client CPU): add(1,2) (client CPU per call, gateway CPU per call)
 */
import WebSocket from 'ws';
import { connect, type UplinkClient } from '../src/client/index.js';
import { median, round, type Measurement } from './measurement.js';
import type { ServerProcess } from './servers/processes.js';

type Lanes = { lanes: Array<() => Promise<void>>; close(): void };
export type Measure = (scenario: string, server: ServerProcess, lanes: Array<() => Promise<void>>, load: number | { perSecond: number; timer: true }) => Promise<Measurement>;

/** A raw JSON RPC client on one bare `ws` socket per lane: what a team writes without a library. */
export async function jsonClientLanes(url: string, conns: number, method: string, args: unknown[]): Promise<Lanes> {
  const sockets = await Promise.all(Array.from({ length: conns }, () => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    ws.once('open', () => resolve(ws)).once('error', reject);
  })));
  const lanes = sockets.map((ws) => {
    const waiting = new Map<number, (result: unknown) => void>();
    let next = 1;
    ws.on('message', (data) => {
      const answer = JSON.parse(String(data)) as { id: number; r: unknown };
      const resolve = waiting.get(answer.id);
      waiting.delete(answer.id);
      resolve?.(answer.r);
    });
    return () => new Promise<void>((resolve) => {
      const id = next++;
      waiting.set(id, () => resolve());
      ws.send(JSON.stringify({ id, m: method, a: args }));
    });
  });
  return { lanes, close: () => sockets.forEach((s) => s.close()) };
}

/** The Uplink client as users run it: default timeout, keepalive and reconnect options. */
export async function uplinkClientLanes(url: string, conns: number, token: string, op: (c: UplinkClient) => Promise<unknown>): Promise<Lanes> {
  const clients = await Promise.all(Array.from({ length: conns }, () => connect(url, { token })));
  return { lanes: clients.map((c) => async () => void (await op(c))), close: () => clients.forEach((c) => void c.close()) };
}

/**
 * Both clients in turns, `rounds` times, closed loop or at a timer-driven rate. Each side's median run
 * by client CPU per call; the Uplink row carries the median of the per-round ratios of client CPU
 * (ratioToReference here is client CPU, not server CPU) and of calls/s.
 */
async function pair(scenario: string, measure: Measure, json: ServerProcess, uplink: ServerProcess, reference: Lanes, subject: Lanes, load: number | { perSecond: number; timer: true }, rounds: number): Promise<Measurement[]> {
  const runs: [Measurement[], Measurement[]] = [[], []];
  for (let r = 0; r < rounds; r++) {
    runs[0].push(await measure(scenario, json, reference.lanes, load));
    runs[1].push(await measure(scenario, uplink, subject.lanes, load));
  }
  const rows = runs.map((series) => ({ ...series.find((m) => m.clientCpuUsPerOp === median(series.map((s) => s.clientCpuUsPerOp)))! }));
  const ratio = (pick: (m: Measurement) => number) => round(median(runs[1].map((m, r) => pick(m) / pick(runs[0][r]!))));
  rows[1]!.ratioToReference = ratio((m) => m.clientCpuUsPerOp);
  rows[1]!.callsRatio = ratio((m) => m.opsPerSec);
  rows[1]!.serverRatio = ratio((m) => m.serverCpuUsPerOp);
  for (const row of rows) console.error(`  ${scenario.padEnd(30)} ${row.server.padEnd(9)} ${String(row.opsPerSec).padStart(8)}/s  client ${row.clientCpuUsPerOp} us/op  server ${row.serverCpuUsPerOp} us/op`);
  return rows;
}

export interface ClientRowsSetup { measure: Measure; json: ServerProcess; uplink: ServerProcess; token: string; smoke: boolean; wanted(scenario: string): boolean }

export async function clientRows({ measure, json, uplink, token, smoke, wanted }: ClientRowsSetup): Promise<Measurement[]> {
  const rows: Measurement[] = [];
  const rounds = smoke ? 1 : 3;
  const payloads: Array<[string, string, unknown[]]> = [
    ['add(1,2)', 'add', [1, 2]], ['echo 1 KiB', 'echo', ['x'.repeat(1024)]], ['echo 64 KiB', 'echo', ['x'.repeat(64 * 1024)]],
  ];
  for (const [name, method, args] of payloads) {
    const scenario = `client ${name} 8x32`;
    if (!wanted(scenario)) continue;
    const object = method === 'add' ? 'calc' : 'echo';
    const [reference, subject] = await Promise.all([jsonClientLanes(json.url, 8, method, args), uplinkClientLanes(uplink.url, 8, token, (c) => c.call(object, method, args))]);
    rows.push(...await pair(scenario, measure, json, uplink, reference, subject, 32, rounds));
    reference.close();
    subject.close();
  }
  const perSecond = smoke ? 2_000 : 15_000;
  const scenario = `client add(1,2) 8 conns at ${perSecond}/s`;
  if (wanted(scenario)) {
    const [reference, subject] = await Promise.all([jsonClientLanes(json.url, 8, 'add', [1, 2]), uplinkClientLanes(uplink.url, 8, token, (c) => c.call('calc', 'add', [1, 2]))]);
    rows.push(...await pair(scenario, measure, json, uplink, reference, subject, { perSecond, timer: true }, smoke ? 1 : 5));
    reference.close();
    subject.close();
  }
  return rows;
}
