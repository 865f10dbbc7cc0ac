import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Sql } from 'postgres';
import type { Db } from './client.ts';
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

/**
 * Called where the database is opened: transactions of `db` go over `connection`, a client of ONE
 * connection (max: 1) that nothing else uses. Its queries run in the order sent, so a transaction
 * sent in one go is BEGIN..COMMIT and nothing else, and the next one queues behind it in
 * PostgreSQL: sent while this one commits, it starts the moment the COMMIT is done. (A pool's
 * reserve() would do without a connection of its own, but in postgres-js 3.4.9 with fetch_types
 * off it never answers when it has to open the connection: porsager/postgres#751, #1219.)
 */
export function registerPipelinedTransaction(db: Db, connection: Sql): void {
  const dialect = new PgDialect();
  runners.set(db, (statements) =>
    inOneWrite(
      connection,
      statements.map((s) => dialect.sqlToQuery(s)),
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

function inOneWrite(connection: Sql, queries: Query[]): Pipelined {
  const unsafe = connection.unsafe.bind(connection) as unknown as Unsafe;
  // Sent in this order, in this turn: postgres-js writes them out together.
  const begin = unsafe('begin', [], { prepare: false }).execute();
  const sent = queries.map((q) =>
    unsafe(q.sql, q.params, { prepare: q.params.length <= MAX_PREPARED_PARAMS }).execute(),
  );
  const commit = unsafe('commit', [], { prepare: false }).execute();
  // Statements after a failed one fail only because the transaction is aborted: they get the cause.
  let cause: unknown;
  const results = [begin, ...sent].map((q) =>
    q.then(
      (rows) => rowsOf<unknown>(rows),
      (err: unknown) => Promise.reject((cause ??= err)),
    ),
  );
  const committed = Promise.allSettled([...results, commit]).then((outcomes) => {
    if (cause !== undefined) throw cause;
    const last = outcomes.at(-1)!;
    if (last.status === 'rejected') throw last.reason;
    // PostgreSQL answers COMMIT with ROLLBACK when the transaction failed; a failure says why above.
    if ((last.value as { command?: string }).command !== 'COMMIT')
      throw new Error('pipelined transaction: COMMIT answered with a rollback');
  });
  const [, ...statementResults] = results;
  for (const p of [...results, committed]) p.catch(() => {});
  return { results: statementResults, committed };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  // A caller may look only at `committed`; a result nobody awaits must not become an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}
