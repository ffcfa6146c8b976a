/**
 * `uplink serve` and `uplink host` as real child processes (the failure drills kill, freeze and
 * drain them). Each is ready once it logs that it serves; its JSON log lines are kept for asserts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface UplinkProcess {
  child: ChildProcess;
  /** The first log line saying it serves (the gateway's has its url, the host's its id). */
  ready: Record<string, unknown>;
  lines: Array<Record<string, unknown>>;
  stderr(): string;
  signal(signal: NodeJS.Signals): void;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
}

const CLI = new URL('../../src/cli/uplink.ts', import.meta.url).pathname;

export async function startUplink(command: 'serve' | 'host', module: string, env: Record<string, string>, timeoutMs = 20_000, args: string[] = []): Promise<UplinkProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, command, module, ...args], {
    env: { ...process.env, UPLINK_LOG_LEVEL: 'info', UPLINK_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  let signalled: string | null = null;
  const exited = once(child, 'exit').then(([code, signal]) => {
    signalled = signal as string | null;
    return code as number | null;
  });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`uplink ${command} did not start:\n${stderr}`)), timeoutMs);
    let buffer = '';
    child.stdout!.on('data', (d) => {
      buffer += String(d);
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      for (const part of parts) {
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(part) as Record<string, unknown>;
        } catch {
          continue;
        }
        lines.push(line);
        if (line.msg === 'serving' || line.msg === 'object host serving') {
          clearTimeout(timer);
          resolve(line);
        }
      }
    });
    void exited.then((code) => reject(new Error(`uplink ${command} exited with ${code}:\n${stderr}`)));
  });
  return { child, ready, lines, exited, stderr: () => stderr + (signalled ? `\n(ended by ${signalled})` : ''), signal: (s) => void child.kill(s) };
}
