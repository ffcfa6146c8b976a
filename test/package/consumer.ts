/**
 * `npm run test:package`: the package as a user gets it. Packs the tarball (`npm pack` runs the
 * build), installs it into a fresh project in a temporary folder, then with plain Node (no tsx, no
 * TypeScript):
 *   - a JavaScript server registers plain objects (the decorator-free allow-list form) and a client
 *     calls them, properties and a stream included;
 *   - `uplink serve objects.mjs` (the bin) serves a module, and `uplink token` mints a token for it;
 * and type-checks a TypeScript consumer against the shipped .d.ts: the proxy's types flow through,
 * and a wrong argument type fails to compile.
 * Exits non-zero on the first failure. Needs the npm registry (the package's own dependencies).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'uplink-consumer-'));
const run = (cmd: string, args: string[], cwd = work) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

const SERVER = `
import { Gateway } from 'uplink';
const gateway = new Gateway({ port: 0, logLevel: 'warn' });
gateway.register({ add: (a, b) => a + b, *range(n) { for (let i = 0; i < n; i++) yield i; }, version: '1.0' }, 'calc', { expose: ['add', 'range', 'version'] });
await gateway.listen();
console.log('port ' + gateway.port);
`;

const CLIENT = `
import assert from 'node:assert/strict';
import { connect, ErrorCode } from 'uplink/client';
const client = await connect(process.argv[2], { token: process.argv[3] });
const calc = client.proxy('calc');
assert.equal(await calc.add(1, 2), 3);
assert.equal(await calc.$get('version'), '1.0');
const items = [];
for await (const n of calc.range(5)) items.push(n);
assert.deepEqual(items, [0, 1, 2, 3, 4]);
const error = await calc.nope().catch((e) => e);
assert.equal(error.code, ErrorCode.UNKNOWN_MEMBER);
await client.close();
console.log('client ok');
`;

const OBJECTS = `
export default function register(gateway) {
  gateway.register({ add: (a, b) => a + b }, 'calc', { expose: ['add'] });
}
`;

const TS_CONSUMER = `
import { connect } from 'uplink/client';
import { Gateway, expose, type GatewayOptions } from 'uplink';
interface Calc { add(a: number, b: number): number }
class Calculator { @expose add(a: number, b: number): number { return a + b; } }
export async function main(url: string, options: GatewayOptions): Promise<number> {
  new Gateway(options).register(new Calculator(), 'calc');
  const client = await connect(url);
  const sum: Promise<number> = client.proxy<Calc>('calc').add(1, 2);
  return sum;
}
`;

const TS_WRONG = `
import { connect } from 'uplink/client';
interface Calc { add(a: number, b: number): number }
const client = await connect('ws://127.0.0.1:1');
await client.proxy<Calc>('calc').add('1', 2);
`;

/** A tsconfig for one file, with @types/node from the repository (the consumer installs no types). */
const tsconfig = (file: string) => JSON.stringify({
  compilerOptions: {
    target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true,
    types: ['node'], typeRoots: [join(repo, 'node_modules/@types')],
  },
  files: [file],
});

/** Starts `node args` in the consumer project and resolves with the port it prints. */
function startServer(args: string[], env: Record<string, string> = {}): Promise<{ port: number; stop(): void }> {
  const child = spawn(process.execPath, args, { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no port from ${args.join(' ')}:\n${out}`)), 20_000);
    child.stdout.on('data', (d) => {
      out += String(d);
      const m = /port (\d+)|"url":"ws:\/\/[^:]+:(\d+)"/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({ port: Number(m[1] ?? m[2]), stop: () => child.kill('SIGTERM') });
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`)));
  });
}

try {
  run('npm', ['pack', '--silent', '--pack-destination', work], repo);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack made a tarball');
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `./${tarball}`]);
  const listed = run('npm', ['ls', '--all', '--omit=dev', '--parseable']);
  assert.doesNotMatch(listed, /node_modules\/(zod|tsx|typescript)$/m, 'no dev tool ships as a dependency');

  writeFileSync(join(work, 'server.mjs'), SERVER);
  writeFileSync(join(work, 'client.mjs'), CLIENT);
  const server = await startServer(['server.mjs']);
  assert.match(run(process.execPath, ['client.mjs', `ws://127.0.0.1:${server.port}`]), /client ok/);
  server.stop();

  const secret = 'consumer-test-secret-0123456789-abcdef';
  writeFileSync(join(work, 'objects.mjs'), OBJECTS);
  const bin = join(work, 'node_modules/.bin/uplink');
  const served = await startServer([bin, 'serve', 'objects.mjs'], { UPLINK_PORT: '0', UPLINK_JWT_SECRET: secret, UPLINK_LOG_LEVEL: 'info' });
  const token = execFileSync(bin, ['token', '--sub', 'consumer'], { cwd: work, encoding: 'utf8', env: { ...process.env, UPLINK_JWT_SECRET: secret } }).trim();
  writeFileSync(join(work, 'call.mjs'), `import { connect } from 'uplink/client';\nconst c = await connect(process.argv[2], { token: process.argv[3] });\nconsole.log('sum ' + await c.proxy('calc').add(2, 3));\nawait c.close();\n`);
  assert.match(run(process.execPath, ['call.mjs', `ws://127.0.0.1:${served.port}`, token]), /sum 5/);
  served.stop();

  writeFileSync(join(work, 'tsconfig.json'), tsconfig('consumer.ts'));
  writeFileSync(join(work, 'consumer.ts'), TS_CONSUMER);
  const tsc = join(repo, 'node_modules/typescript/bin/tsc');
  run(process.execPath, [tsc, '-p', 'tsconfig.json']);
  writeFileSync(join(work, 'tsconfig.wrong.json'), tsconfig('wrong.ts'));
  writeFileSync(join(work, 'wrong.ts'), TS_WRONG);
  let failed = '';
  try {
    run(process.execPath, [tsc, '-p', 'tsconfig.wrong.json']);
  } catch (error) {
    failed = String((error as { stdout?: string }).stdout);
  }
  assert.match(failed, /wrong\.ts.*error TS2345/, 'a wrong argument type does not compile');
  console.log('package consumer test: ok');
} finally {
  rmSync(work, { recursive: true, force: true });
}
