/**
 * Every child process of the drill, tracked from the moment it is spawned: killAll() runs in the
 * drill's finally, on exit, on SIGINT/SIGTERM and on an uncaught error, so no nats-server, gateway or
 * host outlives the drill whatever path it ends on (a frozen child gets SIGCONT so SIGKILL is final).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';

const children = new Set<ChildProcess>();

export interface Child {
  name: string;
  child: ChildProcess;
  /** The line that said it is ready (parsed JSON for Uplink processes, the raw line otherwise). */
  ready: Record<string, unknown>;
  exited: Promise<number | null>;
  /** The last lines of output, for a failure message. */
  tail(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

export function killAll(): void {
  for (const child of children) {
    if (!alive(child)) continue;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
}

/** spawn(), and the child is killed with the drill. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, options);
  children.add(child);
  return child;
}

let installed = false;
/** Exit handlers: the children die with the drill. */
export function installExitHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => { killAll(); process.exit(130); });
  process.on('uncaughtException', (error) => { process.stderr.write(`drill: uncaught ${error.stack}\n`); killAll(); process.exit(1); });
}

/** Spawns and waits until a line of stdout or stderr makes `ready` return fields; kills it when it does not start in time. */
export async function startChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv,
  ready: (line: string) => Record<string, unknown> | undefined, timeoutMs = 20_000): Promise<Child> {
  const child = spawnTracked(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let lines: string[] = [];
  const tail = () => lines.slice(-20).join('\n');
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!alive(child)) return;
    child.kill(signal);
    await exited;
  };
  try {
    const fields = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${tail()}`)), timeoutMs);
      for (const stream of [child.stdout!, child.stderr!]) {
        let buffer = '';
        stream.on('data', (data) => {
          buffer += String(data);
          const parts = buffer.split('\n');
          buffer = parts.pop()!;
          lines = [...lines, ...parts].slice(-50);
          for (const line of parts) {
            const found = ready(line);
            if (found) { clearTimeout(timer); resolve(found); }
          }
        });
      }
      void exited.then((code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code ?? child.signalCode}) before it was ready:\n${tail()}`)); });
    });
    return { name, child, ready: fields, exited, tail, kill };
  } catch (error) {
    await kill();
    throw error;
  }
}

/** A JSON log line with this `msg`, or undefined. */
export function jsonLine(line: string, msg: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    return parsed.msg === msg ? parsed : undefined;
  } catch {
    return undefined;
  }
}
