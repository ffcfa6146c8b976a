/**
 * Structured logging. Tokens, argument values and result values are never passed to the logger;
 * the redact list also catches them should a hook log a request object.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'uplink' },
    redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'args', 'result'], censor: '[redacted]' },
  });
}
