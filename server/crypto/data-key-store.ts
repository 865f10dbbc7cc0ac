import { randomUUID } from 'node:crypto';
import { and, asc, eq, gt, ne, sql } from 'drizzle-orm';
import sodium from 'libsodium-wrappers-sumo';
import type { Db } from '../../db/client.ts';
import { dataKeys } from '../../db/schema/data-keys.ts';
import { assertId } from './encoding.ts';
import { DecryptionError, KeyUnavailableError } from './errors.ts';
import { KeyCache } from './key-cache.ts';
import type { KekRing } from './kek-ring.ts';

export type DataKey = { id: string; key: Uint8Array };

export type RewrapResult = {
  /** Data keys now wrapped under the current KEK version by this run. */
  rewrapped: number;
  /** Keys that could not be unwrapped (their KEK version is not configured, or the wrapped key does not open). */
  failed: { id: string; kekVersion: number; code: 'kek_unavailable' | 'data_key_invalid' }[];
  /** Keys still under another version after the run (failed ones, and any created under an old KEK meanwhile). */
  remaining: number;
};

export const DEFAULT_REWRAP_BATCH = 500;

/**
 * Per-scope data keys (one per conversation, record, ...): created on first use, stored wrapped by
 * the KEK ring, kept unwrapped in a bounded cache. Safe with several nodes on one database: the
 * scope is unique, and a node that loses the race to create a scope's key uses the winner's.
 */
export class DataKeyStore {
  readonly #cache: KeyCache;
  readonly #creating = new Map<string, Promise<DataKey>>();

  constructor(
    private readonly db: Db,
    readonly ring: KekRing,
    opts: { cacheSize?: number } = {},
  ) {
    this.#cache = new KeyCache(opts.cacheSize ?? 10_000);
  }

  get cachedKeys(): number {
    return this.#cache.size;
  }

  /** The scope's data key, created (and stored wrapped) if the scope has none yet. */
  async keyForScope(scope: string): Promise<DataKey> {
    assertId('scope', scope);
    const cached = this.#cache.byScope(scope);
    if (cached) return cached;
    let pending = this.#creating.get(scope);
    if (!pending) {
      pending = this.#loadOrCreate(scope).finally(() => this.#creating.delete(scope));
      this.#creating.set(scope, pending);
    }
    return pending;
  }

  /**
   * The data key an envelope names, only if it belongs to `scope`: a value sealed in another scope
   * (or naming no key at all) is ciphertext_invalid, exactly as if its bytes had been altered.
   */
  async keyById(id: string, scope: string): Promise<Uint8Array> {
    assertId('scope', scope);
    const cached = this.#cache.byId(id);
    if (cached) {
      if (cached.scope !== scope) throw foreign();
      return cached.key;
    }
    await sodium.ready;
    const [row] = await this.db.select().from(dataKeys).where(eq(dataKeys.id, id));
    if (!row || row.scope !== scope) throw foreign();
    return this.#remember(row).key;
  }

  /**
   * Re-wraps every data key that is not under the current KEK version, in batches of one
   * transaction each (rows locked by a concurrent run are skipped, not waited for). Online: readers
   * holding either version keep working, the data keys themselves do not change.
   */
  async rewrapAll(
    opts: { batchSize?: number; onBatch?: (done: number) => void } = {},
  ): Promise<RewrapResult> {
    await sodium.ready;
    const batchSize = opts.batchSize ?? DEFAULT_REWRAP_BATCH;
    const current = this.ring.current.version;
    const result: RewrapResult = { rewrapped: 0, failed: [], remaining: 0 };
    let after = '';
    for (;;) {
      const batch = await this.db.transaction(async (tx) => {
        const rows = await tx
          .select()
          .from(dataKeys)
          .where(and(ne(dataKeys.kekVersion, current), gt(dataKeys.id, after)))
          .orderBy(asc(dataKeys.id))
          .limit(batchSize)
          .for('update', { skipLocked: true });
        for (const row of rows) {
          let dek: Uint8Array;
          try {
            dek = this.ring.unwrap(row.wrappedKey, row.kekVersion, row.id, row.scope);
          } catch (err) {
            if (!(err instanceof KeyUnavailableError || err instanceof DecryptionError)) throw err;
            result.failed.push({
              id: row.id,
              kekVersion: row.kekVersion,
              code: err instanceof KeyUnavailableError ? 'kek_unavailable' : 'data_key_invalid',
            });
            continue;
          }
          const wrapped = this.ring.wrap(dek, row.id, row.scope);
          sodium.memzero(dek);
          await tx
            .update(dataKeys)
            .set(wrapped)
            .where(and(eq(dataKeys.id, row.id), eq(dataKeys.kekVersion, row.kekVersion)));
          result.rewrapped++;
        }
        return rows;
      });
      if (batch.length === 0) break;
      after = batch[batch.length - 1]!.id;
      opts.onBatch?.(result.rewrapped);
    }
    result.remaining = (await this.countByKekVersion())
      .filter((v) => v.kekVersion !== current)
      .reduce((n, v) => n + v.count, 0);
    return result;
  }

  /** How many data keys each KEK version wraps: an old version can leave the configuration at 0. */
  async countByKekVersion(): Promise<{ kekVersion: number; count: number }[]> {
    const rows = await this.db
      .select({ kekVersion: dataKeys.kekVersion, count: sql<number>`count(*)::int` })
      .from(dataKeys)
      .groupBy(dataKeys.kekVersion)
      .orderBy(asc(dataKeys.kekVersion));
    return rows.map((r) => ({ kekVersion: r.kekVersion, count: Number(r.count) }));
  }

  async #loadOrCreate(scope: string): Promise<DataKey> {
    await sodium.ready;
    const [existing] = await this.db.select().from(dataKeys).where(eq(dataKeys.scope, scope));
    if (existing) return this.#remember(existing);
    const id = randomUUID();
    const dek = sodium.crypto_aead_xchacha20poly1305_ietf_keygen();
    const inserted = await this.db
      .insert(dataKeys)
      .values({ id, scope, ...this.ring.wrap(dek, id, scope) })
      .onConflictDoNothing({ target: dataKeys.scope })
      .returning({ id: dataKeys.id });
    if (inserted.length === 1) return this.#cacheKey(id, scope, dek);
    // Another node created the scope's key between our read and our insert.
    const [winner] = await this.db.select().from(dataKeys).where(eq(dataKeys.scope, scope));
    if (!winner) throw new Error(`data key of scope ${scope} vanished while being created`);
    return this.#remember(winner);
  }

  #remember(row: typeof dataKeys.$inferSelect): DataKey {
    return this.#cacheKey(
      row.id,
      row.scope,
      this.ring.unwrap(row.wrappedKey, row.kekVersion, row.id, row.scope),
    );
  }

  #cacheKey(id: string, scope: string, key: Uint8Array): DataKey {
    const entry = { id, scope, key };
    this.#cache.add(entry);
    return entry;
  }
}

const foreign = () => new DecryptionError('ciphertext_invalid', 'the value was not sealed in this scope');
