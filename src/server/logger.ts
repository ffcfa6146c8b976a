/**
 * Structured logging. Tokens, argument values and result values are never passed to the logger;
 * the redact list also catches them should a hook log a request object.
 *
 * Lines a client can cause (refused handshakes, failed calls, dropped oneways, floods) go through a
 * ClientLog: a token bucket caps them per gateway (the rest are counted and reported in one summary
 * line), and client-chosen text has line and paragraph separators and bidirectional overrides
 * escaped, so it can neither break a line-based reader nor disguise itself.
 */
import { pino, type Logger } from 'pino';
import { UplinkError } from '../protocol/errors.js';
import type { HostCall } from '../host/object-host.js';
import type { Codec } from '../protocol/codec.js';
import { TokenBucket, type Clock } from './connection/rate-limit.js';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'uplink' },
    redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'args', 'result'], censor: '[redacted]' },
  });
}

/** Characters JSON keeps raw that still break or disguise log lines (JSON already escapes C0 controls). */
const UNSAFE_IN_LOGS = /[\u2028\u2029\u202a-\u202e\u2066-\u2069\u0085]/g;

/** Escapes log-breaking characters as `\uXXXX` text. */
export function escapeLogText(text: string): string {
  return text.replace(UNSAFE_IN_LOGS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

type Level = 'error' | 'warn' | 'info';
type Fields = Record<string, unknown>;

export class ClientLog {
  private readonly budget: TokenBucket;
  private suppressed = 0;
  private summaryTimer: ReturnType<typeof setTimeout> | undefined;

  /** At most `linesPerSec` lines a second (and as a burst); 0 turns the cap off. */
  constructor(private readonly logger: Logger, private readonly linesPerSec = 100, clock?: Clock) {
    this.budget = new TokenBucket(linesPerSec, linesPerSec, clock);
  }

  error(fields: Fields, message: string): void {
    this.emit('error', fields, message);
  }

  warn(fields: Fields, message: string): void {
    this.emit('warn', fields, message);
  }

  info(fields: Fields, message: string): void {
    this.emit('info', fields, message);
  }

  /** Lines dropped since the last summary. */
  get droppedLines(): number {
    return this.suppressed;
  }

  private emit(level: Level, fields: Fields, message: string): void {
    if (!this.logger.isLevelEnabled(level)) return;
    if (this.linesPerSec > 0 && !this.budget.take()) {
      if (this.suppressed++ === 0) this.summaryTimer = setTimeout(() => this.summarize(), 1_000).unref();
      return;
    }
    this.logger[level](escapeFields(fields), message);
  }

  /** One line saying how many client-caused lines were left out. */
  private summarize(): void {
    clearTimeout(this.summaryTimer);
    if (this.suppressed === 0) return;
    this.logger.warn({ suppressed: this.suppressed }, 'client-caused log lines suppressed (rate limit)');
    this.suppressed = 0;
  }

  close(): void {
    this.summarize();
  }
}

/** Top-level string fields escaped (every client-chosen value in our log lines is one). */
function escapeFields(fields: Fields): Fields {
  let copy: Fields | undefined;
  for (const key in fields) {
    const value = fields[key];
    if (typeof value !== 'string') continue;
    UNSAFE_IN_LOGS.lastIndex = 0;
    if (!UNSAFE_IN_LOGS.test(value)) continue;
    (copy ??= { ...fields })[key] = escapeLogText(value);
  }
  return copy ?? fields;
}

/**
 * User code failed. Deliberate, typed failures (UplinkError, registered error classes) are the
 * method's answer, logged at info without a stack; anything else is a bug, logged as an error with
 * its stack. Both are client-caused lines, so both are rate-limited.
 */
export function logUserCodeFailure(clientLog: ClientLog, codec: Codec, error: unknown, call: HostCall): void {
  const where = { object: call.object, member: call.member, cid: call.context.correlationId, conn: call.context.connection.id };
  try {
    const deliberate = error instanceof UplinkError || (error instanceof Error && codec.errorName(error) !== undefined);
    if (deliberate) clientLog.info({ ...where, error: (error as Error).name }, 'user code refused the call');
    else clientLog.error({ err: error, ...where }, 'user code failed');
  } catch {
    clientLog.error(where, 'user code failed with an error that cannot be described');
  }
}
