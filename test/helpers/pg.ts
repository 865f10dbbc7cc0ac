import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { TEST_PG_ADMIN_URL } from './env.ts';

/** A fresh PostgreSQL database for one test file; drop() removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `carecall_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(TEST_PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(TEST_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = postgres(TEST_PG_ADMIN_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
