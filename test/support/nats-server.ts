/**
 * A real nats-server on loopback for one test file: `-a 127.0.0.1 -p -1` (a free port), stopped by
 * the test. Without the binary the NATS tests are skipped with one loud line, except under CI=true,
 * where a missing server is a failure (.ci/run installs it: apt-get install -y nats-server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';

export const NATS_SERVER = process.env.NATS_SERVER_PATH ?? '/usr/sbin/nats-server';

/** Why the NATS tests cannot run here, or undefined (throws under CI=true). */
export function natsUnavailable(): string | undefined {
  if (existsSync(NATS_SERVER)) return undefined;
  const why = `SKIPPED: the NATS tests need nats-server at ${NATS_SERVER} (apt-get install -y nats-server)`;
  if (process.env.CI === 'true') throw new Error(why.replace('SKIPPED', 'FAILED (CI=true)'));
  console.error(`\n*** ${why} ***\n`);
  return why;
}

export interface NatsServer { url: string; stop(): Promise<void>; process: ChildProcess }

export interface NatsServerOptions {
  /** A fixed port (a restart on the same address); default: a free one. */
  port?: number;
  /** A configuration file (users, permissions, pings). */
  config?: string;
  env?: Record<string, string>;
  /** More command-line options (e.g. `-m <port>` for monitoring). */
  extraArgs?: string[];
}

export function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const args = [...(options.config ? ['-c', options.config] : []), '-a', '127.0.0.1', '-p', String(options.port ?? -1), ...(options.extraArgs ?? []), ...(process.env.NATS_DEBUG ? ['-D'] : [])];
  const child = spawn(NATS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...options.env } });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${log}`)), 5_000);
    child.stderr!.on('data', (d) => {
      if (process.env.NATS_DEBUG) appendFileSync(process.env.NATS_DEBUG, String(d));
      log += String(d);
      const m = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: `127.0.0.1:${m[1]}`, process: child,
        stop: () => new Promise<void>((done) => { child.once('exit', () => done()); child.kill('SIGTERM'); }),
      });
    });
    child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}:\n${log}`)));
  });
}
