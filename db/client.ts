import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { guardedClient } from './guarded-client.ts';
import { registerPipelinedTransaction } from './pipelined-transaction.ts';
import { preparingClient } from './prepared-client.ts';
import { renewingPool } from './renewing-pool.ts';
import * as schema from './schema/index.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** The handle a `db.transaction` callback gets. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface DbHandle {
  readonly db: Db;
  readonly kind: 'postgres' | 'pglite';
  ping(): Promise<void>;
  close(): Promise<void>;
}

const MIGRATIONS = new URL('./migrations', import.meta.url).pathname;
// Any constant works; it only has to be the same on every node sharing the database.
const MIGRATION_LOCK_KEY = 7_265_011;

export type DbOptions = {
  databaseUrl?: string | undefined;
  pgliteDir?: string;
  maxConnections?: number;
  /** PostgreSQL only: how long opening a connection may take. */
  connectTimeoutSeconds?: number;
  /** PostgreSQL only: how long a query (or BEGIN, or COMMIT) may take before the caller gets DatabaseDeadlineError; 0 = no limit. */
  queryTimeoutMs?: number;
};

/** The same defaults as DB_CONNECT_TIMEOUT_SECONDS and DB_QUERY_TIMEOUT_SECONDS (server/config.ts). */
export const DB_DEFAULTS = { connectTimeoutSeconds: 5, queryTimeoutMs: 10_000 } as const;

/** PostgreSQL when a URL is given, embedded PGlite otherwise; migrations applied before returning. */
export async function openDb(opts: DbOptions): Promise<DbHandle> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts) : openPglite(opts.pgliteDir);
}

const STATEMENT_TIMEOUT_MARGIN_MS = 1000;

/**
 * Reconnect delay after a failed attempt, in seconds. postgres-js's default grows to 20 s after a
 * few failures (shared by the whole pool), so once the database was back, requests still waited that
 * long for the next attempt; capped here at half a second.
 */
const reconnectBackoff = (retries: number) => Math.min(0.05 * 2 ** retries, 0.5);

/** postgres-js options of the pool (exported for the tests that pin the driver's defects). */
export function poolOptions(opts: DbOptions) {
  const deadlineMs = opts.queryTimeoutMs ?? DB_DEFAULTS.queryTimeoutMs;
  return {
    max: opts.maxConnections ?? 10,
    onnotice: () => {},
    connect_timeout: opts.connectTimeoutSeconds ?? DB_DEFAULTS.connectTimeoutSeconds,
    backoff: reconnectBackoff,
    // postgres-js would read the server's array types on every new connection, and a failure of that
    // internal query is an unhandled rejection, which ends the process (porsager/postgres#1192, #1223):
    // a connection dropped right after the server came back did that. Array columns are parsed by drizzle.
    fetch_types: false,
    // The server ends a statement that outlived the caller's deadline instead of running on for nobody;
    // a little later than the deadline, so that the caller always gets the typed deadline error.
    ...(deadlineMs > 0
      ? { connection: { statement_timeout: deadlineMs + STATEMENT_TIMEOUT_MARGIN_MS } }
      : {}),
  };
}

async function openPostgres(url: string, opts: DbOptions): Promise<DbHandle> {
  const connectTimeout = opts.connectTimeoutSeconds ?? DB_DEFAULTS.connectTimeoutSeconds;
  const deadlineMs = opts.queryTimeoutMs ?? DB_DEFAULTS.queryTimeoutMs;
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const { migrate } = await import('drizzle-orm/postgres-js/migrator');
  // Nodes starting together must not race on migrations: hold a session advisory lock on one connection.
  const migrator = postgres(url, {
    max: 1,
    onnotice: () => {},
    connect_timeout: connectTimeout,
    fetch_types: false,
  });
  try {
    await migrator`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await migrate(drizzle(migrator), { migrationsFolder: MIGRATIONS });
    await migrator`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } finally {
    await migrator.end();
  }
  const pool = renewingPool((onclose) => postgres(url, { ...poolOptions(opts), onclose }), {
    graceSeconds: Math.max(connectTimeout, Math.ceil(deadlineMs / 1000)),
  });
  const db = drizzle(preparingClient(guardedClient(pool.sql, deadlineMs)), { schema }) as unknown as Db;
  // One more connection, for pipelined transactions only (see registerPipelinedTransaction).
  const pipeline = renewingPool((onclose) => postgres(url, { ...poolOptions(opts), max: 1, onclose }), {
    graceSeconds: Math.max(connectTimeout, Math.ceil(deadlineMs / 1000)),
  });
  // The same value parsers as drizzle set on the pool (timestamps as text, ...).
  Object.assign(pipeline.sql.options.parsers, pool.sql.options.parsers);
  Object.assign(pipeline.sql.options.serializers, pool.sql.options.serializers);
  registerPipelinedTransaction(db, guardedClient(pipeline.sql, deadlineMs));
  return {
    db,
    kind: 'postgres',
    ping: async () => void (await db.execute(sql`select 1`)),
    close: async () => void (await Promise.all([pool.end({ timeout: 5 }), pipeline.end({ timeout: 5 })])),
  };
}

async function openPglite(dir: string | undefined): Promise<DbHandle> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { btree_gist } = await import('@electric-sql/pglite/contrib/btree_gist');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  if (dir && !dir.startsWith('memory://')) {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
  }
  const client = new PGlite({ ...(dir ? { dataDir: dir } : {}), extensions: { btree_gist } });
  const pdb = drizzle(client, { schema });
  await migrate(pdb, { migrationsFolder: MIGRATIONS });
  const db = pdb as unknown as Db;
  return {
    db,
    kind: 'pglite',
    ping: async () => void (await db.execute(sql`select 1`)),
    close: () => client.close(),
  };
}
