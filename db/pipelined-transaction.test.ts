import { createServer, connect, type Server } from 'node:net';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, openTestEngine } from '../test/helpers/engines.ts';
import { createTestDatabase } from '../test/helpers/pg.ts';
import { openDb, type DbHandle } from './client.ts';
import { DatabaseDeadlineError, isDatabaseUnavailable } from './connection-errors.ts';
import { pipelinedTransaction } from './pipelined-transaction.ts';
import { rowsOf } from './rows.ts';

/** The SQLSTATE of a failure, also when drizzle wrapped the driver's error (as `cause`). */
const sqlState = (err: unknown): unknown =>
  err && typeof err === 'object'
    ? ((err as { code?: unknown }).code ?? sqlState((err as { cause?: unknown }).cause))
    : undefined;

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => e,
  );

describe.each(ENGINES)('pipelined transaction on %s', (engine) => {
  let t: Awaited<ReturnType<typeof openTestEngine>>;
  const count = async () =>
    Number(rowsOf<{ n: number }>(await t.handle.db.execute(sql`select count(*)::int as n from probe`))[0]!.n);

  beforeAll(async () => {
    t = await openTestEngine(engine);
    await t.handle.db.execute(sql`create table probe (id int primary key, note text)`);
  });
  afterAll(() => t?.close());

  it('runs the statements in order, each seeing the ones before, and commits them together', async () => {
    const tx = pipelinedTransaction(t.handle.db)([
      sql`insert into probe values (1, ${'one'})`,
      sql`update probe set note = note || ${'+'} where id = 1 returning note`,
      sql`select count(*)::int as n from probe`,
    ]);
    await tx.committed;
    expect(await tx.results[1]).toEqual([{ note: 'one+' }]);
    expect(await tx.results[2]).toEqual([{ n: 1 }]);
    expect(await count()).toBe(1);
  });

  it('a failing statement rolls everything back: committed and the later results reject with its error; the next one runs', async () => {
    const tx = pipelinedTransaction(t.handle.db)([
      sql`insert into probe values (2, 'two')`,
      sql`insert into probe values (1, 'taken')`,
      sql`insert into probe values (3, 'three')`,
    ]);
    const err = await outcome(tx.committed);
    expect(sqlState(err)).toBe('23505');
    expect(await tx.results[0]).toEqual([]);
    expect(sqlState(await outcome(tx.results[1]!))).toBe('23505');
    expect(sqlState(await outcome(tx.results[2]!))).toBe('23505');
    expect(await count()).toBe(1);
    const next = pipelinedTransaction(t.handle.db)([sql`insert into probe values (4, 'four')`]);
    await next.committed;
    expect(await count()).toBe(2);
  });
});

/** A TCP hop to PostgreSQL whose answers can be held back `delayMs` each (a slow link). */
async function slowLink(): Promise<{ port: number; delayMs: number; close: () => Promise<void> }> {
  const link = { port: 0, delayMs: 0, close: async () => {} };
  const server: Server = createServer((client) => {
    const upstream = connect(5432, '127.0.0.1');
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      if (link.delayMs) setTimeout(() => client.write(d), link.delayMs);
      else client.write(d);
    });
    const end = () => (client.destroy(), upstream.destroy());
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  link.port = (server.address() as { port: number }).port;
  link.close = () => new Promise((r) => server.close(() => r()));
  return link;
}

describe('pipelined transaction on PostgreSQL', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let admin: postgres.Sql;
  let handle: DbHandle;
  let link: Awaited<ReturnType<typeof slowLink>>;
  const DELAY_MS = 150;
  const DEADLINE_MS = 1500;

  beforeAll(async () => {
    pg = await createTestDatabase();
    admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    await admin`create table probe (id int primary key)`;
    link = await slowLink();
    const url = new URL(pg.url);
    url.port = String(link.port);
    // One connection: every transaction here goes over the same one.
    handle = await openDb({ databaseUrl: url.toString(), maxConnections: 1, queryTimeoutMs: DEADLINE_MS });
  });
  afterAll(async () => {
    await handle?.close();
    await link?.close();
    await admin?.end();
    await pg?.drop();
  });

  const statements = (id: number) => [
    sql`insert into probe values (${id})`,
    sql`select count(*)::int as n from probe where id <= ${id}`,
    sql`delete from probe where id = ${id}`,
  ];

  it('costs one round trip: BEGIN, the statements and COMMIT travel together (db.transaction: one each)', async () => {
    // Warm: the connection has prepared these statements (a first use costs a describe round trip).
    await pipelinedTransaction(handle.db)(statements(1)).committed;
    await handle.db.transaction(async (tx) => {
      for (const s of statements(2)) await tx.execute(s);
    });
    link.delayMs = DELAY_MS;
    try {
      let started = performance.now();
      await pipelinedTransaction(handle.db)(statements(3)).committed;
      const pipelined = performance.now() - started;
      started = performance.now();
      await handle.db.transaction(async (tx) => {
        for (const s of statements(4)) await tx.execute(s);
      });
      const stepwise = performance.now() - started;
      expect(stepwise).toBeGreaterThanOrEqual(5 * DELAY_MS);
      expect(pipelined).toBeLessThan(2.5 * DELAY_MS);
    } finally {
      link.delayMs = 0;
    }
  });

  it('a lost connection fails the transaction with a connection error, nothing escapes, and the pool goes on serving', async () => {
    const escaped: unknown[] = [];
    const note = (err: unknown) => void escaped.push(err);
    process.on('uncaughtException', note);
    process.on('unhandledRejection', note);
    try {
      const tx = pipelinedTransaction(handle.db)([
        sql`insert into probe values (10)`,
        sql`select pg_backend_pid() as pid`,
        sql`select pg_sleep(5)`,
      ]);
      const [{ pid }] = (await tx.results[1]) as [{ pid: number }];
      await admin`select pg_terminate_backend(${pid})`;
      expect(isDatabaseUnavailable(await outcome(tx.committed))).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      expect(escaped).toEqual([]);
      expect((await admin`select count(*)::int as n from probe where id = 10`)[0]!.n).toBe(0);
      const next = pipelinedTransaction(handle.db)([sql`select 7 as v`]);
      expect(await next.results[0]).toEqual([{ v: 7 }]);
      await next.committed;
    } finally {
      process.off('uncaughtException', note);
      process.off('unhandledRejection', note);
    }
  });

  it('a transaction slower than the deadline answers DatabaseDeadlineError when it passes', async () => {
    const started = performance.now();
    const err = await outcome(pipelinedTransaction(handle.db)([sql`select pg_sleep(3)`]).committed);
    expect(err).toBeInstanceOf(DatabaseDeadlineError);
    expect(performance.now() - started).toBeLessThan(DEADLINE_MS + 700);
    // The server ends the statement (statement_timeout); the connection serves again.
    await new Promise((r) => setTimeout(r, 1500));
    await pipelinedTransaction(handle.db)([sql`select 1`]).committed;
  });
});
