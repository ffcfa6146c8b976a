/**
 * `npm run drill`: the failure drill. A real cluster of separate processes (nats-server on
 * docs/nats-server.conf, two `uplink serve` gateways, two `uplink host` hosts; cluster.ts), then five
 * scenarios, each checking that no call ran twice and no stream item was lost or repeated, each
 * timing its detection or recovery. Writes bench/results/drill.json, prints a table, and ends with
 * `N passed, N failed` (exit 1 when any failed).
 *
 * Bounded: each scenario gets SCENARIO_MS, the whole drill TOTAL_MS (then every child is killed and
 * the drill exits 1). The NATS outage runs last: it restarts the server every member depends on.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { DrillCluster } from './cluster.js';
import type { Outcome, Scenario } from './common.js';
import { gatewayKilled, revokedAcross } from './gateways.js';
import { hostAdded, hostKilled } from './hosts.js';
import { natsOutage } from './nats.js';
import { installExitHandlers, killAll } from './processes.js';

const SCENARIO_MS = 45_000;
const TOTAL_MS = 170_000;
const SCENARIOS: Scenario[] = [hostKilled, gatewayKilled, revokedAcross, hostAdded, natsOutage];
const RESULTS = new URL('../../bench/results/drill.json', import.meta.url);

interface Result extends Outcome { name: string; passed: boolean; error?: string; ms: number }

function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function runScenario(cluster: DrillCluster, scenario: Scenario): Promise<Result> {
  const t0 = performance.now();
  process.stderr.write(`drill: ${scenario.name} ...\n`);
  try {
    const outcome = await bounded(scenario.run(cluster), SCENARIO_MS, scenario.name);
    return { name: scenario.name, passed: true, ...outcome, ms: Math.round(performance.now() - t0) };
  } catch (error) {
    const partial = (error as { outcome?: Outcome }).outcome ?? { times: {}, notes: [] };
    return { name: scenario.name, passed: false, error: (error as Error).message, ...partial, ms: Math.round(performance.now() - t0) };
  } finally {
    await cluster.closeClients();
  }
}

function table(results: Result[]): string {
  const rows = results.map((r) => [r.passed ? 'PASS' : 'FAIL', r.name, Object.entries(r.times).map(([k, v]) => `${k}=${v}`).join(' ') || '-']);
  const width = [4, Math.max(...rows.map((r) => r[1]!.length)), 0];
  const lines = rows.map((r) => r.map((cell, i) => cell.padEnd(width[i]!)).join('  ').trimEnd());
  for (const r of results) {
    for (const note of r.notes) lines.push(`  ${r.name.split('.')[0]}: ${note}`);
    if (r.error) lines.push(`  ${r.name.split('.')[0]}: FAILED: ${r.error}`);
  }
  return lines.join('\n');
}

async function main(): Promise<Result[]> {
  const cluster = new DrillCluster();
  const results: Result[] = [];
  try {
    const t0 = performance.now();
    await cluster.startNats();
    await Promise.all([cluster.addGateway('gateway-a'), cluster.addGateway('gateway-b'), cluster.addHost('host-a'), cluster.addHost('host-b')]);
    process.stderr.write(`drill: cluster up in ${Math.round(performance.now() - t0)} ms (nats on 127.0.0.1:${cluster.port}, heartbeat ${cluster.heartbeatMs} ms)\n`);
    for (const scenario of SCENARIOS) results.push(await runScenario(cluster, scenario));
  } catch (error) {
    results.push({ name: 'cluster start', passed: false, error: (error as Error).message, times: {}, notes: [], ms: 0 });
  } finally {
    killAll();
  }
  mkdirSync(new URL('.', RESULTS), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify({
    date: new Date().toISOString(), node: process.version, heartbeatMs: cluster.heartbeatMs, natsOutage: 'nats-server SIGKILL, restarted after 5 s on the same port and config',
    results: results.map(({ name, passed, error, times, notes, ms }) => ({ name, passed, ...(error ? { error } : {}), times, notes, ms })),
  }, null, 2) + '\n');
  return results;
}

installExitHandlers();
const watchdog = setTimeout(() => {
  process.stderr.write(`drill: not done within ${TOTAL_MS} ms: killing the cluster\n`);
  killAll();
  process.stdout.write('0 passed, 1 failed\n');
  process.exit(1);
}, TOTAL_MS);
watchdog.unref();
const results = await main();
clearTimeout(watchdog);
const failed = results.filter((r) => !r.passed).length;
process.stdout.write(`\n${table(results)}\n\nresults: bench/results/drill.json\n${results.length - failed} passed, ${failed} failed\n`);
process.exit(failed > 0 ? 1 : 0);
