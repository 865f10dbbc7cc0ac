import { PassThrough, Readable } from 'node:stream';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import { DecryptionError, encryptedSize, type FileCipher } from '../crypto/index.ts';
import { conversationScope } from '../messaging/scope.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { partRecordId } from './part-writer.ts';

type Part = { idx: number; plainOffset: number; plainSize: number; blobId: string };
export type Download = { stream: Readable; type: string; size: number };

/**
 * The file's plaintext, part after part, each decrypted as it streams (about two chunks in
 * memory). Before anything is sent: every part's blob has the size its plaintext implies (a cut
 * or extended blob is refused whole) and the first chunk has been authenticated, so a tampered
 * file gives a typed error, not a response. Altered bytes further in end the stream with an error:
 * the client sees a broken transfer (shorter than Content-Length), never wrong bytes as the file.
 */
export async function openDownload(
  file: { id: string; conversationId: string; size: number; declaredType: string },
  parts: Part[],
  deps: { blobs: BlobStore; cipher: FileCipher },
): Promise<Download> {
  let expected = 0;
  for (const p of parts) {
    if (p.plainOffset !== expected) throw unreadable();
    expected += p.plainSize;
    const info = await deps.blobs.stat(p.blobId);
    if (!info || info.size !== encryptedSize(p.plainSize)) throw unreadable();
  }
  if (expected !== file.size) throw unreadable();
  const scope = conversationScope(file.conversationId);
  const plain = async function* (): AsyncGenerator<Uint8Array> {
    for (const p of parts) {
      const source = await deps.blobs.get(p.blobId);
      const decrypt = deps.cipher.decryptStream(scope, partRecordId(file.id, p.idx));
      source.on('error', (err) => decrypt.destroy(err));
      decrypt.on('close', () => source.destroy());
      yield* source.pipe(decrypt) as AsyncIterable<Uint8Array>;
    }
  };
  const iterator = plain();
  let first: IteratorResult<Uint8Array>;
  try {
    first = await iterator.next();
  } catch (err) {
    throw err instanceof DecryptionError ? unreadable() : err;
  }
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  if (!first.done) out.write(first.value);
  Readable.from(iterator)
    .on('error', (err) => out.destroy(err))
    .pipe(out);
  return { stream: out, type: file.declaredType, size: file.size };
}

const unreadable = () =>
  new ProblemError(
    500,
    PROBLEM.fileUnreadable,
    'the stored file failed its integrity check: nothing is served',
  );
