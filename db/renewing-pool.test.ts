import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import net from 'node:net';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/helpers/pg.ts';
import { renewingPool } from './renewing-pool.ts';
import { rowsOf } from './rows.ts';

/**
 * Sockets for postgres-js of which the first is reported closed right after the driver queued its
 * startup message and before its setImmediate flushed it: the state a connection is left in when
 * its socket closes while a small write is pending (in production: a database going away while
 * queries are being sent). postgres-js then never sends on that connection object again.
 */
function socketsWithOneEarlyClose(url: string) {
  const { hostname, port } = new URL(url);
  let made = 0;
  return () => {
    const socket = net.connect(Number(port), hostname);
    if (made++ === 0) {
      // The driver calls setKeepAlive in connected(), just before it queues the startup message.
      const setKeepAlive = socket.setKeepAlive.bind(socket);
      socket.setKeepAlive = (...args: Parameters<net.Socket['setKeepAlive']>) => {
        queueMicrotask(() => {
          socket.emit('close', false);
          socket.destroy();
        });
        return setKeepAlive(...args);
      };
    }
    return socket;
  };
}

const outcome = (q: Promise<unknown>) =>
  q.then(
    () => 'ok',
    (e: { code?: string }) => e.code ?? 'error',
  );

describe('renewingPool', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    pg = await createTestDatabase();
  });
  afterAll(async () => {
    await pg.drop();
  });

  const options = (socket: () => net.Socket, onclose?: () => void) => ({
    max: 1,
    fetch_types: false,
    connect_timeout: 1,
    onnotice: () => {},
    socket,
    ...(onclose ? { onclose } : {}),
  });

  it('postgres-js keeps failing on a connection whose socket closed with a write pending (the defect; when this fails, upstream fixed it)', async () => {
    const client = postgres(pg.url, options(socketsWithOneEarlyClose(pg.url)));
    try {
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await outcome(client`select 1`));
      expect(results).toEqual(['CONNECT_TIMEOUT', 'CONNECT_TIMEOUT', 'CONNECT_TIMEOUT']);
    } finally {
      await client.end({ timeout: 0 });
    }
  });

  it('replaces such a pool: queries answer again after at most two connect timeouts', async () => {
    const sockets = socketsWithOneEarlyClose(pg.url);
    const pool = renewingPool((onclose) => postgres(pg.url, options(sockets, onclose)), {
      graceSeconds: 1,
      minIntervalMs: 0,
    });
    try {
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await outcome(pool.sql`select 1`));
      expect(results.slice(2)).toEqual(['ok', 'ok']);
      expect(pool.generations()).toBeGreaterThan(1);
    } finally {
      await pool.end({ timeout: 0 });
    }
  });

  it('a replacement keeps the value parsers drizzle set on the first pool, and replaced pools are ended', async () => {
    const pool = renewingPool(
      (onclose) => postgres(pg.url, { max: 1, fetch_types: false, onnotice: () => {}, onclose }),
      { graceSeconds: 1, minIntervalMs: 0 },
    );
    const db = drizzle(pool.sql);
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const read = async () =>
        rowsOf<{ at: unknown; pid: number }>(
          await db.execute(sql`select '2030-01-01T00:00:00Z'::timestamptz as at, pg_backend_pid() as pid`),
        )[0]!;
      const before = await read();
      await admin`select pg_terminate_backend(${before.pid})`;
      // The pool learns of the close when the socket closes; the next query goes to a new pool.
      await expect
        .poll(async () => (await outcome(read())) === 'ok' && pool.generations() > 1, { timeout: 5000 })
        .toBe(true);
      const after = await read();
      expect(after.pid).not.toBe(before.pid);
      // drizzle reads timestamps as text (its transparent parser), not postgres-js's Date.
      expect(typeof before.at).toBe('string');
      expect(after.at).toEqual(before.at);
      const sessions = async () =>
        Number(
          (
            await admin`select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`
          )[0]!.n,
        );
      await expect.poll(sessions, { timeout: 5000 }).toBe(1);
    } finally {
      await admin.end();
      await pool.end({ timeout: 0 });
    }
  });
});
