/** Where the real services live in tests; overridable for other machines. */
export const TEST_PG_ADMIN_URL =
  process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where initdb and pg_ctl are, for tests that run a PostgreSQL cluster of their own. */
export const TEST_PG_BIN_DIR = process.env.TEST_PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
