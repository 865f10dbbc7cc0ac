import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { link, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertBlobId, type BlobInfo, type BlobStore, BlobStoreError, type ByteRange } from './blob-store.ts';

/** Leftovers of puts interrupted by a crash are removed once this old (a live put is never that slow to start). */
const STALE_TEMP_MS = 24 * 3600_000;

/**
 * Blobs as files under `root`: objects/<first two characters>/<id>, written first to tmp/ and
 * then hard-linked into place, which is atomic and refuses an existing name, so a reader sees a
 * blob whole or not at all, and two puts of one id cannot overwrite each other. The file and its
 * directory are fsynced before put() resolves.
 */
export class LocalDiskBlobStore implements BlobStore {
  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<LocalDiskBlobStore> {
    const store = new LocalDiskBlobStore(root);
    await mkdir(store.#tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(join(root, 'objects'), { recursive: true, mode: 0o700 });
    await store.sweepTemp(STALE_TEMP_MS);
    return store;
  }

  get #tmpDir(): string {
    return join(this.root, 'tmp');
  }

  #path(id: string): string {
    assertBlobId(id);
    return join(this.root, 'objects', id.slice(0, 2), id);
  }

  async put(id: string, body: Readable | AsyncIterable<Uint8Array>): Promise<BlobInfo> {
    const target = this.#path(id);
    if (await exists(target)) throw exists_(id);
    const tmp = join(this.#tmpDir, `${id}.${randomBytes(6).toString('hex')}.part`);
    const file = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      try {
        // The stream closes the handle when done (pipeline waits for that 'close').
        await pipeline(body, file.createWriteStream({ highWaterMark: 256 * 1024 }));
      } finally {
        await file.close().catch(() => {});
      }
      await syncFile(tmp);
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      try {
        await link(tmp, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw exists_(id);
        throw err;
      }
      await syncDir(dirname(target));
    } finally {
      await unlink(tmp).catch(() => {});
    }
    return (await this.stat(id))!;
  }

  async get(id: string, range?: ByteRange): Promise<Readable> {
    const file = await open(this.#path(id), 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? notFound(id) : err;
    });
    try {
      const { size } = await file.stat();
      if (
        range &&
        !(
          Number.isSafeInteger(range.start) &&
          range.start >= 0 &&
          range.start < Math.max(size, 1) &&
          (range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start))
        )
      ) {
        throw new BlobStoreError(
          'range_invalid',
          `range ${range.start}-${range.end ?? ''} does not fit a blob of ${size} bytes`,
        );
      }
      // The open handle keeps the bytes readable even if the blob is deleted meanwhile.
      if (size === 0) return file.createReadStream();
      return file.createReadStream({
        start: range?.start,
        end: range?.end === undefined ? undefined : Math.min(range.end, size - 1),
        highWaterMark: 256 * 1024,
      });
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  async stat(id: string): Promise<BlobInfo | undefined> {
    let s: Stats;
    try {
      s = await stat(this.#path(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return { id, size: s.size, createdAt: s.birthtimeMs > 0 ? s.birthtime : s.mtime };
  }

  async delete(id: string): Promise<boolean> {
    try {
      await unlink(this.#path(id));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Removes temp files of puts that never finished (a crash), older than `olderThanMs`; returns how many. */
  async sweepTemp(olderThanMs: number): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.#tmpDir)) {
      const path = join(this.#tmpDir, name);
      const s = await stat(path).catch(() => undefined);
      if (
        s &&
        Date.now() - s.mtimeMs >= olderThanMs &&
        (await unlink(path).then(
          () => true,
          () => false,
        ))
      )
        removed++;
    }
    return removed;
  }
}

const notFound = (id: string) => new BlobStoreError('blob_not_found', `no blob ${id}`);
const exists_ = (id: string) => new BlobStoreError('blob_exists', `blob ${id} exists already`);
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** fsync through a new descriptor: the data is on disk before the blob becomes visible. */
const syncFile = (path: string) => syncPath(path, 'r+');
const syncDir = (dir: string) => syncPath(dir, 'r');

async function syncPath(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
