import type { Sql } from 'postgres';

export type RenewingPoolOptions = {
  /** How long a replaced pool may finish the work it has before it is cut off. */
  graceSeconds: number;
  /** At most one replacement this often (during an outage every connection attempt fails and closes). */
  minIntervalMs?: number;
};

/**
 * A postgres-js pool that is replaced by a fresh one after it lost a connection.
 *
 * Why: in postgres-js 3.4.9 (the newest release) a connection object can be left unable to send
 * anything again. Small writes wait for a setImmediate flush; when the socket closes first, the close
 * handler cancels that flush but leaves its handle set (nextWriteTimer) and keeps the unsent bytes,
 * so every later write on that object, the startup message of each reconnect included, is buffered
 * and never sent. Each query handed to it then waits for connect_timeout and fails, over and over,
 * until the junk reaches 1 KiB and is flushed as garbage: after a database restart, some requests
 * waited ~30 s or never answered. A pool keeps its connection objects for life, so from outside the
 * driver the fix is to stop using a pool once one of its connections closed: the next query opens a
 * new pool, and the old one is ended (what it is running finishes, or is cut after the grace period).
 *
 * Drizzle sets value parsers on the client's options once, at construction: they are copied to each
 * new pool. A connection reaching its max_lifetime also closes, so a pool is replaced that often too,
 * which is what the lifetime is for.
 */
export function renewingPool(
  open: (onClose: () => void) => Sql,
  opts: RenewingPoolOptions,
): { sql: Sql; generations: () => number; end: (o?: { timeout?: number }) => Promise<void> } {
  const minInterval = opts.minIntervalMs ?? 250;
  const retiring = new Set<Promise<void>>();
  let generations = 0;
  let lost = false;
  let renewedAt = 0;
  let ended = false;
  let current = fresh();

  function fresh(): Sql {
    generations++;
    const sql: Sql = open(() => {
      if (sql === current) lost = true;
    });
    return sql;
  }

  function live(): Sql {
    if (lost && !ended && performance.now() - renewedAt >= minInterval) {
      const old = current;
      lost = false;
      renewedAt = performance.now();
      current = fresh();
      Object.assign(current.options.parsers, old.options.parsers);
      Object.assign(current.options.serializers, old.options.serializers);
      const done = old.end({ timeout: opts.graceSeconds }).catch(() => {});
      retiring.add(done);
      void done.finally(() => retiring.delete(done));
    }
    return current;
  }

  const sql = new Proxy(function pool() {} as unknown as Sql, {
    apply: (_target, _this, args: unknown[]) => (live() as unknown as (...a: unknown[]) => unknown)(...args),
    get(_target, prop) {
      const target = live();
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });

  return {
    sql,
    generations: () => generations,
    end: async (o = {}) => {
      ended = true;
      await Promise.all([current.end(o), ...retiring]);
    },
  };
}
