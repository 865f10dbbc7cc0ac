import type { Sql } from 'postgres';

/** Queries with more parameters than this (multi-row inserts, long IN lists) stay unnamed. */
export const MAX_PREPARED_PARAMS = 32;

type Unsafe = (query: string, params?: unknown[], options?: { prepare?: boolean }) => unknown;

/**
 * Drizzle hands postgres-js every query as unprepared; postgres-js then spends two round trips on
 * each query that has parameters (Parse+Describe, wait, Bind+Execute) and PostgreSQL plans it
 * anew every time. This client lets postgres-js prepare them instead: one round trip, and the
 * server reuses the parsed statement (postgres-js keeps one named statement per query text and
 * parameter types on each connection, dropped when the connection is recycled).
 *
 * Only queries with few parameters are prepared, because each distinct text is kept on the
 * connection: a multi-row insert has a different text for every row count. Transactions and
 * savepoints hand drizzle a fresh client, so those are wrapped too.
 */
export function preparingClient<T extends Sql>(client: T): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'unsafe') {
        const unsafe = value as Unsafe;
        return (query: string, params: unknown[] = [], options: { prepare?: boolean } = {}) =>
          unsafe.call(target, query, params, { ...options, prepare: params.length <= MAX_PREPARED_PARAMS });
      }
      if (prop === 'begin' || prop === 'savepoint') {
        const open = value as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          const fn = args.pop() as (inner: Sql) => unknown;
          return open.call(target, ...args, (inner: Sql) => fn(preparingClient(inner)));
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
