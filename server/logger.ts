import pino, { type Logger } from 'pino';
import { currentContext } from './request-context.ts';

export type { Logger };

// Tokens and message bodies must never reach logs; redact by key wherever they appear.
// Identity code logs ids only; these keys are a second line of defence should anything slip.
const REDACT = [
  'token',
  '*.token',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'req.url',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'email',
  '*.email',
  'phone',
  '*.phone',
  'displayName',
  '*.displayName',
  'dateOfBirth',
  '*.dateOfBirth',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  // Any line logged while a request is being served names that request, so a reported error can be traced.
  const mixin = () => {
    const ctx = currentContext();
    return ctx ? { requestId: ctx.requestId } : {};
  };
  return pino(
    { level, base: undefined, mixin, redact: { paths: REDACT, censor: '[redacted]' } },
    destination,
  );
}
