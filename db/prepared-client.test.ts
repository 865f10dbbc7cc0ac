import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/helpers/pg.ts';
import { openDb, type DbHandle } from './client.ts';
import { rowsOf } from './rows.ts';

/** Named statements this session holds (postgres-js names its prepared statements). */
const preparedHere = sql`select count(*)::int as n from pg_prepared_statements where statement like '%carecall_probe%'`;

describe('prepared statements through drizzle on postgres-js', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let handle: DbHandle;
  beforeAll(async () => {
    pg = await createTestDatabase();
    // One connection, so every query below meets the statements the earlier ones prepared.
    handle = await openDb({ databaseUrl: pg.url, maxConnections: 1 });
  });
  afterAll(async () => {
    await handle.close();
    await pg.drop();
  });

  it('prepares a query with parameters once per connection and reuses it', async () => {
    for (let i = 0; i < 3; i++) {
      const [row] = rowsOf<{ v: number }>(
        await handle.db.execute(sql`select ${i}::int + 1 as v /* carecall_probe */`),
      );
      expect(row!.v).toBe(i + 1);
    }
    expect(rowsOf<{ n: number }>(await handle.db.execute(preparedHere))[0]!.n).toBe(1);
  });

  it('prepares inside transactions and savepoints too, and they commit and roll back as usual', async () => {
    await handle.db.execute(sql`create table probe (v int)`);
    await handle.db.transaction(async (tx) => {
      await tx.execute(sql`insert into probe values (${1}) /* carecall_probe tx */`);
      await expect(
        tx.transaction(async (inner) => {
          await inner.execute(sql`insert into probe values (${2}) /* carecall_probe savepoint */`);
          throw new Error('roll the savepoint back');
        }),
      ).rejects.toThrow('roll the savepoint back');
    });
    expect(rowsOf<{ v: number }>(await handle.db.execute(sql`select v from probe`)).map((r) => r.v)).toEqual([
      1,
    ]);
    expect(rowsOf<{ n: number }>(await handle.db.execute(preparedHere))[0]!.n).toBe(3);
  });

  it('leaves queries with many parameters unprepared (one text per row count would pile up)', async () => {
    const values = Array.from({ length: 40 }, (_, i) => sql`(${i})`);
    await handle.db.execute(
      sql`insert into probe values ${sql.join(values, sql`, `)} /* carecall_probe many */`,
    );
    expect(
      rowsOf<{ n: number }>(await handle.db.execute(sql`select count(*)::int as n from probe`))[0]!.n,
    ).toBe(41);
    expect(rowsOf<{ n: number }>(await handle.db.execute(preparedHere))[0]!.n).toBe(3);
  });
});
