import type { Readable } from 'node:stream';

/**
 * Where encrypted file contents live. Blobs are immutable and named by the caller (a server-made
 * id, never a file name): put once, read any number of times, delete. The shape is that of an
 * object store, so an S3-compatible implementation (multipart upload for put, ranged GetObject,
 * HeadObject, DeleteObject) can stand in for the local disk without changing callers.
 */
export interface BlobStore {
  /** Stores the whole body under `id`, or nothing: a failed or aborted body leaves no blob. BlobExistsError if `id` is taken. */
  put(id: string, body: Readable | AsyncIterable<Uint8Array>): Promise<BlobInfo>;
  /** The blob's bytes (optionally bytes start..end, inclusive, like an HTTP range). BlobNotFoundError if absent. */
  get(id: string, range?: ByteRange): Promise<Readable>;
  /** Size and creation time, or undefined if there is no such blob. */
  stat(id: string): Promise<BlobInfo | undefined>;
  /** True if a blob was removed, false if there was none. */
  delete(id: string): Promise<boolean>;
}

export type BlobInfo = { id: string; size: number; createdAt: Date };
export type ByteRange = { start: number; end?: number };

/** Letters, digits, '-' and '_' (valid as an S3 key and a file name everywhere; no path tricks). */
const BLOB_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function assertBlobId(id: string): void {
  if (typeof id !== 'string' || !BLOB_ID.test(id))
    throw new BlobStoreError(
      'blob_id_invalid',
      'blob id must be 1-128 letters, digits, - or _, starting with a letter or digit',
    );
}

export type BlobStoreErrorCode = 'blob_id_invalid' | 'blob_not_found' | 'blob_exists' | 'range_invalid';

export class BlobStoreError extends Error {
  constructor(
    readonly code: BlobStoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BlobStoreError';
  }
}
