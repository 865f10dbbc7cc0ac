import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Sql } from 'postgres';
import type { Db } from './client.ts';
import { DatabaseDeadlineError, isConnectionGone, markFromPostgres } from './connection-errors.ts';
import { MAX_PREPARED_PARAMS } from './prepared-client.ts';
import { rowsOf } from './rows.ts';

/**
 * A transaction sent in one go: BEGIN, the statements and COMMIT written together on one
 * connection, so it costs one round trip (and one turn of the caller's event loop) instead of one
 * per step. Only for work whose COMMIT needs no decision from the statements' results: a statement
 * that fails aborts the transaction, PostgreSQL answers the COMMIT with a rollback, and `committed`
 * rejects with that statement's error. Statements whose outcome depends on what they find must
 * decide in SQL (insert nothing unless ...) and report what they did.
 *
 * `results` settle as each statement completes, before the COMMIT does: a caller may act on them
 * early (start the next transaction) but must treat nothing as durable before `committed`.
 *
 * Unlike db.transaction, a caller answered with DatabaseDeadlineError cannot be sure the work was
 * rolled back (its COMMIT was sent with it): only for writes a retry finds (idempotent by key).
 */
export type Pipelined = { results: Promise<unknown[]>[]; committed: Promise<void> };
export type PipelinedTransaction = (statements: readonly SQL[]) => Pipelined;

const runners = new WeakMap<Db, PipelinedTransaction>();

/** The pipelined transaction of `db`: one round trip on PostgreSQL, one db.transaction elsewhere (PGlite). */
export function pipelinedTransaction(db: Db): PipelinedTransaction {
  return runners.get(db) ?? ((statements) => sequentialTransaction(db, statements));
}

/** Called where the pool is opened: statements of `db` go through `pool` in one write. */
export function registerPipelinedTransaction(db: Db, pool: Sql, deadlineMs: number): void {
  const dialect = new PgDialect();
  runners.set(db, (statements) =>
    onReservedConnection(
      pool,
      statements.map((s) => dialect.sqlToQuery(s)),
      deadlineMs,
    ),
  );
}

/** Where there are no round trips to save (embedded PGlite): the same contract on db.transaction. */
function sequentialTransaction(db: Db, statements: readonly SQL[]): Pipelined {
  const settlers = statements.map(() => deferred<unknown[]>());
  const committed = db.transaction(async (tx) => {
    for (const [i, statement] of statements.entries()) {
      try {
        settlers[i]!.resolve(rowsOf<unknown>(await tx.execute(statement)));
      } catch (err) {
        settlers.slice(i).forEach((s) => s.reject(err));
        throw err;
      }
    }
  });
  // As for the results: a caller that failed on a statement's error need not wait for the rollback.
  committed.catch(() => {});
  return { results: settlers.map((s) => s.promise), committed };
}

type Query = { sql: string; params: unknown[] };
type DriverQuery = Promise<unknown> & { execute(): DriverQuery };
type Unsafe = (query: string, params: unknown[], options: { prepare: boolean }) => DriverQuery;

function onReservedConnection(pool: Sql, queries: Query[], deadlineMs: number): Pipelined {
  const settlers = queries.map(() => deferred<unknown[]>());
  const done = deferred<void>();
  let timer: NodeJS.Timeout | undefined;
  let answered = false;
  const answer = (err: unknown) => {
    clearTimeout(timer);
    if (answered) return;
    answered = true;
    if (err === undefined) return done.resolve();
    markFromPostgres(err);
    settlers.forEach((s) => s.reject(err));
    done.reject(err);
  };
  if (deadlineMs > 0) timer = setTimeout(() => answer(new DatabaseDeadlineError(deadlineMs)), deadlineMs);

  pool.reserve().then(
    (connection) => {
      // Too late: nobody waits for this work any more, so it is not sent at all.
      if (answered) return connection.release();
      const unsafe = connection.unsafe.bind(connection) as unknown as Unsafe;
      // Sent in this order, in this turn: postgres-js writes them out together.
      const begin = unsafe('begin', [], { prepare: false }).execute();
      const sent = queries.map((q) =>
        unsafe(q.sql, q.params, { prepare: q.params.length <= MAX_PREPARED_PARAMS }).execute(),
      );
      const commit = unsafe('commit', [], { prepare: false }).execute();
      const all = [begin, ...sent, commit];
      // Statements after a failed one fail only because the transaction is aborted: they get the cause.
      let cause: unknown;
      sent.forEach((q, i) =>
        q.then(
          (rows) => settlers[i]!.resolve(rowsOf<unknown>(rows)),
          (err: unknown) => settlers[i]!.reject(markFromPostgres((cause ??= err))),
        ),
      );
      void Promise.allSettled(all).then((outcomes) => {
        const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
        // A connection whose socket closed must never be handed back: the pool would write on it.
        if (!failures.some(isConnectionGone)) connection.release();
        const last = outcomes.at(-1)!;
        const rolledBack =
          last.status === 'fulfilled' && (last.value as { command?: string }).command !== 'COMMIT';
        // The first failure is the cause; the later statements only saw an aborted transaction.
        if (failures.length) return answer(failures[0]);
        if (rolledBack) return answer(new Error('pipelined transaction: COMMIT answered with a rollback'));
        answer(undefined);
      });
    },
    (err: unknown) => answer(err),
  );
  return { results: settlers.map((s) => s.promise), committed: done.promise };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  // A caller may look only at `committed`; a result nobody awaits must not become an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}
