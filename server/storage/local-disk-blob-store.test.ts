import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobStoreError } from './blob-store.ts';
import { LocalDiskBlobStore } from './local-disk-blob-store.ts';

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of stream) parts.push(p as Buffer);
  return Buffer.concat(parts);
}

/** A body that sends `good` bytes and then fails, as a dropped upload does. */
function failingBody(good: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(good);
      } else setImmediate(() => this.destroy(new Error('client went away')));
    },
  });
}

describe('local-disk blob store', () => {
  let dir: string;
  let store: LocalDiskBlobStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carecall-blobstore-'));
    store = await LocalDiskBlobStore.open(dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (err: unknown) => (err instanceof BlobStoreError ? err.code : err),
    );

  it('put, stat, get, delete', async () => {
    const body = randomBytes(700_000);
    const info = await store.put('b1', Readable.from([body.subarray(0, 1000), body.subarray(1000)]));
    expect(info).toMatchObject({ id: 'b1', size: body.length });
    expect(info.createdAt).toBeInstanceOf(Date);
    expect(await store.stat('b1')).toMatchObject({ id: 'b1', size: body.length });
    expect((await readAll(await store.get('b1'))).equals(body)).toBe(true);
    expect(await store.delete('b1')).toBe(true);
    expect(await store.delete('b1')).toBe(false);
    expect(await store.stat('b1')).toBeUndefined();
    expect(await codeOf(store.get('b1'))).toBe('blob_not_found');
  });

  it('an empty blob, and an async iterable as the body', async () => {
    await store.put('empty', Readable.from([]));
    expect((await readAll(await store.get('empty'))).length).toBe(0);
    async function* gen() {
      yield new Uint8Array([1, 2]);
      yield new Uint8Array([3]);
    }
    await store.put('gen', gen());
    expect([...(await readAll(await store.get('gen')))]).toEqual([1, 2, 3]);
  });

  it('ranges: start..end inclusive, clipped at the end; a start past the end is range_invalid', async () => {
    await store.put('r', Readable.from([Buffer.from('0123456789')]));
    expect((await readAll(await store.get('r', { start: 2, end: 4 }))).toString()).toBe('234');
    expect((await readAll(await store.get('r', { start: 7 }))).toString()).toBe('789');
    expect((await readAll(await store.get('r', { start: 8, end: 100 }))).toString()).toBe('89');
    for (const range of [{ start: 10 }, { start: -1 }, { start: 5, end: 4 }, { start: 1.5 }])
      expect(await codeOf(store.get('r', range))).toBe('range_invalid');
  });

  it('refuses ids that could leave the store or are not portable', async () => {
    for (const id of ['../escape', 'a/b', '', '.hidden', 'x'.repeat(129), 'name with space', 'ü']) {
      expect(await codeOf(store.put(id, Readable.from([Buffer.from('x')])))).toBe('blob_id_invalid');
      expect(await codeOf(store.get(id))).toBe('blob_id_invalid');
      expect(await codeOf(store.stat(id))).toBe('blob_id_invalid');
      expect(await codeOf(store.delete(id))).toBe('blob_id_invalid');
    }
  });

  it('never overwrites: a second put of an id is blob_exists and the first content stays', async () => {
    await store.put('same', Readable.from([Buffer.from('first')]));
    expect(await codeOf(store.put('same', Readable.from([Buffer.from('second')])))).toBe('blob_exists');
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        store.put('race', Readable.from([Buffer.from(`writer ${i} `.repeat(10_000))])),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(
      results
        .filter((r) => r.status === 'rejected')
        .map((r) => ((r as PromiseRejectedResult).reason as BlobStoreError).code),
    ).toEqual(Array(7).fill('blob_exists'));
    const winner = (await readAll(await store.get('race'))).toString();
    expect(winner).toMatch(/^(writer \d )+$/);
    expect(
      new Set(
        winner
          .trim()
          .split(' ')
          .filter((w) => w !== 'writer'),
      ).size,
    ).toBe(1);
    expect((await store.get('same').then(readAll)).toString()).toBe('first');
  });

  it('a body that fails half-way leaves no blob and no temp file', async () => {
    await expect(store.put('dropped', failingBody(randomBytes(300_000)))).rejects.toThrow('client went away');
    expect(await store.stat('dropped')).toBeUndefined();
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    // The id is still free for a complete retry.
    await store.put('dropped', Readable.from([Buffer.from('retry')]));
    expect((await store.get('dropped').then(readAll)).toString()).toBe('retry');
  });

  it('a blob is invisible while it is being written', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow() {
      yield Buffer.from('part one ');
      await gate;
      yield Buffer.from('part two');
    }
    const writing = store.put('slow', slow());
    await new Promise((r) => setTimeout(r, 50));
    expect(await store.stat('slow')).toBeUndefined();
    expect(await codeOf(store.get('slow'))).toBe('blob_not_found');
    release();
    await writing;
    expect((await store.get('slow').then(readAll)).toString()).toBe('part one part two');
  });

  it('a reader that opened a blob keeps its bytes when the blob is deleted meanwhile', async () => {
    await store.put('held', Readable.from([Buffer.from('still here')]));
    const reading = await store.get('held');
    await store.delete('held');
    expect((await readAll(reading)).toString()).toBe('still here');
  });

  it('opening the store sweeps temp files left by a crash, and only old ones', async () => {
    const old = join(dir, 'tmp', 'crashed.abc.part');
    const young = join(dir, 'tmp', 'inflight.def.part');
    await writeFile(old, 'partial');
    await writeFile(young, 'partial');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await utimes(old, twoDaysAgo, twoDaysAgo);
    await LocalDiskBlobStore.open(dir);
    await expect(stat(old)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await stat(young)).size).toBe(7);
  });
});
