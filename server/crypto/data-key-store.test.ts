import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import sodium from 'libsodium-wrappers-sumo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DbHandle } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { dataKeys } from '../../db/schema/data-keys.ts';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { DataKeyStore } from './data-key-store.ts';
import { DecryptionError, KeyUnavailableError } from './errors.ts';
import { type Kek, KekRing } from './kek-ring.ts';
import { MessageSealer } from './message-sealer.ts';

const kek = (version: number): Kek => ({ version, key: randomBytes(32) });
const unique = (prefix: string) => `${prefix}:${randomBytes(6).toString('hex')}`;

describe.each(ENGINES)('data keys on %s', (engine) => {
  let db: Awaited<ReturnType<typeof openTestEngine>>;
  let handle: DbHandle;
  beforeAll(async () => {
    await sodium.ready;
    db = await openTestEngine(engine);
    handle = db.handle;
  });
  afterAll(() => db?.close());

  const store = (ring: KekRing, cacheSize?: number) => new DataKeyStore(handle.db, ring, { cacheSize });

  it('creates one key per scope, stored wrapped, and a fresh process unwraps the same key', async () => {
    const ring = new KekRing(kek(1));
    const scope = unique('conversation');
    const first = await store(ring).keyForScope(scope);
    const again = await store(ring).keyForScope(scope);
    expect(Buffer.from(again.key)).toEqual(Buffer.from(first.key));
    expect(again.id).toBe(first.id);
    const [row] = await handle.db.select().from(dataKeys).where(eq(dataKeys.scope, scope));
    expect(row!.kekVersion).toBe(1);
    expect(row!.wrappedKey.length).toBe(1 + 24 + 32 + 16);
    expect(Buffer.from(row!.wrappedKey).includes(Buffer.from(first.key))).toBe(false);
    expect(Buffer.from(await store(ring).keyById(first.id, scope))).toEqual(Buffer.from(first.key));
  });

  it('concurrent first uses of a scope, in one process and across two, end with one key', async () => {
    const ring = new KekRing(kek(1));
    const scope = unique('conversation');
    const a = store(ring);
    const b = store(ring);
    const keys = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).keyForScope(scope)));
    expect(new Set(keys.map((k) => k.id)).size).toBe(1);
    expect(new Set(keys.map((k) => Buffer.from(k.key).toString('hex'))).size).toBe(1);
    const [{ n }] = rowsOf<{ n: number }>(
      await handle.db.execute(sql`select count(*)::int as n from data_keys where scope = ${scope}`),
    ) as [{ n: number }];
    expect(n).toBe(1);
  });

  it('keeps at most cacheSize keys unwrapped and still serves evicted ones', async () => {
    const s = store(new KekRing(kek(1)), 2);
    const sealer = new MessageSealer(s);
    const scopes = Array.from({ length: 6 }, () => unique('record'));
    const sealed = await Promise.all(scopes.map((scope) => sealer.seal(scope, 'r1', `body of ${scope}`)));
    expect(s.cachedKeys).toBeLessThanOrEqual(2);
    for (const [i, scope] of scopes.entries())
      expect(await sealer.openText(scope, 'r1', sealed[i]!)).toBe(`body of ${scope}`);
    expect(s.cachedKeys).toBeLessThanOrEqual(2);
  });

  it('a wrong KEK for the version is data_key_invalid; a version not configured is kek_unavailable', async () => {
    const scope = unique('conversation');
    const { id } = await store(new KekRing(kek(1))).keyForScope(scope);
    await expect(store(new KekRing(kek(1))).keyById(id, scope)).rejects.toMatchObject({
      name: 'DecryptionError',
      code: 'data_key_invalid',
    });
    await expect(store(new KekRing(kek(2))).keyById(id, scope)).rejects.toBeInstanceOf(KeyUnavailableError);
    await expect(store(new KekRing(kek(2))).keyForScope(scope)).rejects.toMatchObject({
      code: 'kek_unavailable',
      kekVersion: 1,
    });
  });

  it('an altered row does not unwrap: flipped byte, relabelled version, wrapped key copied from another scope', async () => {
    const one = kek(1);
    const two = kek(2);
    const ring = new KekRing(one, [two]);
    const [a, b, c] = [unique('conversation'), unique('conversation'), unique('conversation')];
    const keys = await Promise.all([a, b, c].map((s) => store(ring).keyForScope(s)));
    // c gets b's intact wrapped key before b is relabelled: valid bytes, bound to another row.
    await handle.db.execute(
      sql`update data_keys set wrapped_key = (select wrapped_key from data_keys where scope = ${b}) where scope = ${c}`,
    );
    await handle.db.execute(
      sql`update data_keys set wrapped_key = overlay(wrapped_key placing '\\xff'::bytea from 40 for 1) where scope = ${a}`,
    );
    await handle.db.execute(sql`update data_keys set kek_version = 2 where scope = ${b}`);
    for (const [i, scope] of [a, b, c].entries()) {
      const err = await store(ring)
        .keyById(keys[i]!.id, scope)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DecryptionError);
      expect((err as DecryptionError).code).toBe('data_key_invalid');
    }
  });

  it('a key id of another scope, or of no key, is ciphertext_invalid', async () => {
    const s = store(new KekRing(kek(1)));
    const mine = await s.keyForScope(unique('conversation'));
    await expect(s.keyById(mine.id, unique('conversation'))).rejects.toMatchObject({
      code: 'ciphertext_invalid',
    });
    await expect(store(new KekRing(kek(1))).keyById(mine.id, unique('conversation'))).rejects.toMatchObject({
      code: 'ciphertext_invalid',
    });
    await expect(
      s.keyById('00000000-0000-4000-8000-000000000000', unique('conversation')),
    ).rejects.toMatchObject({ code: 'ciphertext_invalid' });
  });
});
