import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/helpers/pg.ts';
import { openDb, type DbHandle } from './client.ts';
import { DatabaseDeadlineError, isDatabaseUnavailable } from './connection-errors.ts';
import { rowsOf } from './rows.ts';

const DEADLINE_MS = 1500;

/** Errors that escaped to the event loop (a driver write on a dead socket, a dropped promise). */
function escapes() {
  const seen: unknown[] = [];
  const note = (err: unknown) => void seen.push(err);
  process.on('uncaughtException', note);
  process.on('unhandledRejection', note);
  return {
    seen,
    stop: () => {
      process.off('uncaughtException', note);
      process.off('unhandledRejection', note);
    },
  };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a transaction on PostgreSQL when its connection is lost or the database is slow', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let handle: DbHandle;
  let admin: postgres.Sql;
  let watch: ReturnType<typeof escapes>;

  beforeAll(async () => {
    pg = await createTestDatabase();
    handle = await openDb({
      databaseUrl: pg.url,
      maxConnections: 2,
      queryTimeoutMs: DEADLINE_MS,
      connectTimeoutSeconds: 2,
    });
    admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    await admin`create table probe (id int primary key)`;
  });
  afterAll(async () => {
    await admin.end();
    await handle.close();
    await pg.drop();
  });
  beforeEach(() => {
    watch = escapes();
  });
  afterEach(async () => {
    await admin`truncate probe`;
    watch.stop();
  });

  const count = async () => Number((await admin`select count(*)::int as n from probe`)[0]!.n);

  /** Runs `body` in a transaction and terminates that transaction's backend once `body` reports its pid. */
  async function terminatedTransaction(
    body: (
      tx: Parameters<Parameters<DbHandle['db']['transaction']>[0]>[0],
      pid: (n: number) => void,
    ) => Promise<unknown>,
  ) {
    let reportPid!: (n: number) => void;
    const pid = new Promise<number>((r) => (reportPid = r));
    const tx = handle.db.transaction((t) => body(t, reportPid));
    tx.catch(() => {});
    await admin`select pg_terminate_backend(${await pid})`;
    // An object, not the promise itself: an async function returning a promise would adopt it.
    return {
      outcome: tx.then(
        () => 'committed',
        (e: unknown) => e,
      ),
    };
  }

  const backendPid = async (tx: Parameters<Parameters<DbHandle['db']['transaction']>[0]>[0]) =>
    rowsOf<{ pid: number }>(await tx.execute(sql`select pg_backend_pid() as pid`))[0]!.pid;

  it('a backend terminated mid-query fails the transaction at once with a connection error, and nothing escapes to the event loop', async () => {
    const started = performance.now();
    const tx = terminatedTransaction(async (t, pid) => {
      await t.execute(sql`insert into probe values (1)`);
      pid(await backendPid(t));
      await t.execute(sql`select pg_sleep(5)`);
    });
    const err = await (await tx).outcome;
    expect(isDatabaseUnavailable(err)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
    // The driver would have written its ROLLBACK on the dead socket in a setImmediate: give it its turn.
    await settle(100);
    expect(watch.seen).toEqual([]);
    expect(await count()).toBe(0);
    // The pool goes on serving.
    expect(rowsOf<{ v: number }>(await handle.db.execute(sql`select 2 as v`))[0]!.v).toBe(2);
  });

  it('a callback that catches the loss and sends more gets the same error, without the driver writing on the dead socket', async () => {
    const afterLoss: unknown[] = [];
    const tx = terminatedTransaction(async (t, pid) => {
      pid(await backendPid(t));
      try {
        await t.execute(sql`select pg_sleep(5)`);
      } catch {
        for (const q of [sql`insert into probe values (2)`, sql`select 1`])
          afterLoss.push(
            await t.execute(q).then(
              () => 'ran',
              (e: unknown) => e,
            ),
          );
        // A nested transaction (a savepoint) on the lost connection is refused too.
        afterLoss.push(
          await t
            .transaction(async (n) => n.execute(sql`select 1`))
            .then(
              () => 'ran',
              (e: unknown) => e,
            ),
        );
      }
    });
    expect(isDatabaseUnavailable(await (await tx).outcome)).toBe(true);
    await settle(100);
    expect(afterLoss).toHaveLength(3);
    for (const outcome of afterLoss) expect(isDatabaseUnavailable(outcome)).toBe(true);
    expect(watch.seen).toEqual([]);
    expect(await count()).toBe(0);
  });

  it('a connection lost while the callback awaits something else: the caller learns at once, the next query is refused', async () => {
    let next: unknown;
    const started = performance.now();
    const tx = terminatedTransaction(async (t, pid) => {
      pid(await backendPid(t));
      await settle(400);
      next = await t.execute(sql`insert into probe values (9)`).then(
        () => 'ran',
        (e: unknown) => e,
      );
    });
    expect(isDatabaseUnavailable(await (await tx).outcome)).toBe(true);
    expect(performance.now() - started).toBeLessThan(400);
    await settle(500);
    expect(isDatabaseUnavailable(next), String(next)).toBe(true);
    expect(watch.seen).toEqual([]);
    expect(await count()).toBe(0);
  });

  it('a statement slower than the deadline answers DatabaseDeadlineError when the deadline passes, and its transaction does not commit', async () => {
    const started = performance.now();
    const err = await handle.db
      .transaction(async (t) => {
        await t.execute(sql`insert into probe values (3)`);
        await t.execute(sql`select pg_sleep(3)`);
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const waited = performance.now() - started;
    expect(err).toBeInstanceOf(DatabaseDeadlineError);
    expect(waited).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(waited).toBeLessThan(DEADLINE_MS + 700);
    // The server ends the statement itself shortly after (statement_timeout), and the transaction rolls back.
    await settle(1500);
    expect(await count()).toBe(0);
    expect(watch.seen).toEqual([]);
  });

  it('a query outside a transaction is bounded the same way', async () => {
    const started = performance.now();
    await expect(handle.db.execute(sql`select pg_sleep(3)`)).rejects.toSatisfy((e) =>
      isDatabaseUnavailable(e),
    );
    expect(performance.now() - started).toBeLessThan(DEADLINE_MS + 700);
    await settle(1500);
  });

  it('BEGIN that waits for a connection past the deadline gives up, and the callback, if it ever runs, does not commit', async () => {
    // Both connections busy for longer than the deadline (the server ends them at deadline + margin).
    const busy = [1, 2].map(() => handle.db.execute(sql`select pg_sleep(2.2)`).catch(() => {}));
    await settle(200);
    let ran = false;
    const started = performance.now();
    const err = await handle.db
      .transaction(async (t) => {
        ran = true;
        await t.execute(sql`insert into probe values (4)`);
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(DatabaseDeadlineError);
    expect(performance.now() - started).toBeLessThan(DEADLINE_MS + 700);
    await Promise.all(busy);
    await settle(1500);
    expect(ran).toBe(false);
    expect(await count()).toBe(0);
    expect(watch.seen).toEqual([]);
  });

  it('ordinary transactions still commit, roll back on their own errors, and nest', async () => {
    await handle.db.transaction(async (t) => {
      await t.execute(sql`insert into probe values (5)`);
      await t.transaction(async (n) => n.execute(sql`insert into probe values (6)`)).catch(() => {});
      await t
        .transaction(async (n) => {
          await n.execute(sql`insert into probe values (7)`);
          throw new Error('undo the savepoint');
        })
        .catch(() => {});
    });
    await expect(
      handle.db.transaction(async (t) => {
        await t.execute(sql`insert into probe values (8)`);
        await t.execute(sql`insert into probe values (8)`);
      }),
    ).rejects.toSatisfy((e) => !isDatabaseUnavailable(e));
    expect((await admin`select id from probe order by id`).map((r) => r.id)).toEqual([5, 6]);
  });
});
