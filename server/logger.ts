import pino, { type Logger } from 'pino';

export type { Logger };

// Tokens and message bodies must never reach logs; redact by key wherever they appear.
const REDACT = ['token', '*.token', 'password', '*.password', 'authorization', '*.authorization', 'req.url'];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: undefined, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}
