/**
 * Which database errors mean "the database cannot be reached right now" (retry later) rather than
 * "this request is wrong" or "a bug". They reach callers directly from postgres-js, or wrapped by
 * drizzle (DrizzleQueryError, the driver's error as `cause`), so the checks walk the cause chain.
 */

/** postgres-js's own codes for a connection whose socket closed, or that was ended or never opened. */
const DRIVER_CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
]);

/** Socket and name-resolution errors (Node's errno codes) that postgres-js passes on as they are. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs PostgreSQL sends when it cannot serve the session at all: class 08 (connection
 * exception), admin/crash shutdown and "cannot connect now" (starting up, shutting down, in
 * recovery), and too many connections.
 */
const UNAVAILABLE_SQLSTATES = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;

/** A query (or a transaction phase) that did not finish within the configured deadline. */
export class DatabaseDeadlineError extends Error {
  readonly code = 'DATABASE_DEADLINE';
  constructor(readonly ms: number) {
    super(`the database did not answer within ${ms} ms`);
    this.name = 'DatabaseDeadlineError';
  }
}

function* causes(err: unknown) {
  for (
    let e: unknown = err, depth = 0;
    e && typeof e === 'object' && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  )
    yield e;
}

const codeOf = (e: object) => (e as { code?: unknown }).code;

/**
 * The error itself (not a cause) says this query's connection is gone: its socket closed or errored
 * (postgres-js then closes it in the same tick), or it was terminated. Used to stop using that
 * connection; a server error such as 57P01 arrives first as a notice and then as a closed socket.
 */
export function isConnectionGone(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const code = codeOf(err);
  return (
    typeof code === 'string' &&
    code !== 'CONNECT_TIMEOUT' &&
    (DRIVER_CONNECTION_CODES.has(code) || SOCKET_CODES.has(code))
  );
}

const FROM_POSTGRES = Symbol('carecall.fromPostgres');

/**
 * Marks an error as raised by our PostgreSQL client, so that a socket error of another client
 * (Redis, SMTP) or an embedded PGlite error with a similar code is never taken for a database outage.
 */
export function markFromPostgres<E>(err: E): E {
  if (err && typeof err === 'object' && !Object.isFrozen(err))
    Object.defineProperty(err, FROM_POSTGRES, { value: true, configurable: true });
  return err;
}

/** The database is unreachable, refusing sessions, or too slow to answer: the request may be retried later. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (const e of causes(err)) {
    if (e instanceof DatabaseDeadlineError) return true;
    const code = codeOf(e);
    if (typeof code !== 'string') continue;
    // postgres-js's own codes cannot come from anything else; the others only count if postgres-js raised them.
    if (DRIVER_CONNECTION_CODES.has(code)) return true;
    if (
      (e as { [FROM_POSTGRES]?: boolean })[FROM_POSTGRES] &&
      (SOCKET_CODES.has(code) || UNAVAILABLE_SQLSTATES.test(code))
    )
      return true;
  }
  return false;
}

/** The first error code along the cause chain (SQLSTATE, driver or errno code), for a log line without details. */
export function errorCode(err: unknown): string | undefined {
  for (const e of causes(err)) {
    const code = codeOf(e);
    if (typeof code === 'string') return code;
  }
  return err instanceof Error ? err.name : undefined;
}
