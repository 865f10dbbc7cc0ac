import postgres from 'postgres';
import { Redis } from 'ioredis';
import { TEST_PG_ADMIN_URL, TEST_REDIS_URL } from './helpers/env.ts';

/** Fail the run up front, with the reason, if the real services the tests need are not there. */
export default async function setup() {
  const sql = postgres(TEST_PG_ADMIN_URL, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (err) {
    throw new Error(`PostgreSQL not reachable at ${TEST_PG_ADMIN_URL}: ${(err as Error).message}`);
  } finally {
    await sql.end();
  }
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis not reachable at ${TEST_REDIS_URL}: ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
}
