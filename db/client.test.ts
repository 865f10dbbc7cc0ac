import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/helpers/pg.ts';
import { openDb, type DbHandle } from './client.ts';
import { rooms } from './schema/index.ts';

let pg: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  pg = await createTestDatabase();
});
afterAll(async () => {
  await pg.drop();
});

describe.each(['postgres', 'pglite'] as const)('%s', (kind) => {
  let handle: DbHandle;
  const open = () => openDb(kind === 'postgres' ? { databaseUrl: pg.url } : { pgliteDir: 'memory://' });

  beforeAll(async () => {
    handle = await open();
  });
  afterAll(async () => {
    await handle.close();
  });

  it('opens the right engine with migrations applied', async () => {
    expect(handle.kind).toBe(kind);
    await handle.ping();
    const ext = await handle.db.execute(sql`select extname from pg_extension where extname = 'btree_gist'`);
    expect(JSON.stringify(ext)).toContain('btree_gist');
    // Every migration in the journal, the newest included (PGlite runs the same SQL files).
    const journal = JSON.parse(
      readFileSync(new URL('./migrations/meta/_journal.json', import.meta.url), 'utf8'),
    ) as { entries: unknown[] };
    const applied = await handle.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    expect(JSON.stringify(applied)).toContain(`"n":${journal.entries.length}`);
    await handle.db.execute(
      sql`select u.time_zone, f.token_hash from users u left join doctor_calendar_feeds f on f.doctor_id = u.id limit 0`,
    );
    await handle.db.insert(rooms).values({ id: `room-${kind}`, nodeId: 'n1' });
    const [row] = await handle.db
      .select()
      .from(rooms)
      .where(sql`${rooms.id} = ${`room-${kind}`}`);
    expect(row).toMatchObject({ id: `room-${kind}`, nodeId: 'n1', endedAt: null });
  });

  it('rejects bad data with the database error, storing nothing', async () => {
    await expect(handle.db.insert(rooms).values({ id: `room-${kind}`, nodeId: 'dup' })).rejects.toThrow();
    const rows = await handle.db.select().from(rooms);
    expect(rows.filter((r) => r.id === `room-${kind}`)).toHaveLength(1);
  });
});

it('postgres: nodes starting at once migrate once, without errors', async () => {
  const fresh = await createTestDatabase();
  try {
    const handles = await Promise.all([1, 2, 3].map(() => openDb({ databaseUrl: fresh.url })));
    const [h] = handles;
    const journal = JSON.parse(
      readFileSync(new URL('./migrations/meta/_journal.json', import.meta.url), 'utf8'),
    ) as { entries: unknown[] };
    const applied = await h!.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    expect(JSON.stringify(applied)).toContain(`"n":${journal.entries.length}`);
    await Promise.all(handles.map((x) => x.close()));
  } finally {
    await fresh.drop();
  }
});

it('pglite: data persists in its folder across restarts', async () => {
  const dir = `/tmp/carecall-pglite-${process.pid}-${Date.now()}`;
  const a = await openDb({ pgliteDir: dir });
  await a.db.insert(rooms).values({ id: 'persisted', nodeId: 'n' });
  await a.close();
  const b = await openDb({ pgliteDir: dir });
  expect(await b.db.select().from(rooms)).toHaveLength(1);
  await b.close();
  const { rmSync } = await import('node:fs');
  rmSync(dir, { recursive: true, force: true });
});
