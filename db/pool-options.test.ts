import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/helpers/pg.ts';
import { poolOptions } from './client.ts';

/** Runs one query on a fresh connection whose every statement the server cancels after 1 ms; returns what escaped. */
async function firstQueryUnderInstantTimeout(url: string, options: ReturnType<typeof poolOptions>) {
  const escaped: unknown[] = [];
  const note = (err: unknown) => void escaped.push((err as { code?: string }).code ?? err);
  process.on('unhandledRejection', note);
  const client = postgres(url, { ...options, max: 1, connection: { statement_timeout: 1 } });
  try {
    const outcome = await client`select 1 as x`.then(
      () => 'ok',
      (e: { code?: string }) => e.code,
    );
    await new Promise((r) => setTimeout(r, 100));
    return { outcome, escaped };
  } finally {
    process.off('unhandledRejection', note);
    await client.end({ timeout: 0 });
  }
}

describe('the PostgreSQL pool options', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    pg = await createTestDatabase();
  });
  afterAll(async () => {
    await pg.drop();
  });

  it("postgres-js's own array-type query on a new connection fails as an unhandled rejection (the defect; when this fails, upstream fixed it)", async () => {
    const { escaped } = await firstQueryUnderInstantTimeout(pg.url, {
      ...poolOptions({}),
      fetch_types: true,
    });
    expect(escaped).toEqual(['57014']);
  });

  it("ours send no query of the driver's own on a new connection, so nothing can escape from one", async () => {
    expect(await firstQueryUnderInstantTimeout(pg.url, poolOptions({}))).toEqual({
      outcome: 'ok',
      escaped: [],
    });
  });

  it('bound the waits: connect timeout, a reconnect backoff capped at half a second, statement_timeout past the deadline', () => {
    const o = poolOptions({ connectTimeoutSeconds: 3, queryTimeoutMs: 4000 });
    expect(o.connect_timeout).toBe(3);
    expect(Math.max(...[0, 1, 5, 10, 50].map(o.backoff))).toBe(0.5);
    expect(o.connection?.statement_timeout).toBe(5000);
    expect(poolOptions({ queryTimeoutMs: 0 }).connection).toBeUndefined();
  });
});
