import { randomBytes } from 'node:crypto';
import sodium from 'libsodium-wrappers-sumo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DbHandle } from '../../db/client.ts';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { DataKeyStore } from './data-key-store.ts';
import { type Kek, KekRing } from './kek-ring.ts';
import { MessageSealer } from './message-sealer.ts';

const kek = (version: number): Kek => ({ version, key: randomBytes(32) });

describe.each(ENGINES)('KEK rotation on %s', (engine) => {
  let db: Awaited<ReturnType<typeof openTestEngine>>;
  let handle: DbHandle;
  // A database of its own per test: re-wrap runs over every key in it.
  beforeEach(async () => {
    await sodium.ready;
    db = await openTestEngine(engine);
    handle = db.handle;
  });
  afterEach(() => db?.close());

  /** A node as configured by DATA_KEK / DATA_KEK_PREVIOUS (a fresh one: nothing cached). */
  const node = (current: Kek, previous: Kek[] = []) => {
    const keys = new DataKeyStore(handle.db, new KekRing(current, previous));
    return { keys, sealer: new MessageSealer(keys) };
  };

  it('values sealed before, during and after a rotation stay readable once the old KEK is gone', async () => {
    const v1 = kek(1);
    const v2 = kek(2);
    type Sealed = { scope: string; recordId: string; text: string; envelope: Uint8Array };
    const written: Sealed[] = [];
    const write = async (n: { sealer: MessageSealer }, scope: string, i: number) => {
      const text = `message ${i} in ${scope}: ${randomBytes(8).toString('hex')}`;
      written.push({ scope, recordId: `m${i}`, text, envelope: await n.sealer.seal(scope, `m${i}`, text) });
    };
    const readAll = async (n: { sealer: MessageSealer }) =>
      Promise.all(written.map((w) => n.sealer.openText(w.scope, w.recordId, w.envelope)));

    // Before: 25 conversations under v1.
    const before = node(v1);
    for (let i = 0; i < 25; i++) await write(before, `conversation:before-${i}`, i);

    // Rolling deploy, first step: every node can read v2 before any node writes with it.
    const reading = node(v1, [v2]);
    expect(await readAll(reading)).toEqual(written.map((w) => w.text));

    // Second step: v2 is current, v1 kept for reading; new conversations are wrapped under v2.
    const during = node(v2, [v1]);
    for (let i = 25; i < 35; i++) await write(during, `conversation:during-${i}`, i);
    expect(await during.keys.countByKekVersion()).toEqual([
      { kekVersion: 1, count: 25 },
      { kekVersion: 2, count: 10 },
    ]);

    // Re-wrap online in batches of 4, while the old-config node and the new one keep sealing and opening.
    const batches: number[] = [];
    const concurrent = (async () => {
      for (let i = 35; i < 45; i++) {
        await write(i % 2 ? during : reading, `conversation:meanwhile-${i}`, i);
        await readAll(i % 2 ? reading : during);
      }
    })();
    const result = await during.keys.rewrapAll({ batchSize: 4, onBatch: (done) => batches.push(done) });
    await concurrent;
    expect(result.failed).toEqual([]);
    expect(batches.length).toBeGreaterThanOrEqual(7);
    // The node still configured with v1 current wrapped its new keys under v1 meanwhile: a second pass takes them.
    const second = await during.keys.rewrapAll({ batchSize: 4 });
    expect(second).toMatchObject({ failed: [], remaining: 0 });
    expect(result.rewrapped + second.rewrapped).toBe(25 + 5);
    expect(await during.keys.countByKekVersion()).toEqual([{ kekVersion: 2, count: 45 }]);

    // After: v1 removed from configuration. Everything, sealed before, during and after, still opens.
    const after = node(v2);
    await write(after, 'conversation:after', 45);
    expect(await readAll(after)).toEqual(written.map((w) => w.text));
    // And a node still holding only v1 can no longer unwrap anything: the old KEK is really retired.
    await expect(
      node(v1).sealer.openText(written[0]!.scope, written[0]!.recordId, written[0]!.envelope),
    ).rejects.toMatchObject({ code: 'kek_unavailable' });
  });

  it('a key whose KEK version is not configured is reported and skipped; the rest are re-wrapped', async () => {
    const lost = kek(7);
    const v8 = kek(8);
    const v9 = kek(9);
    const { id: lostId } = await node(lost).keys.keyForScope('record:lost-kek');
    for (let i = 0; i < 3; i++) await node(v8).keys.keyForScope(`record:kept-${i}`);
    const result = await node(v9, [v8]).keys.rewrapAll({ batchSize: 2 });
    expect(result).toEqual({
      rewrapped: 3,
      failed: [{ id: lostId, kekVersion: 7, code: 'kek_unavailable' }],
      remaining: 1,
    });
  });
});
