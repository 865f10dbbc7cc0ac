import { DrizzleQueryError } from 'drizzle-orm/errors';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isDatabaseUnavailable } from '../db/connection-errors.ts';
import { BatchDeadlineError } from './batcher.ts';

export type FieldError = { field: string; message: string };

/** An error that knows how it should look to an API client (RFC 9457 problem details). */
export class ProblemError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'ProblemError';
  }
}

export function problemBody(status: number, code: string, detail: string, errors: FieldError[] = []) {
  return {
    type: `https://carecall.dev/problems/${code}`,
    title: code.replace(/_/g, ' '),
    status,
    code,
    detail,
    ...(errors.length ? { errors } : {}),
  };
}

export function problemResponse(c: Context, err: ProblemError) {
  return c.body(JSON.stringify(problemBody(err.status, err.code, err.message, err.errors)), err.status, {
    'content-type': 'application/problem+json',
  });
}

/**
 * What may be logged about an unexpected error. Database errors are reduced to their class,
 * SQLSTATE and constraint: drizzle's DrizzleQueryError puts the query's parameters (which can be
 * PHI, e.g. questionnaire answers) into its message and stack, and PostgreSQL's detail quotes
 * row values.
 */
export function loggableError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { name: typeof err };
  const cause = (err as { cause?: { code?: unknown; constraint_name?: unknown; constraint?: unknown } }).cause;
  const code = (err as { code?: unknown }).code ?? cause?.code;
  const drizzle = err instanceof DrizzleQueryError;
  const isDb = drizzle || err.name === 'PostgresError' || (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code));
  if (isDb) return { name: drizzle ? 'DrizzleQueryError' : err.name, sqlState: code, constraint: cause?.constraint_name ?? cause?.constraint ?? (err as { constraint_name?: unknown }).constraint_name };
  return { name: err.name, message: err.message, stack: err.stack };
}

/** How long a client is asked to wait (Retry-After) before retrying a request the database could not serve. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * A 503 for errors that say the database is out of reach (refused, closed, terminated, shutting
 * down or starting up, too slow to answer within its deadline), so clients retry instead of
 * reporting a failure; undefined for every other error.
 */
export function databaseUnavailable(err: unknown): ProblemError | undefined {
  if (!isDatabaseUnavailable(err) && !(err instanceof BatchDeadlineError)) return undefined;
  return new ProblemError(503, 'database_unavailable', `the database is unavailable; retry in ${DATABASE_RETRY_AFTER_SECONDS} seconds`);
}
