import type { Sql } from 'postgres';
import { DatabaseDeadlineError, isConnectionGone, markFromPostgres } from './connection-errors.ts';

/**
 * Wraps a postgres-js client so that a lost connection or a silent database costs the caller a
 * prompt, typed error, never the process and never an unbounded wait.
 *
 * The process: postgres-js (3.4.9, the newest release) defers small writes to a setImmediate that
 * dereferences the connection's socket, which its close handler has set to null. A write made on a
 * connection after its socket closed therefore throws a TypeError from the event loop, which ends
 * the process (porsager/postgres#1066, #1154, #1208, open). Two such writes are ours to prevent: a
 * query the transaction callback sends after the loss, and the ROLLBACK (or COMMIT) postgres-js
 * itself sends on the transaction's connection when the callback settles. So, per transaction:
 *   - every query is watched: postgres-js rejects a dead connection's queries synchronously from its
 *     socket handlers, before any promise reaction runs, so the guard knows of the loss before the
 *     callback can react to it (its begin() rejecting tells the guard when no query was in flight);
 *   - once the connection is gone, the transaction's queries fail with that error without reaching
 *     the driver, and the callback's outcome is not handed back to postgres-js (it would roll back
 *     on the dead socket): the driver's transaction scope is left pending, unreferenced, and is
 *     garbage-collected; the server has rolled the transaction back already;
 *   - the caller gets the error at once.
 * Residual case, by construction rare: a callback that awaits something other than its own
 * transaction's queries, which settles in the same event-loop turn as the connection closes, and
 * then sends a query before the driver's begin() rejection reaches the guard. Transactions here await
 * only their own queries.
 *
 * The wait: each query gets a deadline from when it is handed to the pool (so it includes waiting for
 * a free connection); a transaction also gets one for BEGIN (and the wait for a connection) and one
 * for COMMIT. When it passes, the caller gets a DatabaseDeadlineError; the work itself is left to
 * finish or fail (the server's statement_timeout, set to the same value, ends a slow statement), and a
 * transaction whose caller was answered is rolled back, never committed.
 *
 * Every error raised through this client is marked as PostgreSQL's (see isDatabaseUnavailable).
 */
export function guardedClient<T extends Sql>(client: T, deadlineMs: number): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'unsafe')
        return (...args: Parameters<Unsafe>) => watch(callUnsafe(target, args), deadlineMs);
      if (prop === 'begin') return (...args: unknown[]) => guardedBegin(target, deadlineMs, args);
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The parts of a postgres-js Query this relies on (instance fields it calls; see postgres/src/query.js). */
type DriverQuery = Promise<unknown> & {
  handler: (q: DriverQuery) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
};
type Unsafe = (query: string, params?: unknown[], options?: object) => unknown;
type Scope = (sql: Sql) => unknown;

const callUnsafe = (sql: Sql, args: Parameters<Unsafe>) =>
  (sql.unsafe as unknown as Unsafe).apply(sql, args) as DriverQuery;

/** What one transaction knows about its connection and its caller. */
class TxGuard {
  /** The error that ended the connection, once it is gone. */
  lost: unknown;
  /** Set once the caller has been answered early (deadline, loss): the work must not commit. */
  abandoned: unknown;

  constructor(private readonly answer: (err: unknown) => void) {}

  lose(err: unknown) {
    if (this.lost === undefined) this.lost = err;
    this.abandon(err);
  }

  abandon(err: unknown) {
    if (this.abandoned === undefined) this.abandoned = err;
    this.answer(err);
  }
}

function watch(q: DriverQuery, deadlineMs: number, guard?: TxGuard): DriverQuery {
  const { handler, resolve, reject } = q;
  let timer: NodeJS.Timeout | undefined;
  q.resolve = (value) => {
    clearTimeout(timer);
    resolve(value);
  };
  q.reject = (err) => {
    clearTimeout(timer);
    markFromPostgres(err);
    if (guard && isConnectionGone(err)) guard.lose(err);
    reject(err);
  };
  q.handler = (self) => {
    if (guard?.lost !== undefined) return q.reject(guard.lost);
    if (deadlineMs > 0) {
      timer = setTimeout(() => {
        const err = new DatabaseDeadlineError(deadlineMs);
        guard?.abandon(err);
        reject(err);
      }, deadlineMs);
    }
    return handler(self);
  };
  return q;
}

function guardedBegin(target: Sql, deadlineMs: number, args: unknown[]): Promise<unknown> {
  const fn = args.pop() as Scope;
  return new Promise((resolve, reject) => {
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (settle: (v: unknown) => void, v: unknown) => {
      clearTimeout(timer);
      if (!answered) ((answered = true), settle(v));
    };
    const guard = new TxGuard((err) => finish(reject, err));
    const phaseDeadline = () => {
      clearTimeout(timer);
      if (deadlineMs > 0)
        timer = setTimeout(() => guard.abandon(new DatabaseDeadlineError(deadlineMs)), deadlineMs);
    };
    phaseDeadline();
    const begin = target.begin as unknown as (...a: unknown[]) => Promise<unknown>;
    begin
      .call(target, ...args, async (inner: Sql) => {
        clearTimeout(timer);
        // The caller gave up while BEGIN waited for a connection: roll back at once.
        if (guard.abandoned !== undefined) throw guard.abandoned;
        const result = await guardedScope(fn, inner, guard, deadlineMs);
        phaseDeadline();
        return result;
      })
      .then(
        (value) => finish(resolve, value),
        (err: unknown) => {
          markFromPostgres(err);
          if (isConnectionGone(err)) guard.lose(err);
          finish(reject, err);
        },
      );
  });
}

/** Runs a transaction (or savepoint) callback; what it settles with reaches the driver only while the connection lives. */
async function guardedScope(fn: Scope, inner: Sql, guard: TxGuard, deadlineMs: number): Promise<unknown> {
  let result: unknown;
  try {
    result = await fn(innerClient(inner, guard, deadlineMs));
  } catch (err) {
    if (guard.lost !== undefined) return forever();
    throw err;
  }
  if (guard.lost !== undefined) return forever();
  if (guard.abandoned !== undefined) throw guard.abandoned;
  return result;
}

function innerClient(inner: Sql, guard: TxGuard, deadlineMs: number): Sql {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'unsafe')
        return (...args: Parameters<Unsafe>) => watch(callUnsafe(target, args), deadlineMs, guard);
      if (prop === 'savepoint') {
        return (...args: unknown[]) => {
          if (guard.lost !== undefined) return Promise.reject(guard.lost);
          const fn = args.pop() as Scope;
          const savepoint = (target as unknown as { savepoint: (...a: unknown[]) => Promise<unknown> })
            .savepoint;
          return savepoint.call(target, ...args, (sp: Sql) => guardedScope(fn, sp, guard, deadlineMs));
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A promise that never settles; a fresh one each time, so that nothing accumulates on it and it can be collected. */
const forever = () => new Promise<never>(() => {});
