/** Server processes for load scripts: start one (it prints `ready <port>`), and read its RSS and CPU time from /proc. */
import { execFileSync, execSync, spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;

export interface ServerProcess { name: string; pid: number; url: string; child: ChildProcess }

/**
 * `npm run bench` runs the compiled bench (bench/tsconfig.json: plain JavaScript, as users run the
 * package); a server is then compiled JavaScript too. Run from source (tsx), servers run through tsx.
 */
const compiled = import.meta.url.endsWith('.js');

/**
 * The servers run on this Node unless BENCH_SERVER_NODE names another binary; with
 * BENCH_SERVER_CHROOT they run inside that root (docs/performance.md: Node 24 in a Debian 13 root,
 * the repository mounted at the same path), the load generator staying here.
 */
function serverCommand(args: string[]): [string, string[]] {
  const node = process.env.BENCH_SERVER_NODE ?? process.execPath;
  const root = process.env.BENCH_SERVER_CHROOT;
  const [command, argv]: [string, string[]] = root ? ['chroot', [root, '/usr/bin/env', '-C', process.cwd(), 'PATH=/usr/bin:/bin', 'HOME=/tmp', node, ...args]] : [node, args];
  return pinned ? ['taskset', ['-c', String(SERVER_CPU), command, ...argv]] : [command, argv];
}

/**
 * BENCH_PIN=1 runs the servers pinned to CPU 0 and the load generator (this process, all its threads)
 * on the others, as in the measurements issue #17 was filed from. Not the default: the fixed-rate rows
 * varied as much pinned as not, and on two cores it leaves the load generator a single core
 * (docs/performance.md, #17 third pass). Needs taskset.
 */
const SERVER_CPU = 0;
const cpus = availableParallelism();
const pinned = process.env.BENCH_PIN === '1' && cpus >= 2 && hasTaskset();
if (pinned) execFileSync('taskset', ['-a', '-p', '-c', `1-${cpus - 1}`, String(process.pid)], { stdio: 'ignore' });

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** How the bench placed its processes, for the results file. */
export const placement = pinned ? `servers on CPU ${SERVER_CPU}, load generator on CPUs 1-${cpus - 1}` : 'not pinned';

/**
 * `UPLINK_RUNTIME=node npm run bench`: the Uplink servers run on the node runtime (bench/servers/uplink.ts
 * reads the variable) and each raw uWS reference is replaced by its hand-written counterpart on the same
 * stack (node:http + ws), so that every row compares Uplink with what a team would write without it.
 */
export const benchRuntime: 'uws' | 'node' = process.env.UPLINK_RUNTIME === 'node' ? 'node' : 'uws';
const NODE_REFERENCES: Record<string, string> = { 'raw-echo': 'ws-echo', 'raw-json': 'ws-json', 'raw-hello': 'ws-hello', 'raw-http': 'node-http' };

/** The name (and script) of a reference server in this bench's runtime: raw-json, or ws-json on the node runtime. */
export function referenceName(name: string): string {
  return benchRuntime === 'node' ? NODE_REFERENCES[name] ?? name : name;
}

/** Starts bench/servers/<script> (default: <name>, a reference mapped by referenceName) in its own process and waits for its port. */
export async function startServer(requested: string, options: { script?: string; env?: Record<string, string>; scheme?: string; nodeArgs?: string[] } = {}): Promise<ServerProcess> {
  const name = options.script ? requested : referenceName(requested);
  const script = join(here, `${options.script ?? name}.${compiled ? 'js' : 'ts'}`);
  const node = ['--expose-gc', ...(options.nodeArgs ?? [])];
  const args = compiled ? [...node, script] : [...node, '--import', 'tsx', script];
  const [command, argv] = serverCommand(args);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...options.env } });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
      // BENCH_SERVER_OUTPUT=1: what servers print (say --trace-gc) goes to this process's stderr.
      if (process.env.BENCH_SERVER_OUTPUT === '1') process.stderr.write(String(d));
    });
    child.on('exit', (code) => reject(new Error(`${name} server exited with ${code}`)));
  });
  return { name, pid: child.pid!, url: `${options.scheme ?? 'ws'}://127.0.0.1:${port}`, child };
}

export function serverRssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** utime + stime of a process in microseconds (fields 14 and 15 of /proc/<pid>/stat). */
export function serverCpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1e6;
}
