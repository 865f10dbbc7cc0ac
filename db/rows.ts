/** Rows of a raw `db.execute()` result: postgres-js returns an array, PGlite an object with `rows`. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/**
 * Sends a lazy drizzle query now (drizzle runs a query when it is first awaited) and keeps call
 * order: queries sent this way inside a transaction are pipelined and run in the order sent.
 */
export const sendQuery = <T>(query: PromiseLike<T>): Promise<T> => query.then((x) => x) as Promise<T>;
