/**
 * `uplink serve` / `uplink host` as a child process watched for faults: an exit, anything on stderr,
 * a stdout line that is not the JSON log (nats.js prints "reader closed" when a subscription callback
 * threw: that NATS connection reads nothing more), and log lines at error level other than the
 * expected "user code failed". Keeps the first lines of each, never the whole log.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const CLI = new URL('../../src/cli/uplink.ts', import.meta.url).pathname;
/** Error-level log lines the fixtures cause on purpose (echo.crash, relay callbacks that fail). */
const EXPECTED_ERRORS = new Set(['user code failed', 'user code failed with an error that cannot be described']);
const KEPT_LINES = 60;
/** The lines Node prints under a warning. */
const WARNING_DETAIL = /^(Timeout duration was set to|\(Use `node --trace-warnings)/;

export class Child {
  /** Fault evidence: stderr and non-JSON stdout lines, unexpected error-level log lines (a tail). */
  readonly faultLines: string[] = [];
  readonly errorCounts = new Map<string, number>();
  /** Node's process warnings on stderr (TimeoutOverflowWarning, MaxListenersExceededWarning...): reported, not faults. */
  readonly warnings = new Map<string, number>();
  exitCode: number | null | undefined;
  exitSignal: NodeJS.Signals | null = null;
  /** Set when this process was stopped on purpose (its exit is no fault). */
  stopping = false;
  ready: Record<string, unknown> = {};

  private constructor(readonly name: string, readonly child: ChildProcess) {}

  static async start(name: string, command: 'serve' | 'host', module: string, env: Record<string, string>): Promise<Child> {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, command, module], {
      env: { ...process.env, UPLINK_LOG_LEVEL: 'info', UPLINK_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const c = new Child(name, child);
    child.once('exit', (code, signal) => {
      c.exitCode = code;
      c.exitSignal = signal;
    });
    await c.watch();
    return c;
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  /** What is wrong with this process now, or undefined. */
  fault(): string | undefined {
    if (!this.alive && !this.stopping) return `${this.name} exited (code ${this.exitCode}, signal ${this.exitSignal})${this.tail()}`;
    if (this.faultLines.length > 0) return `${this.name} printed:${this.tail()}`;
    return undefined;
  }

  /** Forgets the fault evidence seen so far (after it was reported). */
  clearFaults(): void {
    this.faultLines.length = 0;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.alive) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }

  /** The fault lines without stack frames, except the first frame under each message (where it threw). */
  private tail(): string {
    const lines: string[] = [];
    let previousWasFrame = true;
    for (const line of this.faultLines) {
      const frame = /^(stdout|stderr): +at /.test(line);
      if (!frame || !previousWasFrame) lines.push(line);
      previousWasFrame = frame;
    }
    return lines.length === 0 ? '' : '\n  ' + lines.slice(0, 10).join('\n  ');
  }

  /** The first lines are kept (where the fault began); later ones only counted. */
  private keep(line: string): void {
    if (this.faultLines.length < KEPT_LINES) this.faultLines.push(line.slice(0, 2_000));
  }

  /** Reads the output; resolves once the process says it serves. */
  private watch(): Promise<void> {
    return new Promise((resolve, reject) => {
      let buffer = '';
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start:${this.tail()}`)), 30_000);
      this.child.stderr!.on('data', (d) => { for (const line of String(d).split('\n')) if (line.trim()) this.onStderr(line); });
      this.child.stdout!.on('data', (d) => {
        buffer += String(d);
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        for (const line of lines) {
          const entry = parse(line);
          if (!entry) {
            if (line.trim()) this.keep(`stdout: ${line}`);
            continue;
          }
          if (entry.msg === 'serving' || entry.msg === 'object host serving') {
            this.ready = entry;
            clearTimeout(timer);
            resolve();
          }
          if (Number(entry.level) >= 50) this.onError(entry);
        }
      });
      this.child.once('exit', () => { clearTimeout(timer); reject(new Error(`${this.name} exited while starting:${this.tail()}`)); });
    });
  }

  private onStderr(line: string): void {
    const warning = /^\(node:\d+\) (\w*Warning: .*)$/.exec(line);
    if (!warning) {
      if (!WARNING_DETAIL.test(line)) this.keep(`stderr: ${line}`);
      return;
    }
    const key = warning[1]!.replace(/\d+/g, 'N');
    this.warnings.set(key, (this.warnings.get(key) ?? 0) + 1);
  }

  private onError(entry: Record<string, unknown>): void {
    const msg = String(entry.msg);
    this.errorCounts.set(msg, (this.errorCounts.get(msg) ?? 0) + 1);
    if (!EXPECTED_ERRORS.has(msg)) this.keep(`log: ${JSON.stringify(entry).slice(0, 1_000)}`);
  }
}

function parse(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
