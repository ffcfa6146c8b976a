/**
 * `npm run demo:cluster`: the demo as a cluster on this machine. A nats-server (from PATH, or
 * /usr/sbin/nats-server; NATS_SERVER names another) on docs/nats-server.conf with passwords made
 * fresh for this run (never a server without users: anyone who reaches it could publish calls with
 * any identity), two object hosts (user uplink-host) with the demo objects and two (uplink-gateway)
 * gateways with the web demo, each its own process (cluster-member.ts). The web demo shows which host
 * answered each call and which gateway it is connected to; kill a gateway and the page moves to the
 * other one, its stream resuming there. Ctrl-C stops everything.
 *
 * UPLINK_PORT is the first gateway's port (default 8080; the second gets the next one; 0: any free
 * ports). Prints one JSON line `demo cluster ready` with the page URL and every process id.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Member { name: string; child: ChildProcess; url?: string }

const MEMBER = fileURLToPath(new URL('./cluster-member.ts', import.meta.url));
const NATS_CONFIG = fileURLToPath(new URL('../../docs/nats-server.conf', import.meta.url));
/** A letter first: nats-server reads an unquoted variable that starts with a digit as a number. */
function password(): string {
  return `p${randomBytes(24).toString('hex')}`;
}

/** One password per NATS user, new on every run; the config reads them from nats-server's environment. */
const PASSWORDS = {
  gateway: password(), host: password(), ops: password(),
};
const children: ChildProcess[] = [];

function natsServerPath(): string {
  const named = process.env.NATS_SERVER;
  if (named) return named;
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin']) {
    const candidate = join(dir, 'nats-server');
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error('the demo cluster needs nats-server on the PATH (Debian/Ubuntu: apt-get install -y nats-server)');
}

/** Starts a process and resolves once a line of its output matches `ready` (stderr for nats-server, JSON logs otherwise). */
function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, ready: (line: string) => string | undefined): Promise<Member> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s`)), 30_000);
    const onLine = (line: string) => {
      const url = ready(line);
      if (url === undefined) return;
      clearTimeout(timer);
      resolve({ name, child, url });
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffer = '';
      stream.on('data', (data) => {
        const text = String(data);
        (stream === child.stdout ? process.stdout : process.stderr).write(text);
        buffer += text;
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        lines.forEach(onLine);
      });
    }
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      process.stderr.write(`demo cluster: ${name} exited (${signal ?? code})\n`);
      reject(new Error(`${name} exited before it was ready`));
    });
  });
}

const jsonMessage = (line: string, msg: string, field: string): string | undefined => {
  try {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    return parsed.msg === msg ? String(parsed[field] ?? '') : undefined;
  } catch {
    return undefined;
  }
};

async function main(): Promise<void> {
  const natsEnv = {
    ...process.env, UPLINK_NATS_GATEWAY_PASSWORD: PASSWORDS.gateway, UPLINK_NATS_HOST_PASSWORD: PASSWORDS.host, UPLINK_NATS_OPS_PASSWORD: PASSWORDS.ops,
  };
  const nats = await start('nats-server', natsServerPath(), ['-c', NATS_CONFIG, '-a', '127.0.0.1', '-p', '-1'], natsEnv,
    (line) => /Listening for client connections on (127\.0\.0\.1:\d+)/.exec(line)?.[1]);
  const env = { ...process.env, UPLINK_NATS_URL: `nats://${nats.url}` };
  // Each member knows only its own user's password: a host cannot publish calls, a gateway cannot answer them.
  const credentials = (role: string) => role === 'host'
    ? { UPLINK_NATS_USER: 'uplink-host', UPLINK_NATS_PASS: PASSWORDS.host }
    : { UPLINK_NATS_USER: 'uplink-gateway', UPLINK_NATS_PASS: PASSWORDS.gateway };
  const member = (role: string, name: string, extra: Record<string, string>) =>
    start(name, process.execPath, ['--import', 'tsx', MEMBER, role], { ...env, ...credentials(role), ...extra },
      (line) => jsonMessage(line, 'cluster member ready', role === 'host' ? 'name' : 'url'));
  const hosts = await Promise.all(['host-1', 'host-2'].map((name) => member('host', name, { UPLINK_HOST_NAME: name, UPLINK_DEMO_CHAT: name === 'host-1' ? '1' : '0' })));
  const first = Number(process.env.UPLINK_PORT ?? 8080);
  const gateways = await Promise.all([0, 1].map((i) => member('gateway', `gateway-${i + 1}`, { UPLINK_PORT: String(first === 0 ? 0 : first + i) })));
  const urls = gateways.map((g) => g.url!);
  const page = `${urls[0]!.replace(/^ws/, 'http')}/?gateways=${urls.map(encodeURIComponent).join(',')}`;
  process.stdout.write(JSON.stringify({
    msg: 'demo cluster ready', page, nats: nats.url,
    gateways: gateways.map((g) => ({ name: g.name, url: g.url, pid: g.child.pid })),
    hosts: hosts.map((h) => ({ name: h.name, pid: h.child.pid })),
  }) + '\n');
  process.stderr.write(`\ndemo cluster ready: open ${page}\n(kill a gateway to watch the page move to the other one)\n`
    + `revoke a user on every gateway (this run's operator password; it dies with the cluster):\n`
    + `  UPLINK_NATS_URL=nats://${nats.url} UPLINK_NATS_USER=uplink-ops UPLINK_NATS_PASS=${PASSWORDS.ops} npx tsx src/cli/uplink.ts revoke alice\n\n`);
}

function stopAll(): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(0), 1_500).unref();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, stopAll);
main().catch((error: Error) => {
  process.stderr.write(`demo cluster: ${error.message}\n`);
  stopAll();
  process.exitCode = 1;
});
