import { openDb, type DbHandle } from '../../db/client.ts';
import { createTestDatabase } from './pg.ts';

export const ENGINES = ['postgres', 'pglite'] as const;
export type Engine = (typeof ENGINES)[number];

/** A migrated database of either engine for one test file: its own PostgreSQL database, or an in-memory PGlite. */
export async function openTestEngine(
  engine: Engine,
  opts: { maxConnections?: number } = {},
): Promise<{ handle: DbHandle; url: string | undefined; close: () => Promise<void> }> {
  if (engine === 'pglite') {
    const handle = await openDb({ pgliteDir: 'memory://' });
    return { handle, url: undefined, close: () => handle.close() };
  }
  const database = await createTestDatabase();
  const handle = await openDb({ databaseUrl: database.url, maxConnections: opts.maxConnections ?? 4 });
  return {
    handle,
    url: database.url,
    close: async () => {
      await handle.close();
      await database.drop();
    },
  };
}
