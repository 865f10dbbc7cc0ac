import { DrizzleQueryError } from 'drizzle-orm/errors';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isDatabaseUnavailable } from '../../db/connection-errors.ts';
import { BatchDeadlineError } from '../batcher.ts';
import { PROBLEM, type ProblemCode } from './problem-codes.ts';

export type FieldError = { field: string; message: string };

/** An error that knows how it should look to an API client (RFC 9457 problem details). */
export class ProblemError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ProblemCode,
    message: string,
    readonly errors: FieldError[] = [],
    /** Sent as Retry-After: when a refused client may try again (rate limits, shed load). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ProblemError';
  }
}

/**
 * The body of every refusal (the socket tier's upgrade refusals use it too, with their own codes).
 * `requestId` is the id in the request's log lines (and its x-request-id header): what a user quotes to support. */
export function problemBody(
  status: number,
  code: string,
  detail: string,
  errors: FieldError[] = [],
  requestId?: string,
) {
  return {
    type: `https://carecall.dev/problems/${code}`,
    title: code.replace(/_/g, ' '),
    status,
    code,
    detail,
    ...(errors.length ? { errors } : {}),
    ...(requestId ? { requestId } : {}),
  };
}

export function problemResponse(c: Context, err: ProblemError) {
  const requestId = requestIdOf(c);
  if (err.retryAfterSeconds !== undefined)
    c.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
  return c.body(
    JSON.stringify(problemBody(err.status, err.code, err.message, err.errors, requestId)),
    err.status,
    {
      'content-type': 'application/problem+json',
    },
  );
}

/** The id the request-id middleware gave this request, if it ran. */
export function requestIdOf(c: Context): string | undefined {
  const id = (c.get as (key: string) => unknown)('requestId');
  return typeof id === 'string' ? id : undefined;
}

/**
 * What may be logged about an unexpected error. Database errors are reduced to their class,
 * SQLSTATE and constraint: drizzle's DrizzleQueryError puts the query's parameters (which can be
 * PHI, e.g. questionnaire answers) into its message and stack, and PostgreSQL's detail quotes
 * row values.
 */
export function loggableError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { name: typeof err };
  const cause = (err as { cause?: { code?: unknown; constraint_name?: unknown; constraint?: unknown } })
    .cause;
  const code = (err as { code?: unknown }).code ?? cause?.code;
  const drizzle = err instanceof DrizzleQueryError;
  const isDb =
    drizzle || err.name === 'PostgresError' || (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code));
  if (isDb)
    return {
      name: drizzle ? 'DrizzleQueryError' : err.name,
      sqlState: code,
      constraint:
        cause?.constraint_name ?? cause?.constraint ?? (err as { constraint_name?: unknown }).constraint_name,
    };
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
  return new ProblemError(
    503,
    PROBLEM.databaseUnavailable,
    `the database is unavailable; retry in ${DATABASE_RETRY_AFTER_SECONDS} seconds`,
  );
}
